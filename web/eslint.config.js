// @ts-check
import js from "@eslint/js";
import reactHooks from "eslint-plugin-react-hooks";
import globals from "globals";
import tseslint from "typescript-eslint";

/**
 * The crypto core (src/crypto/) is pure: bytes and records in, bytes and records out.
 * It may import only its siblings and the named crypto packages; randomness and time are
 * injected, so the ambient sources of both are banned here too.
 */
const CRYPTO_ALLOWED_IMPORT =
  "^(?!(\\./[a-z0-9-]+(\\.ts)?$|@hpke/core$|@hpke/hybridkem-x-wing$|@noble/(curves|hashes|ciphers)(/[a-z0-9./_-]+)?$|hash-wasm$|@/crypto/[a-z0-9-]+(\\.ts)?$))";

const CRYPTO_TEST_ALLOWED_IMPORT =
  "^(?!(\\./[a-z0-9-]+(\\.ts)?$|@hpke/core$|@hpke/hybridkem-x-wing$|@noble/(curves|hashes|ciphers)(/[a-z0-9./_-]+)?$|hash-wasm$|@/crypto/[a-z0-9-]+(\\.ts)?$|vitest$|node:(fs|path|url|util)$|@/test/[a-z0-9-]+(\\.ts)?$|@/lib/argon2-hash-wasm$))";

const impureGlobals = [
  "window",
  "self",
  "document",
  "navigator",
  "location",
  "fetch",
  "indexedDB",
  "localStorage",
  "sessionStorage",
  "caches",
  "Date",
  "performance",
  "XMLHttpRequest",
  "WebSocket",
  "EventSource",
  "Worker",
  "crypto",
  "process",
  "Buffer",
  "require",
  "setTimeout",
  "setInterval",
].map((name) => ({
  name,
  message: `src/crypto/ is pure: no '${name}'. Inject randomness, time and I/O from the caller.`,
}));

export default tseslint.config(
  {
    ignores: [
      "dist/",
      "node_modules/",
      "coverage/",
      "eslint.config.js",
      "src/api/schema.gen.ts",
      "playwright-report/",
      "test-results/",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        project: ["./tsconfig.json", "./tsconfig.node.json"],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true }],
      "@typescript-eslint/consistent-type-imports": "error",
      "no-restricted-imports": [
        "error",
        { patterns: [{ group: ["../*"], message: "Use '@/…' imports instead of '../'." }] },
      ],
    },
  },
  {
    files: ["src/**/*.{ts,tsx}"],
    ignores: ["src/crypto/**"],
    languageOptions: { globals: { ...globals.browser } },
    plugins: { "react-hooks": reactHooks },
    rules: { ...reactHooks.configs.recommended.rules },
  },
  ...["auth", "chat", "rooms"].map((feature) => ({
    // Features do not import each other; shared code lives in api/, store/, session/, components/.
    files: [`src/features/${feature}/**/*.{ts,tsx}`],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["../*"], message: "Use '@/…' imports instead of '../'." },
            {
              group: ["@/features/*", `!@/features/${feature}`],
              message: "Features do not import each other (move shared code out of features/).",
            },
          ],
        },
      ],
    },
  })),
  {
    files: ["scripts/**/*.ts", "*.config.ts", "e2e/**/*.ts", "bench/**/*.ts"],
    languageOptions: { globals: { ...globals.node } },
  },
  {
    // Every scenario runs under the CSP-violation watch (e2e/fixtures.ts).
    files: ["e2e/**/*.spec.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: [
            {
              name: "@playwright/test",
              importNames: ["test", "expect"],
              message: "Import test and expect from ./fixtures (it fails a test on any CSP violation).",
            },
          ],
        },
      ],
    },
  },
  {
    // The benchmark reuses the e2e server and steps (../e2e/), outside the '@/' alias.
    files: ["bench/**/*.ts"],
    rules: { "no-restricted-imports": "off" },
  },
  {
    files: ["src/crypto/**/*.ts"],
    languageOptions: { globals: {} },
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              regex: CRYPTO_ALLOWED_IMPORT,
              message:
                "src/crypto/ may import only its siblings and @hpke/*, @noble/*, hash-wasm (no DOM, fetch, storage, node or app code).",
            },
          ],
        },
      ],
      "no-restricted-globals": ["error", ...impureGlobals],
      "no-restricted-properties": [
        "error",
        { object: "Math", property: "random", message: "Inject randomness (RandomSource)." },
        { object: "globalThis", message: "src/crypto/ is pure: no globalThis access." },
      ],
    },
  },
  {
    // Tests read untyped JSON vectors; the unsafe-any rules would only add casts there.
    files: ["src/**/*.test.{ts,tsx}", "src/test/**/*.{ts,tsx}", "scripts/**/*.ts", "e2e/**/*.ts"],
    rules: {
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      "@typescript-eslint/no-non-null-assertion": "off",
    },
  },
  {
    files: ["src/crypto/**/*.test.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              regex: CRYPTO_TEST_ALLOWED_IMPORT,
              message:
                "crypto tests may add only vitest, node:fs/path/url/util and @/test/* to what src/crypto/ may import.",
            },
          ],
        },
      ],
    },
  },
);
