import { afterEach, describe, expect, it } from "vitest";

import { ApiError } from "@/api/errors";
import type { UserStore, UserStorePut } from "@/api/types";
import { createAccountKeys } from "@/crypto/account";
import { openContactsStore, sealContactsStore } from "@/crypto/contacts-store";
import { DeviceKey } from "@/crypto/device";
import { b64urlDecode, b64urlEncode, toHex } from "@/crypto/encoding";
import { Secret } from "@/crypto/secret";
import { fetchKeyDirectory, IdentityKeyChanged, keyChanges, type KeyDirectoryOut } from "@/session/contact-keys";
import { type ContactsStoreApi, ContactTrust, mergeVerified } from "@/session/contact-trust";
import type { UnlockedKeys } from "@/session/unlocked-keys";
import { MemoryKeyPins } from "@/storage/key-pins-store";
import { memoryE2eeStore } from "@/storage/local-crypto-store";
import { counterRandom } from "@/test/vectors";

const ME = "0f8e1d2c-3b4a-4596-8877-665544332211";
const BOB = "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d";
const CAROL = "2c8e7ace-ccfe-4c3e-8c6e-bc9ecccd5cfe";
const K1 = "11".repeat(32);
const K2 = "22".repeat(32);

/** The server's side of `/api/v1/keys/stores/contacts`: a blob and a compare-and-swap version. */
class FakeStoreServer implements ContactsStoreApi {
  version = 0;
  blob: string | null = null;
  puts = 0;
  /** Runs once before the next write is decided (another browser writing first). */
  beforePut: (() => void) | null = null;

  contactsStore(): Promise<UserStore> {
    return Promise.resolve({ version: this.version, blob: this.blob });
  }

  putContactsStore(expectedVersion: number, blob: string): Promise<UserStorePut> {
    const before = this.beforePut;
    this.beforePut = null;
    before?.();
    this.puts += 1;
    if (expectedVersion !== this.version) {
      return Promise.reject(new ApiError(409, "store_conflict", "the store changed"));
    }
    this.version += 1;
    this.blob = blob;
    return Promise.resolve({ version: this.version });
  }
}

function keysOf(seed: Uint8Array, userId = ME): UnlockedKeys {
  return { userId, contents: { identitySeed: new Secret(seed) } } as unknown as UnlockedKeys;
}

const SEED = new Uint8Array(32).fill(7);

function browser(server: FakeStoreServer, keys: UnlockedKeys | null = keysOf(SEED), store = memoryE2eeStore(ME)) {
  let current = keys;
  const listeners = new Set<() => void>();
  const trust = new ContactTrust(store, {
    api: server,
    keys: () => current,
    subscribe: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    random: counterRandom(),
    readyTimeoutMs: 1000,
  });
  const unlock = (next: UnlockedKeys) => {
    current = next;
    for (const listener of listeners) listener();
  };
  return { trust, store, unlock };
}

function serverMap(server: FakeStoreServer, seed = SEED): Record<string, string> {
  return openContactsStore(new Secret(seed), ME, server.version, b64urlDecode(server.blob ?? ""));
}

afterEach(() => {
  keyChanges.clear();
});

describe("mergeVerified", () => {
  it("keeps what this browser changed and follows the server elsewhere", () => {
    const base = { [BOB]: K1, [CAROL]: K1 };
    // Here: Carol removed, Dave added. There: Bob removed, Carol re-verified, Erin added.
    const local = { [BOB]: K1, dave: K2 };
    const remote = { [CAROL]: K2, erin: K1 };
    expect(mergeVerified(base, local, remote)).toEqual({ dave: K2, erin: K1 });
    // Without a base (a first sync) it is a union in which local entries win.
    expect(mergeVerified({}, { [BOB]: K1 }, { [BOB]: K2, [CAROL]: K2 })).toEqual({ [BOB]: K1, [CAROL]: K2 });
  });
});

