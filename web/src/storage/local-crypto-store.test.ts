import { IDBFactory } from "fake-indexeddb";
import { describe, expect, it } from "vitest";

import { indexedDbE2eeStore } from "@/storage/local-crypto-store";

const ME = "0f8e1d2c-3b4a-4596-8877-665544332211";
const BOB = "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d";
const DEVICE = "1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed";
const DM = "0b5f6a1e-3d4c-4e8a-9a51-6f2f5b8d2c11";

describe("indexedDbE2eeStore", () => {
  it("hands out counters 1, 2, 3 … that survive a reload and never repeat under concurrency", async () => {
    const factory = new IDBFactory();
    const store = indexedDbE2eeStore(ME, () => factory);
    const first = await Promise.all([1, 2, 3].map(() => store.nextCounter(DEVICE, DM)));
    expect(first.sort()).toEqual([1, 2, 3]);
    const reloaded = indexedDbE2eeStore(ME, () => factory);
    expect(await reloaded.nextCounter(DEVICE, DM)).toBe(4);
    expect(await reloaded.nextCounter(DEVICE, "another-conversation")).toBe(1);
  });

  it("keeps the verified set encrypted under a non-extractable local key", async () => {
    const factory = new IDBFactory();
    const store = indexedDbE2eeStore(ME, () => factory);
    await store.saveVerified({ [BOB]: "ab".repeat(32) });
    expect(await indexedDbE2eeStore(ME, () => factory).loadVerified()).toEqual({ [BOB]: "ab".repeat(32) });

    const raw = await new Promise<unknown[]>((resolve) => {
      const open = factory.open("hushroom-e2ee");
      open.onsuccess = () => {
        const db = open.result;
        const tx = db.transaction(["verified", "local-keys"], "readonly");
        const verified = tx.objectStore("verified").getAll();
        const keys = tx.objectStore("local-keys").getAll();
        tx.oncomplete = () => {
          resolve([...verified.result, ...keys.result]);
          db.close();
        };
      };
    });
    const [sealed, key] = raw as [Uint8Array, CryptoKey];
    expect(new TextDecoder().decode(sealed)).not.toContain(BOB);
    expect(key.extractable).toBe(false);
  });

  it("keeps the server's copy of the verified set (the merge base) beside it, encrypted", async () => {
    const factory = new IDBFactory();
    const store = indexedDbE2eeStore(ME, () => factory);
    expect(await store.loadVerifiedBase()).toBeNull();
    await store.saveVerified({ [BOB]: "ab".repeat(32) });
    await store.saveVerifiedBase({ version: 3, verified: { [BOB]: "cd".repeat(32) } });
    const reloaded = indexedDbE2eeStore(ME, () => factory);
    expect(await reloaded.loadVerifiedBase()).toEqual({ version: 3, verified: { [BOB]: "cd".repeat(32) } });
    expect(await reloaded.loadVerified()).toEqual({ [BOB]: "ab".repeat(32) });
  });

  it("remembers verified device certificates and key-change notices once each", async () => {
    const factory = new IDBFactory();
    const store = indexedDbE2eeStore(ME, () => factory);
    await store.rememberDevice(BOB, DEVICE, { certificate: new Uint8Array([1, 2]), identityKey: new Uint8Array([3]) });
    expect(await store.recallDevice(BOB, DEVICE)).toEqual({
      certificate: new Uint8Array([1, 2]),
      identityKey: new Uint8Array([3]),
    });
    expect(await store.recallDevice(BOB, "other")).toBeNull();
    const notice = { contactUserId: BOB, seenAt: 1, oldKey: "aa", newKey: "bb" };
    await store.addNotice(notice);
    await store.addNotice({ ...notice, seenAt: 2 });
    expect(await store.loadNotices()).toEqual([notice]);
  });
});
