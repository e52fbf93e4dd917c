import { ed25519 } from "@noble/curves/ed25519.js";
import { describe, expect, it } from "vitest";

import { toHex } from "@/crypto/encoding";
import { ed25519PublicKey, ed25519Sign, SigningKey } from "@/crypto/ed25519-sign";
import { P25519 } from "@/crypto/curve25519";
import { ED25519_D, ED25519_L, ed25519IsValid, ed25519Verify } from "@/crypto/ed25519-verify";
import { expectCryptoError, hex, loadVectors } from "@/test/vectors";

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

describe("constants", () => {
  it("ED25519_D is −121665/121666 mod p (a literal, so nothing is computed at import)", () => {
    const Fp = ed25519.Point.Fp;
    expect(ED25519_D).toBe(Fp.neg(Fp.div(121665n, 121666n)));
  });

  it("P25519 and ED25519_L are 2^255 − 19 and the base point's order", () => {
    expect(P25519).toBe((1n << 255n) - 19n);
    expect(P25519).toBe(ed25519.Point.Fp.ORDER);
    expect(ED25519_L).toBe((1n << 252n) + 27742317777372353535851937790883648493n);
    expect(ED25519_L).toBe(ed25519.Point.Fn.ORDER);
  });
});
