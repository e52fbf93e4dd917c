import { describe, expect, it, vi } from "vitest";

import { ApiError } from "@/api/errors";
import type { Message } from "@/api/types";
import { KeySetUpload } from "@/crypto/conversation-key";
import { certifyDevice, DeviceKey } from "@/crypto/device";
import { b64urlDecode, b64urlEncode } from "@/crypto/encoding";
import { encodeEnvelope, decodeEnvelope } from "@/crypto/envelope";
import { IdentityKey } from "@/crypto/identity";
import { certifyPuk, PukKeyPair } from "@/crypto/puk";
import { Secret } from "@/crypto/secret";
import { ContactTrust } from "@/session/contact-trust";
import {
  ContactDirectories,
  ConversationKeys,
  KeyChangeBlocked,
  type KeySetApi,
  type KeySetOut,
  serverMembership,
} from "@/session/conversation-keys";
import type { KeyDirectoryOut } from "@/session/contact-keys";
import { CHUNK, FAIL_ALTERED, FAIL_KEYS, FAIL_SENDER, MessageCrypto } from "@/session/message-crypto";
import type { UnlockedKeys } from "@/session/unlocked-keys";
import { MemoryKeyPins } from "@/storage/key-pins-store";
import { memoryE2eeStore } from "@/storage/local-crypto-store";
import { EncryptedOutbox, MemoryOutbox, type OutboxEntry } from "@/transport/outbox";

const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));
const DM = "0b5f6a1e-3d4c-4e8a-9a51-6f2f5b8d2c11";

interface Account {
  readonly keys: UnlockedKeys;
  directory: KeyDirectoryOut;
}

async function account(userId: string, deviceId: string, createdAt = 1): Promise<Account> {
  const identity = IdentityKey.generate(random);
  const seed = random(32);
  const puk = await PukKeyPair.create(1, seed);
  const device = DeviceKey.generate(random);
  const pukCert = certifyPuk(identity, userId, puk, createdAt);
  const deviceCert = certifyDevice(identity, userId, deviceId, device.publicKey, createdAt);
  const keys = {
    userId,
    deviceId,
    identity,
    contents: { pukSeeds: [[1, new Secret(seed)]], latestPukGeneration: 1 },
    device,
  } as unknown as UnlockedKeys;
  return {
    keys,
    directory: {
      user_id: userId,
      identity_key: b64urlEncode(identity.publicKey),
      keys_version: 1,
      puks: [{ generation: 1, certificate: b64urlEncode(pukCert.encoded), created_at: createdAt }],
      devices: [{ device_id: deviceId, certificate: b64urlEncode(deviceCert.encoded), created_at: 1, revoked_at: null }],
    },
  };
}

interface StoredSet {
  readonly statement: string;
  readonly boxes: Map<string, string>;
  readonly creatorUserId: string;
  readonly creatorDeviceId: string;
}

/** The server's part of decision 0005 for one DM, in memory. */
class FakeServer {
  current = 0;
  stale = false;
  readonly sets = new Map<number, StoredSet>();
  readonly accounts = new Map<string, Account>();
  /** An upload to slip in first, once (a racing browser). */
  raceWith: (() => Promise<void>) | null = null;

