import { IDBFactory } from "fake-indexeddb";
import { describe, expect, it } from "vitest";

import { unlockedStateStore } from "@/storage/unlocked-state-store";

const ED25519 = { name: "Ed25519" } as const;

async function deviceKeyPair(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(ED25519, false, ["sign", "verify"]);
}

describe("unlocked state store (IndexedDB)", () => {
  it("round-trips the device key pair and the vault key; keys stay non-extractable", async () => {
    const factory = new IDBFactory();
    const store = unlockedStateStore(() => factory);
    expect(await store.load()).toBeNull();

    const pair = await deviceKeyPair();
    const vaultKey = crypto.getRandomValues(new Uint8Array(32));
    await store.save({ userId: "u1", deviceId: "d1", deviceKeyPair: pair, vaultKey });

    // A second store over the same database: what a reload sees.
    const loaded = await unlockedStateStore(() => factory).load();
    expect(loaded?.userId).toBe("u1");
    expect(loaded?.deviceId).toBe("d1");
    expect(Array.from(loaded!.vaultKey!)).toEqual(Array.from(vaultKey));
    expect(loaded!.deviceKeyPair.privateKey.extractable).toBe(false);
    await expect(crypto.subtle.exportKey("pkcs8", loaded!.deviceKeyPair.privateKey)).rejects.toThrow();
    const message = new TextEncoder().encode("still signs");
    const signature = await crypto.subtle.sign(ED25519, loaded!.deviceKeyPair.privateKey, message);
    expect(await crypto.subtle.verify(ED25519, pair.publicKey, signature, message)).toBe(true);
  });

  it("does not store the vault key in the clear", async () => {
    const factory = new IDBFactory();
    const vaultKey = new Uint8Array(32).fill(7);
    await unlockedStateStore(() => factory).save({
      userId: "u1",
      deviceId: "d1",
      deviceKeyPair: await deviceKeyPair(),
      vaultKey,
    });
    const raw = await new Promise<unknown>((resolve, reject) => {
      const open = factory.open("hushroom", 1);
      open.onerror = () => {
        reject(open.error ?? new Error("open failed"));
      };
      open.onsuccess = () => {
        const tx = open.result.transaction("unlocked", "readonly");
        const get = tx.objectStore("unlocked").get("current");
        tx.onerror = () => {
          reject(tx.error ?? new Error("tx failed"));
        };
        tx.oncomplete = () => {
          open.result.close();
          resolve(get.result);
        };
      };
    });
    const record = raw as { wrappedVaultKey: Uint8Array; wrapKey: CryptoKey };
    expect(record.wrapKey.extractable).toBe(false);
    expect(Array.from(record.wrappedVaultKey).join(",")).not.toContain(Array.from(vaultKey).join(","));
  });

  it("replaces the record on save and forgets it on clear", async () => {
    const factory = new IDBFactory();
    const store = unlockedStateStore(() => factory);
    const pair = await deviceKeyPair();
    await store.save({ userId: "u1", deviceId: "d1", deviceKeyPair: pair, vaultKey: new Uint8Array(32) });
    await store.save({ userId: "u2", deviceId: "d2", deviceKeyPair: pair, vaultKey: new Uint8Array(32).fill(1) });
    expect((await store.load())?.userId).toBe("u2");
    await store.clear();
    expect(await store.load()).toBeNull();
  });
});
