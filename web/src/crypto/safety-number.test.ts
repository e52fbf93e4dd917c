import { describe, expect, it } from "vitest";

import { toHex } from "@/crypto/encoding";
import { IdentityPublicKey } from "@/crypto/identity";
import { fingerprint, safetyNumber } from "@/crypto/safety-number";
import { expectCryptoError, hex, loadVectors } from "@/test/vectors";

const v = loadVectors("safety_number.json");

describe("safety_number.json", () => {
  for (const c of v.vectors) {
    it(c.name, () => {
      const a = new IdentityPublicKey(hex(c.identity_a));
      const b = new IdentityPublicKey(hex(c.identity_b));
      expect(toHex(fingerprint(a))).toBe(c.fingerprint_a);
      expect(toHex(fingerprint(b))).toBe(c.fingerprint_b);
      const ab = safetyNumber(a, b);
      const ba = safetyNumber(b, a);
      expect(ab.digits).toBe(c.digits);
      expect(ba.digits).toBe(c.digits);
      expect(toHex(ab.qrPayload)).toBe(c.qr_payload);
      expect(ab.groups()).toHaveLength(12);
    });
  }

  for (const c of v.errors) {
    it(c.name, async () => {
      const a = new IdentityPublicKey(hex(c.identity_a));
      const b = new IdentityPublicKey(hex(c.identity_b));
      await expectCryptoError(() => safetyNumber(a, b), c.error);
    });
  }
});
