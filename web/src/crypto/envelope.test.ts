import { describe, expect, it } from "vitest";

import { ConversationKey, KeySetStatement } from "@/crypto/conversation-key";
import { toHex } from "@/crypto/encoding";
import {
  CounterTracker,
  messageKey,
  openEnvelope,
  peekHeader,
  sealEnvelope,
  type CounterResult,
} from "@/crypto/envelope";
import { loadPeople, person } from "@/test/people";
import { scriptedRandom } from "@/test/scripted-random";
import { expectCryptoError, hex, loadVectors } from "@/test/vectors";

const v = loadVectors("envelope.json");
const people = await loadPeople(v.people);

function keySetWith(conversationId: string, generation: number, members: string[]) {
  return new KeySetStatement(
    conversationId,
    generation,
    members[0]!,
    "unused",
    0,
    members.map((userId) => ({ userId, pukGeneration: 1 })),
    new Uint8Array(32),
    new Uint8Array(0),
  );
}

describe("envelope.json: seal (byte for byte)", () => {
  for (const c of v.seal) {
    it(c.name, async () => {
      const key = new ConversationKey(c.conversation_id, c.generation, hex(c.conversation_key));
      expect(toHex(messageKey(key, hex(c.salt)))).toBe(c.message_key);
      const sender = person(people, c.sender_user_id);
      expect(toHex(sender.device.publicKey)).toBe(toHex(sender.deviceCertificate.publicKey));
      const envelope = await sealEnvelope(key, sender.device, {
        senderUserId: c.sender_user_id,
        senderDeviceId: c.sender_device_id,
        clientMessageId: c.client_message_id,
        timestamp: c.timestamp,
        counter: c.counter,
        plaintext: hex(c.plaintext),
        random: scriptedRandom(hex(c.salt), hex(c.nonce)),
      });
      expect(toHex(envelope)).toBe(c.envelope);
      expect(peekHeader(envelope).counter).toBe(c.counter);
    });
  }
});

describe("envelope.json: open", () => {
  for (const c of v.open) {
    it(c.name, async () => {
      const key = new ConversationKey(c.conversation_id, c.key_generation, hex(c.conversation_key));
      const run = () =>
        openEnvelope(hex(c.envelope), {
          conversationId: c.conversation_id,
          keys: new Map([[c.key_generation, key]]),
          keySets: new Map([
            [c.key_generation, keySetWith(c.conversation_id, c.key_generation, c.key_set_members)],
          ]),
          senderCertificate: person(people, c.sender).deviceCertificate,
        });
      if (c.error) {
        await expectCryptoError(run, c.error);
      } else {
        const opened = run();
        expect(toHex(opened.plaintext)).toBe(c.plaintext);
        expect(String(opened)).not.toContain("hello");
      }
    });
  }
});

function verdict(result: CounterResult): string {
  return result.verdict === "gap"
    ? `gap:${result.missing[0]}-${result.missing[1] - 1}`
    : result.verdict;
}

describe("envelope.json: counters", () => {
  for (const c of v.counters) {
    it(c.name, () => {
      const tracker = new CounterTracker();
      const seen = (c.counters as number[]).map((n) => {
        try {
          return verdict(tracker.observe("dev", "conv", n));
        } catch (error) {
          return (error as Error).constructor.name;
        }
      });
      expect(seen).toEqual(c.verdicts);
    });
  }

  it("streams are per (device, conversation)", () => {
    const tracker = new CounterTracker();
    expect(tracker.observe("a", "c", 1).verdict).toBe("in_order");
    expect(tracker.observe("b", "c", 1).verdict).toBe("in_order");
    expect(tracker.observe("a", "d", 1).verdict).toBe("in_order");
  });

  it("forgets the oldest missing counters beyond the limit", async () => {
    const tracker = new CounterTracker(4);
    expect(verdict(tracker.observe("a", "c", 10))).toBe("gap:1-9");
    expect(tracker.observe("a", "c", 9).verdict).toBe("late");
    await expectCryptoError(() => tracker.observe("a", "c", 2), "ReplayDetected");
  });
});
