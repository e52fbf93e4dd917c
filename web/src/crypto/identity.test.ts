import { inspect } from "node:util";

import { describe, expect, it } from "vitest";

import { toHex } from "@/crypto/encoding";
import { IdentityKey, IdentityPublicKey } from "@/crypto/identity";
import { Secret } from "@/crypto/secret";
import { counterRandom, expectCryptoError, hex, loadVectors } from "@/test/vectors";

const device = loadVectors("device.json");

describe("identity keys", () => {
  it("derive the vector public key from the seed (Secret or bytes)", () => {
    const c = device.certify[0];
    expect(toHex(IdentityKey.fromSeed(hex(c.identity_seed)).publicKey)).toBe(c.identity_public);
    expect(toHex(IdentityKey.fromSeed(new Secret(hex(c.identity_seed))).public().key)).toBe(
      c.identity_public,
    );
  });

  it("sign and verify strictly; a different message is InvalidSignature", async () => {
    const key = IdentityKey.generate(counterRandom());
    const message = new TextEncoder().encode("statement");
    const signature = key.sign(message);
    const pub = key.public();
    // From the eighth use on, verification goes through the precomputed table.
    for (let i = 0; i < 10; i++) pub.verify(message, signature);
    await expectCryptoError(() => {
      pub.verify(new TextEncoder().encode("statemenT"), signature);
    }, "InvalidSignature");
  });

  it("refuse bad seeds and bad public keys", async () => {
    await expectCryptoError(() => IdentityKey.fromSeed(new Uint8Array(31)), "Malformed");
    await expectCryptoError(() => new IdentityPublicKey(new Uint8Array(31)), "InvalidPublicKey");
    const offCurve = hex("0200000000000000000000000000000000000000000000000000000000000000");
    await expectCryptoError(() => new IdentityPublicKey(offCurve), "InvalidPublicKey");
  });

  it("never print the seed", () => {
    const seed = new Uint8Array(32).fill(0x5c);
    const key = IdentityKey.fromSeed(seed);
    const text = String(key) + JSON.stringify(key) + inspect(key, { depth: 9 });
    expect(text).not.toContain("5c5c5c");
    expect(text).toContain(toHex(key.publicKey));
  });
});
