/**
 * Guards the lint boundary of src/crypto/: the ESLint config must keep rejecting impure code
 * there (DOM, fetch, storage, clock, ambient randomness, Node, app imports) and accepting the
 * named crypto packages.
 */

import { ESLint } from "eslint";
import tseslint from "typescript-eslint";
import { describe, expect, it } from "vitest";

const eslint = new ESLint({
  cwd: new URL("..", import.meta.url).pathname,
  // The probe files do not exist on disk: lint them without type information.
  overrideConfig: [{ files: ["**/*.ts"], ...tseslint.configs.disableTypeChecked }],
});

async function messages(code: string, filePath = "src/crypto/probe.ts"): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).map((m) => `${m.ruleId ?? "parse"}: ${m.message}`);
}

describe("src/crypto/ lint boundary", () => {
  const forbidden: [string, string][] = [
    ["DOM", "export const x = document.title;"],
    ["window", "export const x = window.location;"],
    ["fetch", "export const x = fetch;"],
    ["IndexedDB", "export const x = indexedDB;"],
    ["localStorage", "export const x = localStorage;"],
    ["clock", "export const x = Date.now();"],
    ["ambient randomness", "export const x = Math.random();"],
    ["WebCrypto global", "export const x = crypto.getRandomValues(new Uint8Array(1));"],
    ["WebSocket", "export const x = WebSocket;"],
    ["XMLHttpRequest", "export const x = XMLHttpRequest;"],
    ["node module", 'import { readFileSync } from "node:fs";\nexport const x = readFileSync;'],
    ["app code", 'import { App } from "@/app/app";\nexport const x = App;'],
    ["lib code", 'import { Argon2Client } from "@/lib/argon2-client";\nexport const x = Argon2Client;'],
    ["react", 'import { useState } from "react";\nexport const x = useState;'],
    ["parent path", 'import { x as y } from "../lib/thing";\nexport const x = y;'],
  ];
  for (const [what, code] of forbidden) {
    it(`rejects ${what}`, async () => {
      const found = await messages(code);
      expect(found.some((m) => m.startsWith("no-restricted-"))).toBe(true);
    });
  }

  it("accepts siblings and the named crypto packages", async () => {
    const code = [
      'import { CipherSuite } from "@hpke/core";',
      'import { XWing } from "@hpke/hybridkem-x-wing";',
      'import { gcm } from "@noble/ciphers/aes.js";',
      'import { ed25519 } from "@noble/curves/ed25519.js";',
      'import { sha256 } from "@noble/hashes/sha2.js";',
      'import { argon2id } from "hash-wasm";',
      'import { Malformed } from "./errors.ts";',
      "export const all = [CipherSuite, XWing, gcm, ed25519, sha256, argon2id, Malformed];",
    ].join("\n");
    expect((await messages(code)).filter((m) => m.startsWith("no-restricted-"))).toEqual([]);
  });

  it("lets code outside src/crypto/ use the browser", async () => {
    const found = await messages("export const x = document.title;", "src/app/probe.ts");
    expect(found.filter((m) => m.startsWith("no-restricted-"))).toEqual([]);
  });
});
