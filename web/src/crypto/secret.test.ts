import { inspect } from "node:util";

import { describe, expect, it } from "vitest";

import { SigningKey } from "@/crypto/ed25519-sign";
import { XWingKeyPair } from "@/crypto/hpke";
import { Secret } from "@/crypto/secret";

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
});
