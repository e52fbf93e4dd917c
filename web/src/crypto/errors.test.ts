import { readFileSync } from "node:fs";

import { describe, expect, it } from "vitest";

import { CryptoError, ERROR_TYPES, Malformed } from "@/crypto/errors";

describe("typed errors", () => {
  it("have the same class names as hushroom.crypto.errors (Python)", () => {
    const python = readFileSync(
      new URL("../../../src/hushroom/crypto/errors.py", import.meta.url),
      "utf8",
    );
    const names = [...python.matchAll(/^class (\w+)\(/gm)].map((m) => m[1]);
    expect(Object.keys(ERROR_TYPES).sort()).toEqual(names.sort());
  });

  it("carry their class name and derive from CryptoError", () => {
    for (const [name, Type] of Object.entries(ERROR_TYPES)) {
      const error = new Type("x");
      expect(error).toBeInstanceOf(CryptoError);
      expect(error).toBeInstanceOf(Error);
      expect(error.name).toBe(name);
    }
    expect(new Malformed("bad")).not.toBeInstanceOf(ERROR_TYPES.DecryptionFailed);
  });
});
