import { afterEach, describe, expect, it, vi } from "vitest";

import { ApiError } from "@/api/errors";
import { KeySetUpload, openKeySet, verifyKeySet } from "@/crypto/conversation-key";
import { certifyDevice, DeviceKey, verifyDeviceCertificate } from "@/crypto/device";
import { b64urlDecode, b64urlEncode } from "@/crypto/encoding";
import { IdentityKey, IdentityPublicKey } from "@/crypto/identity";
import { certifyPuk, PukKeyPair } from "@/crypto/puk";
import { Secret } from "@/crypto/secret";
import type { KeyDirectoryOut } from "@/session/contact-keys";
import {
  ContactDirectories,
  ConversationKeys,
  DIRECTORY_CONCURRENCY,
  type KeySetApi,
  mapConcurrently,
  serverMembership,
  timeSlicer,
} from "@/session/conversation-keys";
import type { UnlockedKeys } from "@/session/unlocked-keys";
import { MemoryKeyPins } from "@/storage/key-pins-store";

const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));
const GROUP = "5d7c1f0a-6b2e-4c3d-8e9f-0a1b2c3d4e5f";
const uuid = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;

interface Account {
  readonly keys: UnlockedKeys;
  readonly puk: PukKeyPair;
  readonly directory: KeyDirectoryOut;
}

async function account(userId: string): Promise<Account> {
  const deviceId = uuid(0xd00000 + Number.parseInt(userId.slice(-6), 16));
  const identity = IdentityKey.generate(random);
  const seed = random(32);
  const puk = await PukKeyPair.create(1, seed);
  const device = DeviceKey.generate(random);
  const pukCert = certifyPuk(identity, userId, puk, 1);
  const deviceCert = certifyDevice(identity, userId, deviceId, device.publicKey, 1);
  const keys = {
    userId,
    deviceId,
    identity,
    contents: { pukSeeds: [[1, new Secret(seed)]], latestPukGeneration: 1 },
    device,
  } as unknown as UnlockedKeys;
  return {
    keys,
    puk,
    directory: {
      user_id: userId,
      identity_key: b64urlEncode(identity.publicKey),
      keys_version: 1,
      puks: [{ generation: 1, certificate: b64urlEncode(pukCert.encoded), created_at: 1 }],
      devices: [{ device_id: deviceId, certificate: b64urlEncode(deviceCert.encoded), created_at: 1, revoked_at: null }],
    },
  };
}

/** A group's key-set routes in memory, counting the key-directory requests in flight. */
function groupServer(creator: Account, accounts: ReadonlyMap<string, Account>) {
  const stats = { inFlight: 0, maxInFlight: 0, directories: 0, uploads: [] as string[] };
  let failFor: string | null = null;
  const api: KeySetApi & {
    conversation(id: string): Promise<{ kind: "group" }>;
    members(id: string): Promise<{ members: { user_id: string }[] }>;
  } = {
    keyDirectory: async (userId) => {
      stats.directories += 1;
      stats.inFlight += 1;
      stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
      try {
        await new Promise((resolve) => setTimeout(resolve, 2));
        if (userId === failFor) throw new ApiError(503, "unavailable", "try later");
        const a = accounts.get(userId);
        if (a === undefined) throw new ApiError(404, "not_found", "no");
        return a.directory;
      } finally {
        stats.inFlight -= 1;
      }
    },
    keySets: () => Promise.resolve({ key_sets: [], current_generation: stats.uploads.length, stale: false }),
    keySet: () => Promise.reject(new ApiError(404, "not_found", "none")),
    uploadKeySet: (_id, generation, upload) => {
      stats.uploads.push(upload);
      return Promise.resolve({ generation });
    },
    conversation: () => Promise.resolve({ kind: "group" }),
    members: () => Promise.resolve({ members: [...accounts.keys()].map((user_id) => ({ user_id })) }),
  };
  const directories = new ContactDirectories(api, new MemoryKeyPins(creator.keys.userId), () => creator.keys, () =>
    Promise.resolve(true),
  );
  const keys = new ConversationKeys(api, () => creator.keys, directories, serverMembership(api), random);
  return {
    keys,
    stats,
    fail: (userId: string) => {
      failFor = userId;
    },
  };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("mapConcurrently", () => {
  it("runs at most `limit` at once and keeps the items' order", async () => {
    let running = 0;
    let most = 0;
    const out = await mapConcurrently([5, 1, 4, 2, 3, 0, 6], 3, async (n) => {
      running += 1;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, n));
      running -= 1;
      return n * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30, 0, 60]);
    expect(most).toBe(3);
    expect(await mapConcurrently([], 8, () => Promise.resolve(1))).toEqual([]);
  });

  it("rejects with the first failure and starts nothing after it", async () => {
    const started: number[] = [];
    const run = mapConcurrently([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 2, async (n) => {
      started.push(n);
      await new Promise((resolve) => setTimeout(resolve, 1));
      if (n === 2) throw new Error("two");
      return n;
    });
    await expect(run).rejects.toThrow("two");
    await new Promise((resolve) => setTimeout(resolve, 10));
    // 0 and 1, then 2 (fails) and at most the one the other lane took meanwhile.
    expect(started.slice(0, 3)).toEqual([0, 1, 2]);
    expect(Math.max(...started)).toBeLessThanOrEqual(3);
  });
});

