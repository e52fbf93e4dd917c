import { describe, expect, it } from "vitest";

import { toHex } from "@/crypto/encoding";
import { hkdfSha256, hmacSha256 } from "@/crypto/hashes";
import { hex, loadVectors } from "@/test/vectors";

const wycheproof = (name: string) => loadVectors(`external/wycheproof/${name}_test.json`);

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
