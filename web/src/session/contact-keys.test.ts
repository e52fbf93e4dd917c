import { IDBFactory } from "fake-indexeddb";
import { describe, expect, it, vi } from "vitest";

import { createAccountKeys, type AccountKeys } from "@/crypto/account";
import { certifyDevice, DeviceKey } from "@/crypto/device";
import { b64urlEncode, toHex } from "@/crypto/encoding";
import { InvalidSignature } from "@/crypto/errors";
import { IdentityKey } from "@/crypto/identity";
import { certifyPuk, PukKeyPair } from "@/crypto/puk";
import { Secret } from "@/crypto/secret";
import {
  acceptKeyChange,
  activeDevices,
  fetchKeyDirectory,
  IdentityKeyChanged,
  KeyChanges,
  KeyDirectoryInvalid,
  latestPuk,
  type KeyChangeEvent,
  type KeyDirectoryApi,
  type KeyDirectoryOut,
} from "@/session/contact-keys";
import { indexedDbKeyPins, MemoryKeyPins } from "@/storage/key-pins-store";
import { counterRandom } from "@/test/vectors";

const ME = "0f8e1d2c-3b4a-4596-8877-665544332211";
const ALICE = "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d";
const PHONE = "1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed";
const LAPTOP = "2c8e7ace-ccfe-4c3e-8c6e-bc9ecccd5cfe";
const T0 = 1_700_000_000_000;

interface Published {
  readonly keys: AccountKeys;
  readonly wire: KeyDirectoryOut;
}

/** An account as the server would publish it: PUK generation 1, an active and a revoked device. */
async function publish(userId: string, random = counterRandom()): Promise<Published> {
  const phone = DeviceKey.generate(random);
  const keys = await createAccountKeys(
    userId,
    new Secret(random(32)),
    T0,
    { deviceId: PHONE, publicKey: phone.publicKey },
    random,
  );
  const laptop = DeviceKey.generate(random);
  const laptopCert = certifyDevice(keys.identity, userId, LAPTOP, laptop.publicKey, T0 + 1);
  return {
    keys,
    wire: {
      user_id: userId,
      identity_key: b64urlEncode(keys.identity.publicKey),
      keys_version: 3,
      puks: [{ generation: 1, certificate: b64urlEncode(keys.pukCertificate), created_at: T0 }],
      devices: [
        { device_id: PHONE, certificate: b64urlEncode(keys.deviceCertificate!), created_at: T0, revoked_at: null },
        { device_id: LAPTOP, certificate: b64urlEncode(laptopCert.encoded), created_at: T0 + 1, revoked_at: T0 + 5 },
      ],
    },
  };
}

/** A fake API client answering from a mutable map of published directories. */
function fakeApi(directories: Map<string, KeyDirectoryOut>): KeyDirectoryApi & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    keyDirectory(userId) {
      calls.push(userId);
      const found = directories.get(userId);
      return found === undefined ? Promise.reject(new Error("404")) : Promise.resolve(found);
    },
  };
}

function clock(start = T0 + 100): () => number {
  let t = start;
  return () => t++;
}

