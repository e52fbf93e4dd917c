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
import {
  CHUNK,
  CounterLedger,
  FAIL_ALTERED,
  FAIL_KEYS,
  FAIL_SENDER,
  MessageCrypto,
  type SealedSend,
} from "@/session/message-crypto";
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

describe("MessageCrypto: messages the server left out or reordered (§8.5)", () => {
  /** Alice's sealed messages as the server would number them: 1, 2, 3 … with no holes. */
  async function conversation(count: number) {
    const p = await pair();
    const sealed: SealedSend[] = [];
    for (let i = 1; i <= count; i++) sealed.push(await p.a.crypto.seal(DM, id(i), `m${String(i)}`));
    const at = (seq: number, i: number): Message => {
      const s = sealed[i - 1];
      if (s === undefined) throw new Error("no such message");
      return { ...asMessage(p.alice, id(i), s), id: seq, seq };
    };
    return { ...p, at };
  }

  it("shows nothing for messages in order, in any loading order", async () => {
    const { b, at } = await conversation(4);
    await b.crypto.openAll([at(3, 3), at(4, 4)]);
    await b.crypto.openAll([at(1, 1), at(2, 2)]);
    expect(b.crypto.notices(DM)).toEqual([]);
    expect(b.crypto.missingMessages).toBe(0);
    expect(b.crypto.undecryptable).toBe(0);
  });

  it("notices a message the server left out, at its place, without counting it undecryptable", async () => {
    const { b, at, alice } = await conversation(3);
    const seen = vi.fn();
    const unsubscribe = b.crypto.subscribe(seen);
    // The server hides message 2 and numbers message 3 as seq 2.
    const opened = await b.crypto.openAll([at(1, 1), at(2, 3)]);
    expect(opened.map((m) => m.text)).toEqual(["m1", "m3"]);
    expect(b.crypto.notices(DM)).toEqual([
      {
        kind: "missing",
        conversationId: DM,
        seq: 2,
        senderId: ALICE,
        senderDeviceId: alice.keys.deviceId,
        count: 1,
      },
    ]);
    expect(b.crypto.missingMessages).toBe(1);
    expect(b.crypto.undecryptable).toBe(0);
    expect(seen).toHaveBeenCalledTimes(1);
    // The same page again: the same notices (the same array), nobody told.
    const before = b.crypto.notices(DM);
    await b.crypto.openAll([at(1, 1), at(2, 3)]);
    expect(b.crypto.notices(DM)).toBe(before);
    expect(seen).toHaveBeenCalledTimes(1);
    unsubscribe();
  });

  it("notices messages delivered out of order; a late one is not also missing", async () => {
    const { b, at } = await conversation(3);
    await b.crypto.openAll([at(1, 1), at(2, 3)]);
    expect(b.crypto.missingMessages).toBe(1);
    // The "missing" message turns up after message 3.
    await b.crypto.open(at(3, 2));
    expect(b.crypto.notices(DM).map((n) => [n.kind, n.seq, n.count])).toEqual([["reordered", 3, 1]]);
    expect(b.crypto.missingMessages).toBe(0);
    expect(b.crypto.reorderedMessages).toBe(1);
  });

  it("does not judge the reader's own device, or a conversation it has not all loaded", async () => {
    const { a, at } = await conversation(3);
    await a.crypto.openAll([at(1, 1), at(2, 3)]);
    expect(a.crypto.notices(DM)).toEqual([]);

    const other = await conversation(5);
    await other.b.crypto.openAll([other.at(1, 1)]);
    await other.b.crypto.openAll([other.at(5, 5)]); // seqs 2 … 4 not loaded
    expect(other.b.crypto.notices(DM)).toEqual([]);
  });
});

