/**
 * Vault unlock in real Chromium (`npm run bench:unlock`, part of `make bench`; not a test: the
 * target, ≤ 1 s, is reported, not asserted). Serves the built web/dist with a real
 * `hushroom serve` (the e2e server helpers), registers one account through the UI, then N times:
 * a fresh browser context signs in with the password, and the page's own User Timing entries
 * (marks in src/session/unlock.ts) give
 *
 *   unlock    prelogin → Argon2id → login → fetch vault → unwrap and open → device certificate → stored
 *   argon2id  the Argon2id worker (64 MiB, t = 3) and the HKDF after it
 *   open      unwrapping the vault key and opening the vault
 *   ui        (wall clock here) the Sign in click until the app shows
 *
 * Writes bench/results/<UTC>-vault-unlock.json at the repository root and prints it.
 * Environment: BENCH_UNLOCK_RUNS (default 10), CHROMIUM (default /usr/bin/chromium).
 */
import { expect, type Browser, type Page } from "@playwright/test";

import { confirmRecoveryCode } from "../e2e/recovery-code.ts";
import { median, quantile, round, withServerAndBrowser, writeResult } from "./common.ts";

const RUNS = Number(process.env.BENCH_UNLOCK_RUNS ?? "10");
const EMAIL = `unlock-bench-${Date.now().toString(36)}@example.com`;
const PASSWORD = "velvet compass 58 drizzle";

interface Run {
  readonly unlock_ms: number;
  readonly argon2_ms: number;
  readonly open_ms: number;
  readonly ui_ms: number;
}

async function register(browser: Browser, base: string): Promise<void> {
  const context = await browser.newContext({ baseURL: base });
  const page = await context.newPage();
  await page.goto("/register");
  await page.getByLabel("Display name").fill("Unlock Bench");
  await page.getByLabel("Email").fill(EMAIL);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByLabel("Confirm password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await confirmRecoveryCode(page, "Continue to Hushroom");
  await expect(page.getByRole("link", { name: "Browse rooms" })).toBeVisible({ timeout: 60_000 });
  await context.close();
}

async function measures(page: Page): Promise<Record<string, number>> {
  return page.evaluate(() =>
    Object.fromEntries(
      performance
        .getEntriesByType("measure")
        .filter((m) => m.name.startsWith("hushroom:"))
        .map((m) => [m.name.slice("hushroom:".length), m.duration]),
    ),
  );
}

async function signIn(browser: Browser, base: string): Promise<Run> {
  const context = await browser.newContext({ baseURL: base });
  try {
    const page = await context.newPage();
    await page.goto("/login");
    await page.getByLabel("Email").fill(EMAIL);
    await page.getByLabel("Password").fill(PASSWORD);
    const started = performance.now();
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByRole("link", { name: "Browse rooms" })).toBeVisible({ timeout: 60_000 });
    const ui = performance.now() - started;
    const m = await measures(page);
    const { unlock, argon2id, "vault-open": open } = m;
    if (unlock === undefined || argon2id === undefined || open === undefined) {
      throw new Error(`missing User Timing entries from src/session/unlock.ts: ${JSON.stringify(m)}`);
    }
    return { unlock_ms: round(unlock), argon2_ms: round(argon2id), open_ms: round(open), ui_ms: round(ui) };
  } finally {
    await context.close();
  }
}

async function main(): Promise<void> {
  await withServerAndBrowser(async ({ base, browser }) => {
    await register(browser, base);
    const runs: Run[] = [];
    for (let i = 0; i < RUNS; i++) {
      const run = await signIn(browser, base);
      runs.push(run);
      process.stderr.write(`run ${String(i + 1)}/${String(RUNS)}: ${JSON.stringify(run)}\n`);
    }
    const unlock = runs.map((r) => r.unlock_ms);
    writeResult("vault-unlock", {
      benchmark: "vault-unlock",
      target_ms: 1000,
      browser: `chromium ${browser.version()}`,
      kdf: { alg: "argon2id", m_kib: 65536, t: 3, p: 1 },
      median_ms: round(median(unlock)),
      p95_ms: round(quantile(unlock, 0.95)),
      argon2_ms: round(median(runs.map((r) => r.argon2_ms))),
      open_ms: round(median(runs.map((r) => r.open_ms))),
      ui_median_ms: round(median(runs.map((r) => r.ui_ms))),
      runs,
    });
  });
}

await main();
