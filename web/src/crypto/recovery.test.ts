import { inspect } from "node:util";

import { describe, expect, it } from "vitest";

import { fromUtf8, toHex } from "@/crypto/encoding";
import {
  ALPHABET,
  codeFromEntropy,
  deriveRecoveryAuth,
  deriveRecoveryKey,
  generateRecoveryCode,
  parseRecoveryCode,
} from "@/crypto/recovery";
import { counterRandom, expectCryptoError, hex, loadVectors } from "@/test/vectors";

const v = loadVectors("recovery.json");

describe("recovery.json: generate", () => {
  for (const c of v.generate) {
    it(c.name, () => {
      const code = codeFromEntropy(hex(c.entropy));
      expect(fromUtf8(code.reveal())).toBe(c.canonical);
      expect(code.formatted()).toBe(c.formatted);
      expect(toHex(deriveRecoveryKey(code).reveal())).toBe(c.recovery_key);
      // §6.5; optional so that older vector files still load.
      if (c.recovery_auth !== undefined) {
        expect(toHex(deriveRecoveryAuth(code))).toBe(c.recovery_auth);
        expect(toHex(code.recoveryAuth())).toBe(c.recovery_auth);
      }
      expect(String(code) + inspect(code) + JSON.stringify(code)).not.toContain(c.canonical);
    });
  }
});

describe("recovery.json: parse", () => {
  for (const c of v.parse) {
    it(c.name, async () => {
      if (c.error) {
        await expectCryptoError(() => parseRecoveryCode(c.input), c.error);
      } else {
        expect(fromUtf8(parseRecoveryCode(c.input).reveal())).toBe(c.canonical);
      }
    });
  }
});

describe("recovery code checksum", () => {
  it("catches every single substitution and adjacent transposition of a generated code", () => {
    const code = fromUtf8(generateRecoveryCode(counterRandom()).reveal());
    let missed = 0;
    for (let i = 0; i < code.length; i++) {
      for (const c of ALPHABET) {
        if (c === code[i]) continue;
        const typo = code.slice(0, i) + c + code.slice(i + 1);
        try {
          parseRecoveryCode(typo);
          missed++;
        } catch {
          // caught, as it should be
        }
      }
      if (i + 1 < code.length && code[i] !== code[i + 1]) {
        const swapped = code.slice(0, i) + code.charAt(i + 1) + code.charAt(i) + code.slice(i + 2);
        try {
          parseRecoveryCode(swapped);
          missed++;
        } catch {
          // caught
        }
      }
    }
    expect(missed).toBe(0);
  });
});

describe("recovery authenticator", () => {
  it("is independent of the recovery key (another HKDF label)", () => {
    const code = generateRecoveryCode(counterRandom());
    expect(deriveRecoveryAuth(code)).toHaveLength(32);
    expect(toHex(deriveRecoveryAuth(code))).not.toBe(toHex(deriveRecoveryKey(code).reveal()));
  });
});