  api(caller: Account): KeySetApi & {
    conversation(id: string): Promise<{ kind: "dm" }>;
    members(id: string): Promise<{ members: { user_id: string }[] }>;
  } {
    return {
      keyDirectory: (userId) => {
        const a = this.accounts.get(userId);
        return a === undefined ? Promise.reject(new ApiError(404, "not_found", "no")) : Promise.resolve(a.directory);
      },
      keySets: () => Promise.resolve({ key_sets: [], current_generation: this.current, stale: this.stale }),
      keySet: (_id, generation) => {
        const set = this.sets.get(generation);
        const box = set?.boxes.get(caller.keys.userId);
        if (set === undefined || box === undefined) return Promise.reject(new ApiError(404, "not_found", "none"));
        const out: KeySetOut = {
          generation,
          statement: set.statement,
          box,
          creator_user_id: set.creatorUserId,
          creator_device_id: set.creatorDeviceId,
          membership_index: null,
          created_at: 1,
        };
        return Promise.resolve(out);
      },
      uploadKeySet: async (_id, generation, upload) => {
        const race = this.raceWith;
        if (race !== null) {
          this.raceWith = null;
          await race();
        }
        if (generation !== this.current + 1) throw new ApiError(409, "key_generation_taken", "taken");
        const decoded = KeySetUpload.decode(b64urlDecode(upload));
        const boxes = new Map([...decoded.boxes].map(([u, b]) => [u, b64urlEncode(b)]));
        this.sets.set(generation, {
          statement: b64urlEncode(decoded.statement),
          boxes,
          creatorUserId: caller.keys.userId,
          creatorDeviceId: caller.keys.deviceId,
        });
        this.current = generation;
        this.stale = false;
        return { generation };
      },
      conversation: () => Promise.resolve({ kind: "dm" }),
      members: () => Promise.resolve({ members: [...this.accounts.keys()].map((user_id) => ({ user_id })) }),
    };
  }
}

function side(server: FakeServer, who: Account) {
  const api = server.api(who);
  const store = memoryE2eeStore(who.keys.userId);
  const trust = new ContactTrust(store);
  const directories = new ContactDirectories(api, new MemoryKeyPins(who.keys.userId), () => who.keys, (e) =>
    trust.handleKeyChange(e),
  );
  const conversationKeys = new ConversationKeys(api, () => who.keys, directories, serverMembership(api), random);
  const crypto = new MessageCrypto({ keys: () => who.keys, conversationKeys, directories, store, random });
  return { crypto, trust, directories, conversationKeys, store };
}

let seq = 0;
function asMessage(from: Account, clientMsgId: string, sealed: { generation: number; ciphertext: string }): Message {
  seq += 1;
  return {
    id: seq,
    conversation_id: DM,
    seq,
    sender_id: from.keys.userId,
    sender_device_id: from.keys.deviceId,
    client_msg_id: clientMsgId,
    created_at: 1,
    generation: sealed.generation,
    ciphertext: sealed.ciphertext,
    removed: false,
  };
}

const ALICE = "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d";
const BOB = "0f8e1d2c-3b4a-4596-8877-665544332211";
const id = (n: number) => n.toString(16).padStart(32, "0");

async function pair() {
  const server = new FakeServer();
  const alice = await account(ALICE, "1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed");
  const bob = await account(BOB, "2c8e7ace-ccfe-4c3e-8c6e-bc9ecccd5cfe");
  server.accounts.set(ALICE, alice);
  server.accounts.set(BOB, bob);
  return { server, alice, bob, a: side(server, alice), b: side(server, bob) };
}

