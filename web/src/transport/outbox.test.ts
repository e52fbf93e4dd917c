import "fake-indexeddb/auto";

import { afterEach, describe, expect, it, vi } from "vitest";

import { IndexedDbOutbox, type OutboxEntry } from "@/transport/outbox";

const ROOM = "0b5f6a1e-3d4c-4e8a-9a51-6f2f5b8d2c11";

function entry(id: string, body: string, createdAt: number, failed = false): OutboxEntry {
  return { clientMsgId: id.repeat(32), conversationId: ROOM, body, createdAt, failed };
}

/** Settles as the promise does, or rejects with "hung" if it has not within `ms`. */
function within<T>(promise: Promise<T>, ms = 1000): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => setTimeout(() => {
      reject(new Error("hung"));
    }, ms)),
  ]);
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("IndexedDbOutbox", () => {
  it("keeps entries across instances (a reload), in creation order, until removed", async () => {
    const first = new IndexedDbOutbox("outbox-test");
    await first.put(entry("b", "second", 2));
    await first.put(entry("a", "first", 1));
    const second = new IndexedDbOutbox("outbox-test");
    expect((await second.all()).map((e) => e.body)).toEqual(["first", "second"]);
    await second.remove("a".repeat(32));
    await second.put(entry("b", "second", 2, true));
    expect(await new IndexedDbOutbox("outbox-test").all()).toEqual([entry("b", "second", 2, true)]);
  });

  it("rejects promptly when the write's transaction aborts after the request succeeded (quota)", async () => {
    const outbox = new IndexedDbOutbox("outbox-abort");
    await outbox.put(entry("a", "kept", 1));
    // A quota error surfaces at commit: the request succeeded, then the transaction aborts.
    // (`add` stands in for the real `put`: the key is new.)
    vi.spyOn(IDBObjectStore.prototype, "put").mockImplementation(function (this: IDBObjectStore, ...args) {
      const request = this.add(...args);
      request.addEventListener("success", () => {
        this.transaction.abort();
      });
      return request;
    });
    await expect(within(outbox.put(entry("b", "refused", 2)))).rejects.toThrow(/IndexedDB readwrite failed/);
    vi.restoreAllMocks();
    expect((await outbox.all()).map((e) => e.body)).toEqual(["kept"]);
  });

  it("rejects promptly when the store refuses the write outright", async () => {
    const outbox = new IndexedDbOutbox("outbox-refused");
    vi.spyOn(IDBObjectStore.prototype, "put").mockImplementation(() => {
      throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
    });
    await expect(within(outbox.put(entry("a", "refused", 1)))).rejects.toThrow(/quota/);
    await expect(within(outbox.all())).resolves.toEqual([]);
  });

  it("reads and writes an outbox stored before it moved onto the shared wrapper (inline keys)", async () => {
    await new Promise<void>((resolve, reject) => {
      const request = indexedDB.open("outbox-legacy", 1);
      request.onupgradeneeded = () => {
        const store = request.result.createObjectStore("outbox", { keyPath: "clientMsgId" });
        store.put(entry("a", "from before", 1));
      };
      request.onsuccess = () => {
        request.result.close();
        resolve();
      };
      request.onerror = () => {
        reject(new Error("open failed"));
      };
    });
    const outbox = new IndexedDbOutbox("outbox-legacy");
    await outbox.put(entry("b", "after", 2));
    await outbox.remove("a".repeat(32));
    expect((await outbox.all()).map((e) => e.body)).toEqual(["after"]);
  });
});
