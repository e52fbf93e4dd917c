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
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";

import { chromium, expect, type Browser, type Page } from "@playwright/test";

import { CHROMIUM_ARGS } from "../e2e/chromium.ts";
import { confirmRecoveryCode } from "../e2e/recovery-code.ts";
import { startServer, stopServer } from "../e2e/server.ts";

const WEB = resolve(import.meta.dirname, "..");
const RESULTS = resolve(WEB, "..", "bench", "results");
const RUNS = Number(process.env.BENCH_UNLOCK_RUNS ?? "10");
const EXECUTABLE = process.env.CHROMIUM ?? "/usr/bin/chromium";
const EMAIL = `unlock-bench-${Date.now().toString(36)}@example.com`;
const PASSWORD = "velvet compass 58 drizzle";

interface Run {
  readonly unlock_ms: number;
  readonly argon2_ms: number;
  readonly open_ms: number;
  readonly ui_ms: number;
}

/** Nearest-rank quantile (with 10 runs, p95 is the slowest run). */
function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length % 2 === 1) return sorted[mid] ?? Number.NaN;
  return ((sorted[mid - 1] ?? Number.NaN) + (sorted[mid] ?? Number.NaN)) / 2;
}

const round = (ms: number) => Math.round(ms * 10) / 10;

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
  if (!existsSync(resolve(WEB, "dist", "index.html"))) {
    throw new Error("web/dist is missing: run `npm run build` first (make bench does)");
  }
  const port = 20000 + Math.floor(Math.random() * 12000);
  const base = `http://127.0.0.1:${String(port)}`;
  rmSync(`/tmp/hushroom-e2e-${String(port)}`, { recursive: true, force: true });
  const server = await startServer(port);
  const browser = await chromium.launch({
    executablePath: EXECUTABLE,
    args: [...CHROMIUM_ARGS],
  });
  try {
    await register(browser, base);
    const runs: Run[] = [];
    for (let i = 0; i < RUNS; i++) {
      const run = await signIn(browser, base);
      runs.push(run);
      process.stderr.write(`run ${String(i + 1)}/${String(RUNS)}: ${JSON.stringify(run)}\n`);
    }
    const unlock = runs.map((r) => r.unlock_ms);
    const result = {
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
    };
    const stamp = new Date().toISOString().replace(/\.\d+Z$/, "Z").replace(/:/g, "");
    mkdirSync(RESULTS, { recursive: true });
    const out = resolve(RESULTS, `${stamp}-vault-unlock.json`);
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n${out}\n`);
  } finally {
    await browser.close();
    await stopServer(server.pid);
    rmSync(server.dir, { recursive: true, force: true });
  }
}

await main();
