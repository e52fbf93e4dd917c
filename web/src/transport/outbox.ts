/**
 * The outbox: messages not yet acknowledged by the server, kept in IndexedDB so that a message
 * typed offline (or before a reload) goes out on reconnect, with its client message id, once.
 */

import { openKeyValueDb, type KeyValueDb } from "@/storage/idb";

export interface OutboxEntry {
  readonly clientMsgId: string;
  readonly conversationId: string;
  readonly body: string;
  readonly createdAt: number;
  readonly failed: boolean;
  /** Why a failed message was not sent, when the reader should know (it could not be stored). */
  readonly reason?: string;
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
