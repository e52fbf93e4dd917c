import { describe, expect, it } from "vitest";

import { toHex } from "@/crypto/encoding";
import { xwingDecapsulate, xwingEncapsulateDerand, xwingPublicKey } from "@/crypto/xwing";
import { expectCryptoError, hex, loadVectors } from "@/test/vectors";

describe("X-Wing draft KAT", () => {
  const kat = loadVectors("external/xwing/xwing-draft-kat.json");

  for (const [i, v] of (kat.vectors as any[]).entries()) {
    it(`vector ${i}: key from seed, encapsulation, decapsulation`, async () => {
      const seed = hex(v.seed);
      expect(toHex(await xwingPublicKey(seed))).toBe(v.expected_pk);
      const { sharedSecret, ciphertext } = await xwingEncapsulateDerand(
        hex(v.expected_pk),
        hex(v.eseed),
      );
      expect(toHex(ciphertext)).toBe(v.expected_ct);
      expect(toHex(sharedSecret)).toBe(v.expected_ss);
      expect(toHex(await xwingDecapsulate(seed, hex(v.expected_ct)))).toBe(v.expected_ss);
    });
  }
});

describe("X-Wing errors", () => {
  it("decapsulating a ciphertext of the wrong size is DecryptionFailed", async () => {
    await expectCryptoError(
      () => xwingDecapsulate(new Uint8Array(32), new Uint8Array(1119)),
      "DecryptionFailed",
    );
  });

  it("encapsulating to a key of the wrong size is InvalidPublicKey", async () => {
    await expectCryptoError(
      () => xwingEncapsulateDerand(new Uint8Array(1215), new Uint8Array(64)),
      "InvalidPublicKey",
    );
  });
});
