import { Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from "@hpke/core";
import { describe, expect, it } from "vitest";

import { toHex } from "@/crypto/encoding";
import { hpkeOpen, hpkeSeal, hpkeSealDerand, XWingKeyPair } from "@/crypto/hpke";
import { seededRandom } from "@/crypto/random";
import {
  checkXwingPublicKey,
  xwingDecapsulate,
  xwingEncapsulateDerand,
  xwingPublicKey,
} from "@/crypto/xwing";
import { counterRandom, expectCryptoError, hex, loadVectors } from "@/test/vectors";

describe("HPKE", () => {
  it("RFC 9180 DHKEM(X25519)/HKDF-SHA256/AES-256-GCM base mode: first encryption", async () => {
    const [v] = loadVectors("external/hpke/rfc9180-x25519-sha256-aes256gcm.json") as any[];
    const suite = new CipherSuite({
      kem: new DhkemX25519HkdfSha256(),
      kdf: new HkdfSha256(),
      aead: new Aes256Gcm(),
    });
    const pkR = await suite.kem.deserializePublicKey(hex(v.pkRm).buffer);
    const ekm = await suite.kem.deriveKeyPair(hex(v.ikmE).buffer);
    const sender = await suite.createSenderContext({
      recipientPublicKey: pkR,
      info: hex(v.info).buffer,
      ekm,
    });
    expect(toHex(new Uint8Array(sender.enc))).toBe(v.enc);
    for (const e of v.encryptions.slice(0, 3)) {
      const ct = await sender.seal(hex(e.pt).buffer, hex(e.aad).buffer);
      expect(toHex(new Uint8Array(ct))).toBe(e.ct);
    }
  });

  // DeriveKeyPair(ikm) is not checked: the draft's derivation differs from @hpke's (SHAKE256 of
  // ikm), and Hushroom never derives PUKs from ikm — it stores and expands 32-byte seeds.
  it("draft-ietf-hpke-pq X-Wing (0x647a): key from seed, encapsulation, decapsulation", async () => {
    const all = loadVectors("external/hpke/hpke-pq-xwing-mlkem768.json") as any[];
    const vectors = all.filter((v) => Number(v.kem_id) === 0x647a);
    expect(vectors.length).toBeGreaterThan(0);
    for (const v of vectors) {
      const seed = hex(v.skRm);
      expect(toHex(await xwingPublicKey(seed))).toBe(v.pkRm);
      const { sharedSecret, ciphertext } = await xwingEncapsulateDerand(hex(v.pkRm), hex(v.ikmE));
      expect(toHex(ciphertext)).toBe(v.enc);
      expect(toHex(sharedSecret)).toBe(v.shared_secret);
      expect(toHex(await xwingDecapsulate(seed, hex(v.enc)))).toBe(v.shared_secret);
    }
  });

  it("X-Wing/AES-256-GCM seal and open round-trip, bound to info", async () => {
    const random = seededRandom(new Uint8Array(32));
    const pair = await XWingKeyPair.fromSeed(random(32));
    const info = new TextEncoder().encode("ctx");
    const sealed = await hpkeSeal(pair.publicKey, info, new Uint8Array([1, 2, 3]), random);
    expect(sealed.length).toBe(1120 + 3 + 16);
    expect([...(await pair.open(sealed, info))]).toEqual([1, 2, 3]);
    await expectCryptoError(() => pair.open(sealed, new Uint8Array([9])), "DecryptionFailed");
    const tampered = sealed.slice();
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 1;
    await expectCryptoError(() => hpkeOpen(pair.seed.reveal(), tampered, info), "DecryptionFailed");
    await expectCryptoError(() => pair.open(sealed.subarray(0, 1130), info), "Malformed");
  });

  it("deterministic sealing with explicit encapsulation randomness", async () => {
    const pair = await XWingKeyPair.fromSeed(new Uint8Array(32).fill(3));
    const ekm = new Uint8Array(64).fill(9);
    const a = await hpkeSealDerand(pair.publicKey, new Uint8Array(0), new Uint8Array(32), ekm);
    const b = await hpkeSealDerand(pair.publicKey, new Uint8Array(0), new Uint8Array(32), ekm);
    expect(toHex(a)).toBe(toHex(b));
  });

  it("refuses to seal to a public key with a low-order X25519 half", async () => {
    const pair = await XWingKeyPair.fromSeed(new Uint8Array(32).fill(4));
    const bad = pair.publicKey.slice();
    bad.fill(0, 1184);
    expect(() => {
      checkXwingPublicKey(bad);
    }).toThrow();
    await expectCryptoError(
      () => hpkeSeal(bad, new Uint8Array(0), new Uint8Array(1), counterRandom()),
      "InvalidPublicKey",
    );
  });
});
