import { describe, expect, it } from "vitest";

import { toHex } from "@/crypto/encoding";
import { decodeEvent, encodeTextEvent } from "@/crypto/event";
import { expectCryptoError, hex, loadVectors } from "@/test/vectors";

const v = loadVectors("event.json");

describe("event.json", () => {
  for (const c of v.encode) {
    it(`encode ${c.name}`, () => {
      expect(toHex(encodeTextEvent(c.text))).toBe(c.expected);
      expect(decodeEvent(hex(c.expected)).body).toBe(c.text);
    });
  }

  for (const c of v.decode) {
    it(`decode ${c.name}`, async () => {
      if (c.error) {
        await expectCryptoError(() => decodeEvent(hex(c.plaintext)), c.error);
        return;
      }
      expect({ ...decodeEvent(hex(c.plaintext)) }).toEqual(c.expected);
    });
  }

  it("refuses to encode an empty text", async () => {
    await expectCryptoError(() => encodeTextEvent(""), "Malformed");
  });
});
