import { describe, expect, it } from "vitest";

import { aesGcmOpen, aesGcmSeal } from "@/crypto/aes-gcm";
import { concatBytes, toHex } from "@/crypto/encoding";
import { expectCryptoError, hex, loadVectors } from "@/test/vectors";

const wycheproof = (name: string) => loadVectors(`external/wycheproof/${name}_test.json`);

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
