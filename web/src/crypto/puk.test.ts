import { describe, expect, it } from "vitest";

import { toHex } from "@/crypto/encoding";
import { IdentityKey, IdentityPublicKey } from "@/crypto/identity";
import { checkXwingPublicKey, xwingPublicKey } from "@/crypto/xwing";
import { certifyPuk, PukKeyPair, verifyPukCertificate } from "@/crypto/puk";
import { expectCryptoError, hex, loadVectors } from "@/test/vectors";

const v = loadVectors("puk.json");

describe("puk.json: certify (byte for byte)", () => {
  for (const c of v.certify) {
    it(c.name, async () => {
      const identity = IdentityKey.fromSeed(hex(c.identity_seed));
      expect(toHex(identity.publicKey)).toBe(c.identity_public);
      const puk = await PukKeyPair.create(c.generation, hex(c.puk_seed));
      expect(toHex(puk.publicKey)).toBe(c.puk_public);
      const cert = certifyPuk(identity, c.user_id, puk, c.created_at);
      expect(toHex(cert.encoded)).toBe(c.certificate);
      expect(String(puk)).not.toContain(c.puk_seed.slice(0, 16));
    });
  }
});

describe("puk.json: verify", () => {
  for (const c of v.verify) {
    it(c.name, async () => {
      const run = () =>
        verifyPukCertificate(hex(c.certificate), new IdentityPublicKey(hex(c.identity_public)), c.user_id);
      if (c.error) {
        await expectCryptoError(run, c.error);
      } else {
        const cert = run();
        expect(cert.userId).toBe(c.user_id);
        expect(cert.generation).toBeGreaterThanOrEqual(1);
      }
    });
  }
});

describe("puk.json: xwing_public_key_check", () => {
  for (const c of v.xwing_public_key_check) {
    it(c.name, async () => {
      const run = () => {
        checkXwingPublicKey(hex(c.public_key));
      };
      if (c.error) {
        await expectCryptoError(run, c.error);
      } else {
        run();
      }
    });
  }
});

describe("puk.json: xwing_from_seed", () => {
  for (const c of v.xwing_from_seed) {
    it(c.name, async () => {
      expect(toHex(await xwingPublicKey(hex(c.seed)))).toBe(c.public_key);
    });
  }
});

describe("PUK key pairs", () => {
  it("refuses generation 0", async () => {
    await expectCryptoError(() => PukKeyPair.create(0, new Uint8Array(32)), "Malformed");
  });
});
