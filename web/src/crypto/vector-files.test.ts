import { readdirSync } from "node:fs";

import { describe, expect, it } from "vitest";

import { loadVectors } from "@/test/vectors";

/**
 * Every vector file and every section in it must be consumed by a test beside its module.
 * A new file or section written by `spec/generate_vectors.py` fails here until TypeScript
 * checks it too.
 */
const CHECKED: Record<string, { test: string; sections: string[] }> = {
  "contacts_store.json": { test: "contacts-store.test.ts", sections: ["key", "seal", "open", "decode"] },
  "device.json": { test: "device.test.ts", sections: ["certify", "verify"] },
  "ed25519.json": { test: "ed25519-verify.test.ts", sections: ["verify"] },
  "encoding.json": {
    test: "encoding.test.ts",
    sections: ["encode", "decode", "typed_fields", "base64url"],
  },
  "event.json": { test: "event.test.ts", sections: ["encode", "decode"] },
  "envelope.json": { test: "envelope.test.ts", sections: ["people", "seal", "open", "counters"] },
  "key_set.json": { test: "conversation-key.test.ts", sections: ["people", "create", "verify", "open"] },
  "membership.json": { test: "membership.test.ts", sections: ["people", "log", "invalid"] },
  "password.json": { test: "password.test.ts", sections: ["derive", "params"] },
  "puk.json": {
    test: "puk.test.ts",
    sections: ["certify", "verify", "xwing_public_key_check", "xwing_from_seed"],
  },
  "recovery.json": { test: "recovery.test.ts", sections: ["generate", "parse"] },
  "safety_number.json": { test: "safety-number.test.ts", sections: ["vectors", "errors"] },
  "vault.json": { test: "vault.test.ts", sections: ["create", "unwrap", "open", "contents_decode"] },
};

describe("spec/vectors coverage", () => {
  const files = readdirSync(new URL("../../../spec/vectors/", import.meta.url)).filter((f) =>
    f.endsWith(".json"),
  );

  it("knows every vector file", () => {
    expect(files.sort()).toEqual(Object.keys(CHECKED).sort());
  });

  for (const file of files) {
    it(`${file}: every section is checked, spec_version 1`, () => {
      const data = loadVectors(file);
      expect(data.spec_version).toBe(1);
      const sections = Object.entries(data)
        .filter(([, value]) => Array.isArray(value))
        .map(([key]) => key)
        .sort();
      expect(sections).toEqual([...(CHECKED[file]?.sections ?? [])].sort());
    });
  }
});
