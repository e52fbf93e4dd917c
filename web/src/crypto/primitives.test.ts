import { inspect } from "node:util";

import { Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from "@hpke/core";
import { describe, expect, it } from "vitest";

import { concatBytes, toHex } from "@/crypto/encoding";
import {
  aesGcmOpen,
  aesGcmSeal,
  checkXwingPublicKey,
  ed25519IsValid,
  ed25519PublicKey,
  ed25519Sign,
  ed25519Verify,
  hkdfSha256,
  hmacSha256,
  hpkeOpen,
  hpkeSeal,
  hpkeSealDerand,
  seededRandom,
  Secret,
  SigningKey,
  x25519,
  x25519PublicKeyOk,
  XWingKeyPair,
  xwingDecapsulate,
  xwingEncapsulateDerand,
  xwingPublicKey,
} from "@/crypto/primitives";
import { counterRandom, expectCryptoError, hex, loadVectors } from "@/test/vectors";

const wycheproof = (name: string) => loadVectors(`external/wycheproof/${name}_test.json`);

describe("Wycheproof Ed25519 (strict rule, docs/crypto.md §4.1)", () => {
  const file = wycheproof("ed25519");
  const cases = file.testGroups.flatMap((g: any) =>
    g.tests.map((t: any) => ({ ...t, publicKey: g.publicKey.pk })),
  );

  it("has vectors", () => {
    expect(cases.length).toBeGreaterThan(100);
  });

  it("accepts every valid and rejects every invalid vector", () => {
    const wrong: string[] = [];
    for (const t of cases) {
      const ok = ed25519IsValid(hex(t.publicKey), hex(t.msg), hex(t.sig));
      if (ok !== (t.result === "valid")) wrong.push(`tcId ${t.tcId} (${t.comment}) → ${ok}`);
    }
    expect(wrong).toEqual([]);
  });

  it("signs like RFC 8032 (signature of a valid vector re-derives from its key pair)", () => {
    const seed = new Uint8Array(32).fill(7);
    const key = new SigningKey(seed);
    expect(toHex(key.publicKey)).toBe(toHex(ed25519PublicKey(seed)));
    const sig = ed25519Sign(seed, new Uint8Array([1, 2, 3]));
    expect(ed25519IsValid(key.publicKey, new Uint8Array([1, 2, 3]), sig)).toBe(true);
    expect(ed25519IsValid(key.publicKey, new Uint8Array([1, 2, 4]), sig)).toBe(false);
  });
});

describe("Wycheproof X25519", () => {
  const file = wycheproof("x25519");
  const cases = file.testGroups.flatMap((g: any) => g.tests);

  it("matches every valid vector and rejects low-order public keys", () => {
    const wrong: string[] = [];
    for (const t of cases) {
      const allZero = /^0+$/.test(t.shared);
      let out: string | null;
      try {
        out = toHex(x25519(hex(t.private), hex(t.public)));
      } catch {
        out = null;
      }
      if (allZero) {
        if (out !== null) wrong.push(`tcId ${t.tcId}: low-order key accepted`);
        if (x25519PublicKeyOk(hex(t.public))) wrong.push(`tcId ${t.tcId}: check accepted`);
      } else if (t.result !== "invalid" && out !== t.shared) {
        wrong.push(`tcId ${t.tcId} (${t.comment}): ${String(out)}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});

describe("Wycheproof AES-256-GCM (96-bit IV, 128-bit tag)", () => {
  const file = wycheproof("aes_gcm");
  const groups = file.testGroups.filter(
    (g: any) => g.keySize === 256 && g.ivSize === 96 && g.tagSize === 128,
  );
  const cases = groups.flatMap((g: any) => g.tests);

  it("has vectors", () => {
    expect(cases.length).toBeGreaterThan(20);
  });

  it("seals valid vectors byte for byte and rejects invalid ones", async () => {
    for (const t of cases) {
      const key = hex(t.key);
      const iv = hex(t.iv);
      const aad = hex(t.aad);
      const sealed = concatBytes(hex(t.ct), hex(t.tag));
      if (t.result === "valid") {
        expect(toHex(aesGcmSeal(key, iv, hex(t.msg), aad)), `tcId ${t.tcId}`).toBe(toHex(sealed));
        expect(toHex(aesGcmOpen(key, iv, sealed, aad))).toBe(t.msg);
      } else {
        await expectCryptoError(() => aesGcmOpen(key, iv, sealed, aad), "DecryptionFailed");
      }
    }
  });
});

describe("Wycheproof HKDF-SHA256 and HMAC-SHA256", () => {
  it("derives every valid HKDF vector", () => {
    const cases = wycheproof("hkdf_sha256").testGroups.flatMap((g: any) => g.tests);
    let checked = 0;
    for (const t of cases) {
      if (t.result !== "valid") continue;
      expect(toHex(hkdfSha256(hex(t.ikm), hex(t.salt), hex(t.info), t.size)), `tcId ${t.tcId}`).toBe(
        t.okm,
      );
      checked++;
    }
    expect(checked).toBeGreaterThan(50);
  });

  it("matches every full-length HMAC tag", () => {
    const groups = wycheproof("hmac_sha256").testGroups.filter((g: any) => g.tagSize === 256);
    let checked = 0;
    for (const g of groups) {
      for (const t of g.tests) {
        const tag = toHex(hmacSha256(hex(t.key), hex(t.msg)));
        expect(tag === t.tag, `tcId ${t.tcId}`).toBe(t.result === "valid");
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(50);
  });
});

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

describe("secrets never print", () => {
  it("redacts Secret, SigningKey and XWingKeyPair in toString, JSON and inspect", async () => {
    const bytes = new Uint8Array(32).fill(0xab);
    const marker = "abababab";
    const things = [
      new Secret(bytes),
      new SigningKey(bytes),
      await XWingKeyPair.fromSeed(bytes),
    ];
    for (const thing of things) {
      for (const text of [String(thing), JSON.stringify(thing), inspect(thing, { depth: 5 })]) {
        expect(text).not.toContain(marker);
        expect(text).toContain("redacted");
      }
    }
  });

  it("seededRandom matches the Python SeededRandom stream (SHAKE256(seed ‖ u64be(i)))", () => {
    const random = seededRandom(new TextEncoder().encode("seed"));
    expect(toHex(random(8))).toBe("ca609b005a9654a8");
    expect(toHex(random(8))).toBe("0e960575c4dedef2");
  });
});

describe("ed25519.json (one vector per rule of docs/crypto.md §4.1)", () => {
  const v = loadVectors("ed25519.json");
  for (const c of v.verify) {
    it(c.name, async () => {
      const run = () => {
        ed25519Verify(hex(c.public_key), hex(c.message), hex(c.signature));
      };
      if (c.error) {
        await expectCryptoError(run, c.error);
      } else {
        run();
      }
    });
  }
});
