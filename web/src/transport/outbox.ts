/**
 * The outbox: messages not yet acknowledged by the server, kept in IndexedDB so that a message
 * typed offline (or before a reload) goes out on reconnect, with its client message id, once.
 */

import { openKeyValueDb, type KeyValueDb } from "@/storage/idb";
import type { LocalCipher } from "@/storage/local-crypto-store";

export interface OutboxEntry {
  readonly clientMsgId: string;
  readonly conversationId: string;
  readonly body: string;
  readonly createdAt: number;
  readonly failed: boolean;
  /** Why a failed message was not sent, when the reader should know (it could not be stored). */
  readonly reason?: string;
  /** A DM or private group: sent as an envelope, never as `body`. */
  readonly private?: boolean;
  /** The envelope counter given to this message (kept when it is sealed again). */
  readonly counter?: number;
  /** The sealed envelope, once made (sealed again after `stale_key_generation`). */
  readonly envelope?: { readonly generation: number; readonly ciphertext: string };
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

/** On the app's IndexedDB wrapper: a refused write (quota, aborted transaction) rejects. */
export class IndexedDbOutbox implements Outbox {
  readonly #db: Promise<KeyValueDb>;

  constructor(name: string, factory: IDBFactory = indexedDB) {
    this.#db = openKeyValueDb(name, [STORE], factory);
  }

  async all(): Promise<OutboxEntry[]> {
    return sorted(await (await this.#db).getAll<OutboxEntry>(STORE));
  }

  async put(entry: OutboxEntry): Promise<void> {
    await (await this.#db).put(STORE, entry.clientMsgId, entry);
  }

  async remove(clientMsgId: string): Promise<void> {
    await (await this.#db).delete(STORE, clientMsgId);
  }
}

function sorted(entries: OutboxEntry[]): OutboxEntry[] {
  return entries.sort((a, b) => a.createdAt - b.createdAt);
}

/** Shown for a waiting private message whose stored text this browser can no longer read. */
export const UNREADABLE_REASON = "couldn't read it back on this device";

interface SealedEntry extends OutboxEntry {
  /** The text, encrypted under the device-local key (private entries; `body` is then ""). */
  readonly sealedBody?: Uint8Array;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function context(entry: OutboxEntry): string {
  return `outbox\u0000${entry.conversationId}\u0000${entry.clientMsgId}`;
}

/**
 * Private messages never lie in the outbox in the clear: their text is encrypted under the
 * device-local non-extractable key (`LocalCipher`) before it is stored and decrypted when the
 * outbox is loaded. Public-room messages pass through unchanged.
 */
export class EncryptedOutbox implements Outbox {
  readonly #inner: Outbox;
  readonly #cipher: () => Promise<LocalCipher>;

  constructor(inner: Outbox, cipher: () => Promise<LocalCipher>) {
    this.#inner = inner;
    this.#cipher = cipher;
  }

  async all(): Promise<OutboxEntry[]> {
    const out: OutboxEntry[] = [];
    for (const stored of (await this.#inner.all()) as SealedEntry[]) {
      if (stored.private !== true) {
        out.push(stored);
        continue;
      }
      const { sealedBody, ...entry } = stored;
      try {
        if (sealedBody === undefined) throw new Error("no sealed text");
        const text = await (await this.#cipher()).decrypt(new Uint8Array(sealedBody), context(entry));
        out.push({ ...entry, body: decoder.decode(text) });
      } catch {
        out.push({ ...entry, body: "", failed: true, reason: UNREADABLE_REASON });
      }
    }
    return out;
  }

  async put(entry: OutboxEntry): Promise<void> {
    if (entry.private !== true) {
      await this.#inner.put(entry);
      return;
    }
    const sealedBody = await (await this.#cipher()).encrypt(encoder.encode(entry.body), context(entry));
    const stored: SealedEntry = { ...entry, body: "", sealedBody };
    await this.#inner.put(stored);
  }

  remove(clientMsgId: string): Promise<void> {
    return this.#inner.remove(clientMsgId);
  }
}
