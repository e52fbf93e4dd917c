/**
 * `test` and `expect` for every e2e spec: the same as @playwright/test's, plus a watch for
 * Content-Security-Policy (and Trusted Types) violations on every page of every browser context
 * the test uses — its own `context`/`page`, contexts made with `browser.newContext()` (also in
 * `beforeAll` or an earlier test of a serial file), their later tabs, and their workers.
 * A test during which any violation happened fails at teardown, listing them.
 *
 *   import { expect, test } from "./fixtures";
 *
 * Two sources, because a violation inside a Worker (e.g. the Argon2 worker compiling
 * WebAssembly) fires no `securitypolicyviolation` event on the document, and Playwright does not
 * pass on what Chromium logs for a worker:
 * - an init script listening for `securitypolicyviolation`, reporting through a binding;
 * - the console: Chromium's messages for the documents' violations (and for an unknown
 *   Permissions-Policy feature), and the Argon2 worker's own report of its violations
 *   (web/src/lib/argon2-worker.ts listens for them and logs them; a worker's console reaches
 *   its page's).
 */
import { test as base, expect, type Browser, type BrowserContext, type Page } from "@playwright/test";

export { expect };

export interface CspViolation {
  readonly via: "event" | "console";
  readonly page: string;
  readonly directive: string;
  readonly blocked: string;
  readonly source: string;
  readonly sample: string;
}

const BINDING = "__hushroomCspViolation";
// Chromium's console text for a CSP or Trusted Types violation (the document's, or a worker's as
// web/src/lib/argon2-worker.ts names it), and for a Permissions-Policy feature it does not know.
const CONSOLE_VIOLATION = /Content Security Policy|Trusted ?Type|TrustedScript|TrustedHTML|Permissions-Policy/i;

/** Every violation seen by this worker process, in order; each test checks its own slice. */
const seen: CspViolation[] = [];
const watched = new WeakSet<BrowserContext>();
const patched = new WeakSet<Browser>();

function describe(v: CspViolation): string {
  const where = v.source === "" ? "" : ` at ${v.source}`;
  const sample = v.sample === "" ? "" : ` sample=${JSON.stringify(v.sample)}`;
  if (v.via === "console") return `[console] ${v.directive} (page ${v.page}${where})`;
  return `[event] ${v.directive} blocked ${v.blocked || "(inline)"} on ${v.page}${where}${sample}`;
}

function watchPage(page: Page): void {
  page.on("console", (message) => {
    const text = message.text();
    if (!["error", "warning"].includes(message.type()) || !CONSOLE_VIOLATION.test(text)) return;
    const location = message.location();
    seen.push({
      via: "console",
      page: page.url(),
      directive: text,
      blocked: "",
      source: location.url === "" ? "" : `${location.url}:${String(location.lineNumber)}`,
      sample: "",
    });
  });
}

/** Idempotent: a context is watched once, whichever way it was made. */
export async function watchContext(context: BrowserContext): Promise<void> {
  if (watched.has(context)) return;
  watched.add(context);
  await context.exposeBinding(BINDING, ({ page }, report: Omit<CspViolation, "via" | "page">) => {
    seen.push({ via: "event", page: page.url(), ...report });
  });
  await context.addInitScript((binding: string) => {
    document.addEventListener("securitypolicyviolation", (e) => {
      const report = (window as unknown as Record<string, (r: unknown) => void>)[binding];
      report?.({
        directive: e.effectiveDirective,
        blocked: e.blockedURI,
        source: e.sourceFile === "" ? "" : `${e.sourceFile}:${String(e.lineNumber)}:${String(e.columnNumber)}`,
        sample: e.sample,
      });
    });
  }, BINDING);
  for (const page of context.pages()) watchPage(page);
  context.on("page", watchPage);
}

/** `browser.newContext()` / `browser.newPage()` watch what they make (once per browser). */
function patchBrowser(browser: Browser): void {
  if (patched.has(browser)) return;
  patched.add(browser);
  const newContext = browser.newContext.bind(browser);
  browser.newContext = async (options) => {
    const context = await newContext(options);
    await watchContext(context);
    return context;
  };
  const newPage = browser.newPage.bind(browser);
  browser.newPage = async (options) => {
    const page = await newPage(options);
    await watchContext(page.context());
    return page;
  };
}

/** A test's view of the watch: what it has seen so far; `accept` takes the violations seen so
 * far off the failure list (for a test that provokes some on purpose) and returns them. */
export interface CspWatch {
  list(): CspViolation[];
  accept(): CspViolation[];
}

export const test = base.extend<{ context: BrowserContext; cspViolations: CspWatch }, { cspWatchBrowser: undefined }>({
  // Worker-scoped, so contexts made in `beforeAll` are watched too.
  cspWatchBrowser: [
    async ({ browser }, use) => {
      patchBrowser(browser);
      await use(undefined);
    },
    { scope: "worker", auto: true },
  ],
  context: async ({ context }, use) => {
    await watchContext(context);
    await use(context);
  },
  cspViolations: [
    // eslint-disable-next-line no-empty-pattern -- Playwright reads a fixture's dependencies from this pattern: none.
    async ({}, use) => {
      let start = seen.length;
      await use({
        list: () => seen.slice(start),
        accept: () => {
          const accepted = seen.slice(start);
          start = seen.length;
          return accepted;
        },
      });
      const lines = seen.slice(start).map(describe);
      expect(lines, `Content-Security-Policy violations during this test:\n${lines.join("\n")}`).toEqual([]);
    },
    { auto: true },
  ],
});