describe("CounterLedger", () => {
  const ALICE_DEVICE = "alice-device";
  const BOB_DEVICE = "bob-device";
  /** [seq, device, counter] for a verified envelope; [seq] for a message that failed. */
  type Seen = readonly [number, string, number] | readonly [number];
  function load(ledger: CounterLedger, seen: readonly Seen[]): void {
    for (const entry of seen) {
      if (entry.length === 1) ledger.unverified(DM, entry[0]);
      else expect(ledger.accept(DM, entry[0], entry[1] === BOB_DEVICE ? BOB : ALICE, entry[1], entry[2])).toBe(true);
    }
  }
  const brief = (ledger: CounterLedger, own?: string) =>
    ledger.notices(DM, own).map((n) => `${n.kind} ${n.senderDeviceId} @${String(n.seq)} ×${String(n.count)}`);

  it("in order: nothing, with other devices in between", () => {
    const ledger = new CounterLedger();
    load(ledger, [
      [1, ALICE_DEVICE, 1],
      [2, BOB_DEVICE, 1],
      [3, ALICE_DEVICE, 2],
      [4, ALICE_DEVICE, 3],
      [5, BOB_DEVICE, 2],
    ]);
    expect(brief(ledger)).toEqual([]);
  });

  it("a gap: the counters the server left out, at the message after them", () => {
    const ledger = new CounterLedger();
    load(ledger, [
      [1, ALICE_DEVICE, 1],
      [2, BOB_DEVICE, 1],
      [3, ALICE_DEVICE, 4],
      [4, BOB_DEVICE, 2],
    ]);
    expect(brief(ledger)).toEqual([`missing ${ALICE_DEVICE} @3 ×2`]);
    // The reader's own device is not judged (its refused sends were shown to it).
    expect(brief(ledger, ALICE_DEVICE)).toEqual([]);
  });

  it("the start of the conversation counts as loaded: a first counter above 1 is a gap", () => {
    const ledger = new CounterLedger();
    load(ledger, [
      [1, BOB_DEVICE, 1],
      [2, ALICE_DEVICE, 2],
    ]);
    expect(brief(ledger)).toEqual([`missing ${ALICE_DEVICE} @2 ×1`]);
  });

  it("late messages are reordered, one notice per run, and not missing", () => {
    const ledger = new CounterLedger();
    load(ledger, [
      [1, ALICE_DEVICE, 1],
      [2, ALICE_DEVICE, 4],
      [3, ALICE_DEVICE, 2],
      [4, BOB_DEVICE, 1],
      [5, ALICE_DEVICE, 3],
      [6, ALICE_DEVICE, 5],
      [7, ALICE_DEVICE, 7],
      [8, ALICE_DEVICE, 6],
    ]);
    expect(brief(ledger)).toEqual([
      `reordered ${ALICE_DEVICE} @3 ×2`,
      `reordered ${ALICE_DEVICE} @8 ×1`,
    ]);
  });

  it("a replay: the same counter at another seq is refused, at the same seq accepted again", () => {
    const ledger = new CounterLedger();
    expect(ledger.accept(DM, 1, ALICE, ALICE_DEVICE, 1)).toBe(true);
    expect(ledger.accept(DM, 1, ALICE, ALICE_DEVICE, 1)).toBe(true);
    expect(ledger.accept(DM, 2, ALICE, ALICE_DEVICE, 1)).toBe(false);
    // The same counter of another device, or in another conversation, is no replay.
    expect(ledger.accept(DM, 2, BOB, BOB_DEVICE, 1)).toBe(true);
    expect(ledger.accept("other", 1, ALICE, ALICE_DEVICE, 1)).toBe(true);
    ledger.unverified(DM, 3);
    expect(brief(ledger)).toEqual([]);
  });

  it("pages loaded backwards: the latest page first, each gap once its whole range is loaded", () => {
    const ledger = new CounterLedger();
    // Seqs 1 … 100, Alice's counter = seq, except that the server left out counters 30 and 60.
    const counter = (seq: number) => seq + (seq >= 30 ? 1 : 0) + (seq >= 59 ? 1 : 0);
    const page = (from: number, to: number): Seen[] =>
      Array.from({ length: to - from + 1 }, (_, i) => [from + i, ALICE_DEVICE, counter(from + i)] as const);
    load(ledger, page(51, 100));
    expect(brief(ledger)).toEqual([`missing ${ALICE_DEVICE} @59 ×1`]);
    load(ledger, page(1, 50));
    expect(brief(ledger)).toEqual([`missing ${ALICE_DEVICE} @30 ×1`, `missing ${ALICE_DEVICE} @59 ×1`]);
  });

  it("a gap across a range not loaded yet (or with a failed message) is not reported", () => {
    const ledger = new CounterLedger();
    load(ledger, [
      [5, ALICE_DEVICE, 5],
      [6, ALICE_DEVICE, 6],
      [20, ALICE_DEVICE, 9],
    ]);
    // Seqs 7 … 19 not loaded, nor 1 … 4 (Alice's first four counters may be there).
    expect(brief(ledger)).toEqual([]);
    load(ledger, [[7, BOB_DEVICE, 1], [8], ...Array.from({ length: 11 }, (_, i) => [9 + i, BOB_DEVICE, 3 + i] as const)]);
    // Loaded now, but seq 8 could not be opened: it may be one of Alice's, already shown as failed.
    expect(brief(ledger)).toEqual([]);
    // Opened on a refetch (Bob's): now the range is complete, and Alice's 7 and 8 are missing.
    expect(ledger.accept(DM, 8, BOB, BOB_DEVICE, 2)).toBe(true);
    expect(brief(ledger)).toEqual([`missing ${ALICE_DEVICE} @20 ×2`]);
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