describe("timeSlicer", () => {
  it("yields only once a slice of work has run", async () => {
    let now = 0;
    vi.spyOn(performance, "now").mockImplementation(() => now);
    const timeout = vi.spyOn(globalThis, "setTimeout");
    const pause = timeSlicer(10);
    now = 4;
    await pause();
    expect(timeout).not.toHaveBeenCalled();
    now = 12;
    await pause();
    expect(timeout).toHaveBeenCalledTimes(1);
    now = 15;
    await pause();
    expect(timeout).toHaveBeenCalledTimes(1);
  });
});

describe("ConversationKeys: a new key set for a group", () => {
  it("fetches the members' key directories a few at a time and seals to every one", async () => {
    const people = await Promise.all(Array.from({ length: 12 }, (_, i) => account(uuid(i + 1))));
    const creator = people[0]!;
    const accounts = new Map(people.map((p) => [p.keys.userId, p]));
    const { keys, stats } = groupServer(creator, accounts);

    const opened = await keys.forSending(GROUP);

    expect(opened.key.generation).toBe(1);
    expect(stats.maxInFlight).toBeGreaterThan(1);
    expect(stats.maxInFlight).toBeLessThanOrEqual(DIRECTORY_CONCURRENCY);
    expect(stats.uploads).toHaveLength(1);
    expect(opened.statement.memberIds).toEqual(new Set(accounts.keys()));
    // What was uploaded verifies, and every member's box opens to the same key under their PUK.
    const upload = KeySetUpload.decode(b64urlDecode(stats.uploads[0]!));
    const creatorDevice = verifyDeviceCertificate(
      b64urlDecode(creator.directory.devices[0]!.certificate),
      new IdentityPublicKey(creator.keys.identity.publicKey),
      creator.keys.userId,
      creator.keys.deviceId,
    );
    const statement = verifyKeySet(upload.statement, creatorDevice, GROUP, 1, accounts.keys());
    for (const p of people) {
      const key = await openKeySet(statement, upload.boxes.get(p.keys.userId)!, p.keys.userId, new Map([[1, p.puk]]));
      expect(key.reveal()).toEqual(opened.key.reveal());
    }
  });

  it("makes no key set when a member's directory cannot be fetched", async () => {
    const people = await Promise.all(Array.from({ length: 12 }, (_, i) => account(uuid(i + 1))));
    const creator = people[0]!;
    const { keys, stats, fail } = groupServer(creator, new Map(people.map((p) => [p.keys.userId, p])));
    fail(people[5]!.keys.userId);

    await expect(keys.forSending(GROUP)).rejects.toThrow("try later");
    expect(stats.uploads).toHaveLength(0);
  });
});