describe("MessageCrypto", () => {
  it("seals on one side and opens on the other, with counters 1, 2, …", async () => {
    const { alice, bob, a, b, server } = await pair();
    const one = await a.crypto.seal(DM, id(1), "hello Bob");
    const two = await a.crypto.seal(DM, id(2), "second");
    expect([one.counter, two.counter]).toEqual([1, 2]);
    expect(server.current).toBe(1);
    const reply = await b.crypto.seal(DM, id(3), "hi Alice");
    expect(reply.generation).toBe(1); // Bob reuses Alice's key set
    const opened = await b.crypto.openAll([
      asMessage(alice, id(1), one),
      asMessage(alice, id(2), two),
      asMessage(bob, id(3), reply),
    ]);
    expect(opened.map((m) => m.text)).toEqual(["hello Bob", "second", "hi Alice"]);
    expect(opened.every((m) => m.failure === undefined && m.encrypted)).toBe(true);
    expect(b.crypto.undecryptable).toBe(0);
  });

  it("shows an altered envelope, a replay, a missing key and an unknown sender honestly", async () => {
    const { alice, a, b } = await pair();
    const sealed = await a.crypto.seal(DM, id(1), "original");
    const envelope = decodeEnvelope(b64urlDecode(sealed.ciphertext));
    const flipped = envelope.ciphertext.slice();
    flipped[0] = (flipped[0] ?? 0) ^ 1;
    const tampered = b64urlEncode(encodeEnvelope({ ...envelope, ciphertext: flipped }));
    const good = asMessage(alice, id(1), sealed);
    const results = await b.crypto.openAll([
      asMessage(alice, id(9), { generation: 1, ciphertext: tampered }),
      good,
      { ...good, id: 999, seq: 999 },
      asMessage(alice, id(1), { generation: 7, ciphertext: sealed.ciphertext }),
      { ...asMessage(alice, id(1), sealed), sender_device_id: "33333333-3333-4333-8333-333333333333" },
    ]);
    const reasons = new Map(results.map((m) => [m.seq, m.failure ?? m.text]));
    const [goodSeq, tamperedSeq, genSeq, deviceSeq] = [good.seq, good.seq + 1, good.seq + 2, good.seq + 3];
    expect(reasons.get(tamperedSeq)).toBe(FAIL_ALTERED); // header names another client message id
    expect(reasons.get(goodSeq)).toBe("original");
    expect(reasons.get(999)).toBe(FAIL_ALTERED); // replay at another seq
    expect(reasons.get(genSeq)).toBe(FAIL_ALTERED); // generation differs from the signed header
    expect(reasons.get(deviceSeq)).toBe(FAIL_ALTERED); // device differs from the signed header
    expect(b.crypto.undecryptable).toBe(4);

    const forged = await b.crypto.open(asMessage(alice, id(20), { generation: 1, ciphertext: tampered }));
    expect(forged.failure).toBe(FAIL_ALTERED);
    expect(forged.text).toBe(FAIL_ALTERED);
  });

  it("says when the keys are not here, and when the sender can't be verified", async () => {
    const { alice, server, a, b } = await pair();
    const sealed = await a.crypto.seal(DM, id(1), "for Bob");
    server.sets.get(1)?.boxes.delete(BOB);
    const missing = await b.crypto.open(asMessage(alice, id(1), sealed));
    expect(missing.failure).toBe(FAIL_KEYS);

    // A key set Bob made, used by Alice; then Alice's device is missing from her directory.
    const fresh = await pair();
    const first = await fresh.b.crypto.seal(DM, id(1), "from Bob");
    expect(first.generation).toBe(1);
    const fromAlice = await fresh.a.crypto.seal(DM, id(2), "from Alice");
    fresh.alice.directory = { ...fresh.alice.directory, devices: [] };
    const c = side(fresh.server, fresh.bob);
    const unverified = await c.crypto.open(asMessage(fresh.alice, id(2), fromAlice));
    expect(unverified.failure).toBe(FAIL_SENDER);
    expect(unverified.text).toBe(FAIL_SENDER);
  });

  it("says the keys are not here for history sealed before an account reset", async () => {
    const { server, alice, a } = await pair();
    const sealed = await a.crypto.seal(DM, id(1), "before the reset");
    // Bob resets: a new identity and a new PUK generation 1, certified after the key set.
    const reset = await account(BOB, "66666666-6666-4666-8666-666666666666", Date.now() + 60_000);
    server.accounts.set(BOB, reset);
    const opened = await side(server, reset).crypto.open(asMessage(alice, id(1), sealed));
    expect(opened.failure).toBe(FAIL_KEYS);
  });

  it("opens a large batch in chunks, yielding to the event loop between them", async () => {
    const { a } = await pair();
    const plain = Array.from({ length: 100 }, (_, i) => ({
      id: i + 1,
      conversation_id: DM,
      seq: 100 - i,
      sender_id: ALICE,
      sender_device_id: ALICE,
      client_msg_id: id(i + 1),
      created_at: 1,
      body: `m${String(100 - i)}`,
      removed: false,
    }));
    const spy = vi.spyOn(globalThis, "setTimeout");
    const out = await a.crypto.openAll(plain);
    expect(out.map((m) => m.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(spy.mock.calls.filter(([, ms]) => ms === 0).length).toBeGreaterThanOrEqual(100 / CHUNK - 1);
    spy.mockRestore();
  });

  it("builds on the winner when another upload took the generation", async () => {
    const { server, a, b } = await pair();
    server.raceWith = async () => {
      await b.conversationKeys.forSending(DM);
    };
    const sealed = await a.crypto.seal(DM, id(1), "after a race");
    expect(sealed.generation).toBe(1);
    expect(server.current).toBe(1);
    expect(server.sets.get(1)?.creatorUserId).toBe(BOB);
  });

  it("makes a new generation when the keys are stale, and seals again with the same counter", async () => {
    const { server, alice, a, b } = await pair();
    const first = await a.crypto.seal(DM, id(1), "one");
    server.stale = true;
    const again = await a.crypto.seal(DM, id(1), "one", first.counter);
    expect(again.generation).toBe(2);
    expect(again.counter).toBe(first.counter);
    const opened = await b.crypto.open(asMessage(alice, id(1), again));
    expect(opened.text).toBe("one");
  });

  it("blocks sending to a verified contact whose identity key changed, until accepted", async () => {
    const { server, bob, a } = await pair();
    await a.crypto.seal(DM, id(1), "before");
    const pinned = b64urlDecode(bob.directory.identity_key);
    await a.trust.markVerified(BOB, pinned);
    const reset = await account(BOB, "44444444-4444-4444-8444-444444444444");
    server.accounts.set(BOB, reset);
    server.stale = true;
    await expect(a.crypto.seal(DM, id(2), "after")).rejects.toBeInstanceOf(KeyChangeBlocked);
    expect(Object.keys(a.trust.getSnapshot().blocked)).toEqual([BOB]);
    expect(a.trust.getSnapshot().notices.map((n) => n.contactUserId)).toEqual([BOB]);

    await a.trust.accept(BOB);
    a.directories.forget(BOB);
    const sealed = await a.crypto.seal(DM, id(2), "after");
    expect(sealed.generation).toBe(2);
    expect(a.trust.getSnapshot().blocked).toEqual({});
    expect(a.trust.isVerified(BOB, b64urlDecode(reset.directory.identity_key))).toBe(false);
  });

  it("accepts an unverified contact's new key with a notice", async () => {
    const { server, a } = await pair();
    await a.crypto.seal(DM, id(1), "before");
    server.accounts.set(BOB, await account(BOB, "55555555-5555-4555-8555-555555555555"));
    server.stale = true;
    const sealed = await a.crypto.seal(DM, id(2), "after");
    expect(sealed.generation).toBe(2);
    expect(a.trust.getSnapshot().notices).toHaveLength(1);
    expect(a.trust.getSnapshot().blocked).toEqual({});
  });
});

describe("EncryptedOutbox", () => {
  it("never stores a private message's text in the clear", async () => {
    const inner = new MemoryOutbox();
    const store = memoryE2eeStore(ALICE);
    const outbox = new EncryptedOutbox(inner, () => store.cipher());
    const entry: OutboxEntry = {
      clientMsgId: id(1),
      conversationId: DM,
      body: "secret words",
      createdAt: 1,
      failed: false,
      private: true,
      counter: 3,
    };
    await outbox.put(entry);
    await outbox.put({ ...entry, clientMsgId: id(2), body: "public", private: undefined as unknown as boolean });
    const raw = await inner.all();
    expect(JSON.stringify(raw.map((e) => ({ ...e })))).not.toContain("secret words");
    expect(raw[0]?.body).toBe("");
    const back = await outbox.all();
    expect(back.map((e) => e.body)).toEqual(["secret words", "public"]);
    expect(back[0]?.counter).toBe(3);

    // Another browser's key (or a lost one) can't read it: shown as not sendable, not blank text.
    const elsewhere = new EncryptedOutbox(inner, () => memoryE2eeStore(ALICE).cipher());
    const unreadable = await elsewhere.all();
    expect(unreadable[0]?.failed).toBe(true);
    expect(unreadable[0]?.reason).toBe("couldn't read it back on this device");
  });
});