describe("fetchKeyDirectory", () => {
  it("verifies every certificate and pins the identity key on first sight", async () => {
    const alice = await publish(ALICE);
    const api = fakeApi(new Map([[ALICE, alice.wire]]));
    const pins = new MemoryKeyPins(ME);
    const changes = new KeyChanges();

    const directory = await fetchKeyDirectory(api, ALICE, pins, { changes, now: () => T0 + 42 });

    expect(directory.userId).toBe(ALICE);
    expect(toHex(directory.identityKey.key)).toBe(toHex(alice.keys.identity.publicKey));
    expect(directory.keysVersion).toBe(3);
    expect(latestPuk(directory).generation).toBe(1);
    expect(directory.devices.map((d) => [d.deviceId, d.revokedAt])).toEqual([
      [PHONE, null],
      [LAPTOP, T0 + 5],
    ]);
    expect(activeDevices(directory).map((d) => d.deviceId)).toEqual([PHONE]);

    const pin = await pins.get(ALICE);
    expect(toHex(pin!.identityKey)).toBe(toHex(alice.keys.identity.publicKey));
    expect(pin!.firstSeenAt).toBe(T0 + 42);
    expect(changes.pending()).toEqual([]);
  });

  it("accepts the same identity key again without re-pinning", async () => {
    const alice = await publish(ALICE);
    const api = fakeApi(new Map([[ALICE, alice.wire]]));
    const pins = new MemoryKeyPins(ME);
    const changes = new KeyChanges();
    const now = clock();

    await fetchKeyDirectory(api, ALICE, pins, { changes, now });
    const firstSeen = (await pins.get(ALICE))!.firstSeenAt;
    const again = await fetchKeyDirectory(api, ALICE, pins, { changes, now });

    expect(toHex(again.identityKey.key)).toBe(toHex(alice.keys.identity.publicKey));
    expect((await pins.get(ALICE))!.firstSeenAt).toBe(firstSeen);
    expect(api.calls).toEqual([ALICE, ALICE]);
  });

  it("refuses a PUK certificate signed by another identity, and pins nothing", async () => {
    const alice = await publish(ALICE);
    const random = counterRandom();
    const mallory = IdentityKey.generate(random);
    const forged = certifyPuk(mallory, ALICE, await PukKeyPair.generate(2, random), T0 + 9);
    const wire: KeyDirectoryOut = {
      ...alice.wire,
      puks: [
        ...alice.wire.puks,
        { generation: 2, certificate: b64urlEncode(forged.encoded), created_at: T0 + 9 },
      ],
    };
    const pins = new MemoryKeyPins(ME);

    const failure = fetchKeyDirectory(fakeApi(new Map([[ALICE, wire]])), ALICE, pins, {
      changes: new KeyChanges(),
    });

    await expect(failure).rejects.toBeInstanceOf(KeyDirectoryInvalid);
    await expect(failure).rejects.toMatchObject({ userId: ALICE });
    await failure.catch((error: unknown) => {
      expect((error as Error).cause).toBeInstanceOf(InvalidSignature);
    });
    expect(pins.size).toBe(0);
  });

  it("refuses a device certificate listed under another device id", async () => {
    const alice = await publish(ALICE);
    const [phone, laptop] = alice.wire.devices;
    const wire: KeyDirectoryOut = {
      ...alice.wire,
      devices: [phone!, { ...laptop!, device_id: PHONE.replace("1b9d", "3333") }],
    };
    await expect(
      fetchKeyDirectory(fakeApi(new Map([[ALICE, wire]])), ALICE, new MemoryKeyPins(ME), {
        changes: new KeyChanges(),
      }),
    ).rejects.toThrow(/ContextMismatch/);
  });

  it("refuses malformed answers and directories of another user", async () => {
    const alice = await publish(ALICE);
    const cases: unknown[] = [
      null,
      { ...alice.wire, user_id: ME },
      { ...alice.wire, puks: [] },
      { ...alice.wire, puks: [{ ...alice.wire.puks[0], generation: 2 }] },
      { ...alice.wire, puks: [alice.wire.puks[0], alice.wire.puks[0]] },
      { ...alice.wire, identity_key: `${alice.wire.identity_key}=` },
      { ...alice.wire, keys_version: "3" },
      { ...alice.wire, devices: [{ ...alice.wire.devices[0], created_at: 1.5 }] },
      { ...alice.wire, devices: undefined },
    ];
    for (const wire of cases) {
      const api: KeyDirectoryApi = { keyDirectory: () => Promise.resolve(wire as KeyDirectoryOut) };
      await expect(
        fetchKeyDirectory(api, ALICE, new MemoryKeyPins(ME), { changes: new KeyChanges() }),
      ).rejects.toBeInstanceOf(KeyDirectoryInvalid);
    }
  });

  it("reports a changed identity key instead of accepting it; accepting re-pins", async () => {
    const before = await publish(ALICE, counterRandom());
    let seed = 7;
    const after = await publish(ALICE, (n) => new Uint8Array(n).map(() => (seed = (seed * 31 + 11) & 0xff)));
    const directories = new Map([[ALICE, before.wire]]);
    const api = fakeApi(directories);
    const pins = new MemoryKeyPins(ME);
    const changes = new KeyChanges();
    const events: KeyChangeEvent[] = [];
    const unsubscribe = changes.subscribe((event) => events.push(event));
    const now = clock();

    await fetchKeyDirectory(api, ALICE, pins, { changes, now });
    const firstPin = await pins.get(ALICE);

    // Alice reset her account (or the server lies): a new identity, correctly self-signed.
    directories.set(ALICE, after.wire);
    const failure = fetchKeyDirectory(api, ALICE, pins, { changes, now });
    await expect(failure).rejects.toBeInstanceOf(IdentityKeyChanged);
    const error = (await failure.catch((e: unknown) => e)) as IdentityKeyChanged;
    expect(error.userId).toBe(ALICE);
    expect(toHex(error.pinned)).toBe(toHex(before.keys.identity.publicKey));
    expect(toHex(error.presented)).toBe(toHex(after.keys.identity.publicKey));
    expect(toHex(error.directory.identityKey.key)).toBe(toHex(after.keys.identity.publicKey));

    // Not silently accepted: the pin is unchanged, and fetching again still refuses.
    await expect(fetchKeyDirectory(api, ALICE, pins, { changes, now })).rejects.toBeInstanceOf(
      IdentityKeyChanged,
    );
    expect(toHex((await pins.get(ALICE))!.identityKey)).toBe(toHex(before.keys.identity.publicKey));
    expect(events).toHaveLength(2);
    const [event] = events;
    expect(event!.ownerUserId).toBe(ME);
    expect(event!.userId).toBe(ALICE);
    expect(event!.pinnedAt).toBe(firstPin!.firstSeenAt);
    expect(toHex(event!.presented)).toBe(toHex(after.keys.identity.publicKey));
    expect(changes.pending().map((e) => e.userId)).toEqual([ALICE]);

    // The user compared safety numbers and accepts: exactly the presented key is pinned.
    const accepted = await acceptKeyChange(ALICE, { changes, now });
    expect(toHex(accepted.identityKey.key)).toBe(toHex(after.keys.identity.publicKey));
    const repinned = await pins.get(ALICE);
    expect(toHex(repinned!.identityKey)).toBe(toHex(after.keys.identity.publicKey));
    expect(repinned!.firstSeenAt).toBeGreaterThan(firstPin!.firstSeenAt);
    expect(changes.pending()).toEqual([]);

    const fresh = await fetchKeyDirectory(api, ALICE, pins, { changes, now });
    expect(toHex(fresh.identityKey.key)).toBe(toHex(after.keys.identity.publicKey));
    expect(events).toHaveLength(2);

    // Nothing left to accept; and the old key coming back is a change again.
    await expect(acceptKeyChange(ALICE, { changes })).rejects.toThrow(/no unresolved key change/);
    directories.set(ALICE, before.wire);
    await expect(fetchKeyDirectory(api, ALICE, pins, { changes, now })).rejects.toBeInstanceOf(
      IdentityKeyChanged,
    );
    expect(events).toHaveLength(3);
    unsubscribe();
    await expect(fetchKeyDirectory(api, ALICE, pins, { changes, now })).rejects.toBeInstanceOf(
      IdentityKeyChanged,
    );
    expect(events).toHaveLength(3);
  });

  it("drops an unresolved change when the pinned key comes back", async () => {
    const before = await publish(ALICE, counterRandom());
    let seed = 3;
    const after = await publish(ALICE, (n) => new Uint8Array(n).map(() => (seed = (seed * 17 + 5) & 0xff)));
    const directories = new Map([[ALICE, before.wire]]);
    const api = fakeApi(directories);
    const pins = new MemoryKeyPins(ME);
    const changes = new KeyChanges();

    await fetchKeyDirectory(api, ALICE, pins, { changes });
    directories.set(ALICE, after.wire);
    await expect(fetchKeyDirectory(api, ALICE, pins, { changes })).rejects.toBeInstanceOf(
      IdentityKeyChanged,
    );
    directories.set(ALICE, before.wire);
    await fetchKeyDirectory(api, ALICE, pins, { changes });
    expect(changes.pending()).toEqual([]);
  });

  it("two first fetches racing with different keys: one pins, the other is a change", async () => {
    const first = await publish(ALICE, counterRandom());
    let seed = 11;
    const second = await publish(ALICE, (n) => new Uint8Array(n).map(() => (seed = (seed * 37 + 1) & 0xff)));
    const answers = [first.wire, second.wire];
    const api: KeyDirectoryApi = { keyDirectory: () => Promise.resolve(answers.shift()!) };
    const pins = new MemoryKeyPins(ME);
    const changes = new KeyChanges();

    const results = await Promise.allSettled([
      fetchKeyDirectory(api, ALICE, pins, { changes }),
      fetchKeyDirectory(api, ALICE, pins, { changes }),
    ]);

    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected"]);
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(IdentityKeyChanged);
    expect(toHex((await pins.get(ALICE))!.identityKey)).toBe(toHex(first.keys.identity.publicKey));
  });

  it("keeps a broken listener from hiding the change from the others", async () => {
    const before = await publish(ALICE, counterRandom());
    let seed = 9;
    const after = await publish(ALICE, (n) => new Uint8Array(n).map(() => (seed = (seed * 13 + 7) & 0xff)));
    const directories = new Map([[ALICE, before.wire]]);
    const api = fakeApi(directories);
    const pins = new MemoryKeyPins(ME);
    const changes = new KeyChanges();
    const quiet = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const seen = vi.fn();
    changes.subscribe(() => {
      throw new Error("broken view");
    });
    changes.subscribe(seen);

    await fetchKeyDirectory(api, ALICE, pins, { changes });
    directories.set(ALICE, after.wire);
    await expect(fetchKeyDirectory(api, ALICE, pins, { changes })).rejects.toBeInstanceOf(
      IdentityKeyChanged,
    );
    expect(seen).toHaveBeenCalledTimes(1);
    quiet.mockRestore();
  });
});

