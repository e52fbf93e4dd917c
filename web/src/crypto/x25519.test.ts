import { describe, expect, it } from "vitest";

import { toHex } from "@/crypto/encoding";
import { x25519, x25519PublicKeyOk } from "@/crypto/x25519";
import { hex, loadVectors } from "@/test/vectors";

const wycheproof = (name: string) => loadVectors(`external/wycheproof/${name}_test.json`);

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
