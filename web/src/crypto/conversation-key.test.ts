import { describe, expect, it } from "vitest";

import {
  ConversationKey,
  createKeySet,
  KeySetUpload,
  openKeySet,
  verifyKeySet,
} from "@/crypto/conversation-key";
import { toHex } from "@/crypto/encoding";
import type { PukKeyPair } from "@/crypto/puk";
import { loadPeople, person } from "@/test/people";
import { scriptedRandom } from "@/test/scripted-random";
import { counterRandom, expectCryptoError, hex, loadVectors } from "@/test/vectors";

const v = loadVectors("key_set.json");
const people = await loadPeople(v.people);

describe("key_set.json: create", () => {
  for (const c of v.create) {
    it(`${c.name}: statement byte for byte, every box opens`, async () => {
      const creator = person(people, c.creator);
      const members = [...people.values()].filter((p) => p.userId !== "mallory");
      const [key, upload] = await createKeySet(
        c.conversation_id,
        c.generation,
        creator.device,
        creator.deviceCertificate,
        members.map((p) => p.pukCertificate).reverse(),
        c.created_at,
        scriptedRandom(hex(c.conversation_key)),
      );
      expect(toHex(key.reveal())).toBe(c.conversation_key);
      expect(toHex(key.commitment())).toBe(c.commitment);
      expect(toHex(upload.statement)).toBe(c.statement);

      // The frozen upload (sealed in Python) decodes and opens for every member.
      const frozen = KeySetUpload.decode(hex(c.upload));
      expect(toHex(frozen.statement)).toBe(c.statement);
      const statement = verifyKeySet(
        frozen.statement,
        creator.deviceCertificate,
        c.conversation_id,
        c.generation,
        members.map((p) => p.userId),
      );
      for (const member of members) {
        const puks = new Map([[member.puk.generation, member.puk]]);
        for (const box of [frozen.boxes.get(member.userId), upload.boxes.get(member.userId)]) {
          const opened = await openKeySet(statement, box!, member.userId, puks);
          expect(toHex(opened.reveal())).toBe(c.conversation_key);
        }
      }
      expect(toHex(KeySetUpload.decode(upload.encode()).statement)).toBe(c.statement);
    });
  }
});

describe("createKeySet pause", () => {
  it("is awaited once per member's box and changes nothing in the key set", async () => {
    const c = v.create[0]!;
    const creator = person(people, c.creator);
    const members = [...people.values()].filter((p) => p.userId !== "mallory");
    let pauses = 0;
    const [key, upload] = await createKeySet(
      c.conversation_id,
      c.generation,
      creator.device,
      creator.deviceCertificate,
      members.map((p) => p.pukCertificate),
      c.created_at,
      scriptedRandom(hex(c.conversation_key)),
      {
        pause: async () => {
          pauses += 1;
          await Promise.resolve();
        },
      },
    );
    expect(pauses).toBe(members.length);
    expect(upload.boxes.size).toBe(members.length);
    expect(toHex(key.reveal())).toBe(c.conversation_key);
    expect(toHex(upload.statement)).toBe(c.statement);
  });
});

describe("key_set.json: verify", () => {
  for (const c of v.verify) {
    it(c.name, async () => {
      const run = () =>
        verifyKeySet(
          hex(c.statement),
          person(people, c.creator).deviceCertificate,
          c.conversation_id,
          c.generation,
          c.expected_members,
        );
      if (c.error) {
        await expectCryptoError(run, c.error);
      } else {
        const s = run();
        const e = c.expected;
        expect(s.conversationId).toBe(e.conversation_id);
        expect(s.generation).toBe(e.generation);
        expect(s.creatorUserId).toBe(e.creator_user_id);
        expect(s.creatorDeviceId).toBe(e.creator_device_id);
        expect(s.createdAt).toBe(e.created_at);
        expect(s.members.map((m) => [m.userId, m.pukGeneration])).toEqual(e.members);
        expect(toHex(s.commitment)).toBe(e.commitment);
      }
    });
  }
});

describe("key_set.json: open", () => {
  for (const c of v.open) {
    it(c.name, async () => {
      const statement = verifyKeySet(
        hex(c.statement),
        person(people, c.creator).deviceCertificate,
        c.conversation_id,
        c.generation,
        c.expected_members,
      );
      const holder = person(people, c.user_id);
      const puks = new Map<number, PukKeyPair>(
        (c.held_puk_generations as number[])
          .filter((g) => g === holder.puk.generation)
          .map((g) => [g, holder.puk]),
      );
      const run = () => openKeySet(statement, hex(c.box), c.user_id, puks);
      if (c.error) {
        await expectCryptoError(run, c.error);
      } else {
        expect(toHex((await run()).reveal())).toBe(c.expected_key);
      }
    });
  }
});

describe("key sets", () => {
  it("refuse a creator who is not a member", async () => {
    const alice = person(people, "alice");
    const bob = person(people, "bob");
    await expectCryptoError(
      () =>
        createKeySet("c", 1, alice.device, alice.deviceCertificate, [bob.pukCertificate], 0, counterRandom()),
      "NotAMember",
    );
  });

  it("refuse a device key that does not match its certificate", async () => {
    const alice = person(people, "alice");
    const bob = person(people, "bob");
    await expectCryptoError(
      () =>
        createKeySet("c", 1, bob.device, alice.deviceCertificate, [alice.pukCertificate], 0, counterRandom()),
      "ContextMismatch",
    );
  });

  it("never print the conversation key", () => {
    const key = new ConversationKey("c", 1, new Uint8Array(32).fill(0xee));
    expect(String(key) + JSON.stringify(key)).not.toContain("eeee");
  });
});
