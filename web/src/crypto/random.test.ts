import { describe, expect, it } from "vitest";

import { toHex } from "@/crypto/encoding";
import { seededRandom } from "@/crypto/random";

describe("seededRandom", () => {
  it("seededRandom matches the Python SeededRandom stream (SHAKE256(seed ‖ u64be(i)))", () => {
    const random = seededRandom(new TextEncoder().encode("seed"));
    expect(toHex(random(8))).toBe("ca609b005a9654a8");
    expect(toHex(random(8))).toBe("0e960575c4dedef2");
  });
});
