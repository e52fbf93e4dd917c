/**
 * The app's one IndexedDB wrapper (the unlocked-state store and the outbox both use it): one
 * database, key–value object stores, and one promise per transaction. Every transaction settles
 * through `oncomplete`, `onerror` or `onabort`, so a quota error or a browser-aborted transaction
 * rejects instead of hanging.
 */

export interface KeyValueDb {
  get<T>(store: string, key: string): Promise<T | undefined>;
  /** Every value in the store, in key order. */
  getAll<T>(store: string): Promise<T[]>;
  put(store: string, key: string, value: unknown): Promise<void>;
  delete(store: string, key: string): Promise<void>;
  close(): void;
}

function failure(what: string, error: DOMException | null): Error {
  return new Error(`IndexedDB ${what} failed: ${error?.message ?? "aborted"}`);
}

/**
 * Opens on first use and keeps the open database; a failed open is forgotten, so the next call
 * tries again (a transient error must not disable the store for the page's life).
 */
export function lazyKeyValueDb(
  name: string,
  stores: readonly string[],
  factory: () => IDBFactory,
): () => Promise<KeyValueDb> {
  let opening: Promise<KeyValueDb> | null = null;
  return () => {
    opening ??= openKeyValueDb(name, stores, factory()).catch((error: unknown) => {
      opening = null;
      throw error;
    });
    return opening;
  };
}

export function openKeyValueDb(
  name: string,
  stores: readonly string[],
  factory: IDBFactory = indexedDB,
  version = 1,
): Promise<KeyValueDb> {
  return new Promise((resolve, reject) => {
    const request = factory.open(name, version);
    request.onupgradeneeded = () => {
      const db = request.result;
      for (const store of stores) {
        if (!db.objectStoreNames.contains(store)) db.createObjectStore(store);
      }
    };
    request.onerror = () => {
      reject(failure("open", request.error));
    };
    // Another tab holds an older version open: fail rather than wait forever.
    request.onblocked = () => {
      reject(new Error("IndexedDB open blocked by another tab"));
    };
    request.onsuccess = () => {
      const db = request.result;
      // A newer version opened elsewhere: step aside so it can upgrade.
      db.onversionchange = () => {
        db.close();
      };
      resolve(wrap(db));
    };
  });
}

function wrap(db: IDBDatabase): KeyValueDb {
  function run<T>(
    store: string,
    mode: IDBTransactionMode,
    body: (objects: IDBObjectStore) => IDBRequest | null,
  ): Promise<T> {
    return new Promise((resolve, reject) => {
      let tx: IDBTransaction;
      try {
        tx = db.transaction(store, mode);
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      let request: IDBRequest | null = null;
      tx.oncomplete = () => {
        resolve((request?.result ?? undefined) as T);
      };
      tx.onerror = () => {
        reject(failure(mode, tx.error));
      };
      tx.onabort = () => {
        reject(failure(mode, tx.error));
      };
      try {
        request = body(tx.objectStore(store));
      } catch (error) {
        tx.abort();
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  return {
    get: <T>(store: string, key: string) => run<T | undefined>(store, "readonly", (s) => s.get(key)),
    getAll: <T>(store: string) => run<T[]>(store, "readonly", (s) => s.getAll()),
    // A store created with an inline key path (the outbox's, before it moved onto this wrapper)
    // takes the key from the value; passing it again would be refused.
    put: (store, key, value) =>
      run<unknown>(store, "readwrite", (s) => (s.keyPath === null ? s.put(value, key) : s.put(value))).then(
        () => undefined,
      ),
    delete: (store, key) => run<unknown>(store, "readwrite", (s) => s.delete(key)).then(() => undefined),
    close: () => {
      db.close();
    },
  };
}
