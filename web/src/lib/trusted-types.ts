/**
 * The page's one Trusted Types policy. The server sends `require-trusted-types-for 'script'`
 * with `trusted-types default` (src/hushroom/security_headers.py): no string reaches an HTML,
 * script or script-URL sink unless this policy lets it through.
 *
 * The client uses exactly one such sink: `new Worker(new URL("./argon2-worker.ts",
 * import.meta.url))` (a script URL; Vite needs that literal form to bundle the worker, so it
 * cannot pass a TrustedScriptURL itself). The default policy therefore accepts script URLs of
 * this origin only, and defines no `createHTML` / `createScript`: HTML and script strings are
 * always refused (React renders through DOM APIs, never innerHTML).
 *
 * Imported first by main.tsx, before anything can create a worker. A no-op where the browser
 * has no Trusted Types (the CSP directive is then ignored too) and in tests.
 */

interface TrustedTypesFactory {
  createPolicy(name: string, rules: { createScriptURL?: (input: string) => string }): unknown;
}

/** Same-origin URLs only; anything else throws (the browser then reports a violation). */
export function sameOriginScriptUrl(input: string, base: string = location.href): string {
  const url = new URL(input, base);
  if (url.origin !== new URL(base).origin) {
    throw new TypeError(`script URL refused by the Trusted Types policy: ${url.origin}`);
  }
  return url.href;
}

export function installTrustedTypesPolicy(): void {
  const factory = (globalThis as { trustedTypes?: TrustedTypesFactory }).trustedTypes;
  if (factory === undefined) return;
  factory.createPolicy("default", { createScriptURL: (input) => sameOriginScriptUrl(input) });
}

installTrustedTypesPolicy();