describe("key pins (IndexedDB)", () => {
  it("persist across store instances, per signed-in user", async () => {
    const factory = new IDBFactory();
    const alice = await publish(ALICE);
    const api = fakeApi(new Map([[ALICE, alice.wire]]));

    await fetchKeyDirectory(api, ALICE, indexedDbKeyPins(ME, () => factory), {
      changes: new KeyChanges(),
      now: () => T0 + 7,
    });

    // A reload: a new store over the same database sees the pin.
    const reloaded = indexedDbKeyPins(ME, () => factory);
    const pin = await reloaded.get(ALICE);
    expect(toHex(pin!.identityKey)).toBe(toHex(alice.keys.identity.publicKey));
    expect(pin!.firstSeenAt).toBe(T0 + 7);

    // Another account signed in on this browser has pins of its own.
    expect(await indexedDbKeyPins(ALICE, () => factory).get(ALICE)).toBeNull();
  });

  it("a changed key is caught after a reload, and accepting persists the new pin", async () => {
    const factory = new IDBFactory();
    const before = await publish(ALICE, counterRandom());
    let seed = 5;
    const after = await publish(ALICE, (n) => new Uint8Array(n).map(() => (seed = (seed * 29 + 3) & 0xff)));
    const directories = new Map([[ALICE, before.wire]]);
    const api = fakeApi(directories);
    const changes = new KeyChanges();

    await fetchKeyDirectory(api, ALICE, indexedDbKeyPins(ME, () => factory), { changes });
    directories.set(ALICE, after.wire);
    await expect(
      fetchKeyDirectory(api, ALICE, indexedDbKeyPins(ME, () => factory), { changes }),
    ).rejects.toBeInstanceOf(IdentityKeyChanged);
    await acceptKeyChange(ALICE, { changes });

    const pin = await indexedDbKeyPins(ME, () => factory).get(ALICE);
    expect(toHex(pin!.identityKey)).toBe(toHex(after.keys.identity.publicKey));
  });
});