describe("ContactTrust sync with the contacts store", () => {
  it("writes each change to the server and a fresh browser reads it", async () => {
    const server = new FakeStoreServer();
    const first = browser(server);
    await first.trust.ready;
    expect(server.puts).toBe(0); // nothing to write yet
    await first.trust.markVerified(BOB, Uint8Array.from(Buffer.from(K1, "hex")));
    await first.trust.settled();
    expect(server.version).toBe(1);
    expect(serverMap(server)).toEqual({ [BOB]: K1 });

    const fresh = browser(server);
    await fresh.trust.ready;
    expect(fresh.trust.getSnapshot().verified).toEqual({ [BOB]: K1 });
    expect(await fresh.store.loadVerified()).toEqual({ [BOB]: K1 });
    expect(server.puts).toBe(1); // the fresh browser had nothing to add

    await fresh.trust.unmarkVerified(BOB);
    await fresh.trust.settled();
    expect(serverMap(server)).toEqual({});
    // The first browser still has Bob cached; its next sync follows the removal.
    first.unlock(keysOf(SEED));
    await first.trust.settled();
    expect(first.trust.getSnapshot().verified).toEqual({});
  });

  it("uploads verifications made before the store existed, merged with the server's", async () => {
    const server = new FakeStoreServer();
    server.version = 3;
    server.blob = b64urlEncode(sealContactsStore(new Secret(SEED), ME, 3, { [CAROL]: K2 }, counterRandom()));
    const store = memoryE2eeStore(ME);
    await store.saveVerified({ [BOB]: K1 });
    const { trust } = browser(server, keysOf(SEED), store);
    await trust.ready;
    expect(trust.getSnapshot().verified).toEqual({ [BOB]: K1, [CAROL]: K2 });
    expect(server.version).toBe(4);
    expect(serverMap(server)).toEqual({ [BOB]: K1, [CAROL]: K2 });
  });

  it("on store_conflict fetches, merges and writes again", async () => {
    const server = new FakeStoreServer();
    const { trust } = browser(server);
    await trust.ready;
    server.beforePut = () => {
      // Another browser verified Carol meanwhile.
      server.version = 1;
      server.blob = b64urlEncode(sealContactsStore(new Secret(SEED), ME, 1, { [CAROL]: K2 }, counterRandom()));
    };
    await trust.markVerified(BOB, Uint8Array.from(Buffer.from(K1, "hex")));
    await trust.settled();
    expect(server.puts).toBe(2);
    expect(server.version).toBe(2);
    expect(serverMap(server)).toEqual({ [BOB]: K1, [CAROL]: K2 });
    expect(trust.getSnapshot().verified).toEqual({ [BOB]: K1, [CAROL]: K2 });
  });

  it("ignores a blob it cannot open (an account reset) and overwrites it on the next write", async () => {
    const server = new FakeStoreServer();
    server.version = 2;
    const oldSeed = new Uint8Array(32).fill(9);
    server.blob = b64urlEncode(sealContactsStore(new Secret(oldSeed), ME, 2, { [CAROL]: K2 }, counterRandom()));
    const { trust } = browser(server);
    await trust.ready;
    expect(trust.getSnapshot().verified).toEqual({});
    await trust.markVerified(BOB, Uint8Array.from(Buffer.from(K1, "hex")));
    await trust.settled();
    expect(server.version).toBe(3);
    expect(serverMap(server)).toEqual({ [BOB]: K1 });
  });

  it("waits for the keys before syncing, and keeps changes made while locked", async () => {
    const server = new FakeStoreServer();
    const { trust, unlock } = browser(server, null);
    await trust.loaded;
    await trust.markVerified(BOB, Uint8Array.from(Buffer.from(K1, "hex")));
    await trust.settled();
    expect(server.puts).toBe(0);
    unlock(keysOf(SEED));
    await trust.ready;
    await trust.settled();
    expect(serverMap(server)).toEqual({ [BOB]: K1 });
  });

  it("on a fresh browser a verified contact's changed key blocks, from the server's copy", async () => {
    const random = counterRandom();
    const publish = async (): Promise<[Uint8Array, KeyDirectoryOut]> => {
      const device = DeviceKey.generate(random);
      const keys = await createAccountKeys(BOB, new Secret(random(32)), 1, { deviceId: "bob-dev", publicKey: device.publicKey }, random);
      return [
        keys.identity.publicKey,
        {
          user_id: BOB,
          identity_key: b64urlEncode(keys.identity.publicKey),
          keys_version: 1,
          puks: [{ generation: 1, certificate: b64urlEncode(keys.pukCertificate), created_at: 1 }],
          devices: [],
        },
      ];
    };
    const [oldKey] = await publish();
    const [, reset] = await publish(); // Bob reset his account since

    const server = new FakeStoreServer();
    server.version = 1;
    server.blob = b64urlEncode(
      sealContactsStore(new Secret(SEED), ME, 1, { [BOB]: toHex(oldKey) }, counterRandom()),
    );
    const { trust } = browser(server);
    const pins = trust.pinsFor(new MemoryKeyPins(ME));
    const error = await fetchKeyDirectory({ keyDirectory: () => Promise.resolve(reset) }, BOB, pins).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(IdentityKeyChanged);
    expect(await trust.handleKeyChange(error as IdentityKeyChanged)).toBe(false);
    expect(Object.keys(trust.getSnapshot().blocked)).toEqual([BOB]);

    await trust.accept(BOB);
    await trust.settled();
    expect(trust.getSnapshot().blocked).toEqual({});
    expect(serverMap(server)).toEqual({});
    expect(toHex((await pins.get(BOB))?.identityKey ?? new Uint8Array())).toBe(toHex(b64urlDecode(reset.identity_key)));
  });
});
