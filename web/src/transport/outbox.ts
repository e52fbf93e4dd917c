/**
 * The outbox: messages not yet acknowledged by the server, kept in IndexedDB so that a message
 * typed offline (or before a reload) goes out on reconnect, with its client message id, once.
 */

export interface OutboxEntry {
  readonly clientMsgId: string;
  readonly conversationId: string;
  readonly body: string;
  readonly createdAt: number;
  readonly failed: boolean;
}

export interface Outbox {
  all(): Promise<OutboxEntry[]>;
  put(entry: OutboxEntry): Promise<void>;
  remove(clientMsgId: string): Promise<void>;
}

export class MemoryOutbox implements Outbox {
  readonly #entries = new Map<string, OutboxEntry>();

  all(): Promise<OutboxEntry[]> {
    return Promise.resolve(sorted([...this.#entries.values()]));
  }

  put(entry: OutboxEntry): Promise<void> {
    this.#entries.set(entry.clientMsgId, entry);
    return Promise.resolve();
  }

  remove(clientMsgId: string): Promise<void> {
    this.#entries.delete(clientMsgId);
    return Promise.resolve();
  }
}

const STORE = "outbox";

export class IndexedDbOutbox implements Outbox {
  readonly #db: Promise<IDBDatabase>;

  constructor(name: string, factory: IDBFactory = indexedDB) {
    this.#db = new Promise((resolve, reject) => {
      const request = factory.open(name, 1);
      request.onupgradeneeded = () => {
        request.result.createObjectStore(STORE, { keyPath: "clientMsgId" });
      };
      request.onsuccess = () => {
        resolve(request.result);
      };
      request.onerror = () => {
        reject(request.error ?? new Error("IndexedDB open failed"));
      };
    });
  }

  async #run<T>(mode: IDBTransactionMode, op: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
    const db = await this.#db;
    return new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const request = op(tx.objectStore(STORE));
      tx.oncomplete = () => {
        resolve(request.result);
      };
      tx.onerror = () => {
        reject(tx.error ?? new Error("IndexedDB transaction failed"));
      };
    });
  }

  async all(): Promise<OutboxEntry[]> {
    return sorted(await this.#run<OutboxEntry[]>("readonly", (s) => s.getAll() as IDBRequest<OutboxEntry[]>));
  }

  async put(entry: OutboxEntry): Promise<void> {
    await this.#run("readwrite", (s) => s.put(entry));
  }

  async remove(clientMsgId: string): Promise<void> {
    await this.#run("readwrite", (s) => s.delete(clientMsgId));
  }
}

function sorted(entries: OutboxEntry[]): OutboxEntry[] {
  return entries.sort((a, b) => a.createdAt - b.createdAt);
}
