/**
 * Shared parts of the browser benchmarks that seed through the Python SDK (history render, group
 * key set): a real `hushroom serve` on the built web/dist (the e2e server helpers), Debian's
 * Chromium, the seeding script (web/bench/seed.py), statistics and the results file.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

import { chromium, expect, type Browser, type Locator, type Page } from "@playwright/test";

import { CHROMIUM_ARGS } from "../e2e/chromium.ts";
import { startServer, stopServer } from "../e2e/server.ts";

export const WEB = resolve(import.meta.dirname, "..");
export const REPO = resolve(WEB, "..");
const RESULTS = resolve(REPO, "bench", "results");
const EXECUTABLE = process.env.CHROMIUM ?? "/usr/bin/chromium";

/** Nearest-rank quantile (with few runs, p95 is the slowest run). */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length % 2 === 1) return sorted[mid] ?? Number.NaN;
  return ((sorted[mid - 1] ?? Number.NaN) + (sorted[mid] ?? Number.NaN)) / 2;
}

export const round = (ms: number) => Math.round(ms * 10) / 10;

/** `{median_ms, p95_ms}` of one figure over the runs. */
export function summary(values: readonly number[]): { median_ms: number; p95_ms: number } {
  return { median_ms: round(median(values)), p95_ms: round(quantile(values, 0.95)) };
}

export function runsFrom(name: string, fallback: number): number {
  const n = Number(process.env[name] ?? String(fallback));
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer`);
  return n;
}

export function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** The password of every account seed.py makes (the benches sign in with it). */
export const PASSWORD = "velvet compass 58 drizzle";

/** The program and arguments that run web/bench/seed.py with `args` (from `REPO`). */
export function seedCommand(args: readonly string[]): [string, string[]] {
  const local = join(REPO, ".tools", "bin", "uv");
  return [existsSync(local) ? local : "uv", ["run", "--frozen", "python", join(WEB, "bench", "seed.py"), ...args]];
}

/** Run web/bench/seed.py (real accounts and envelopes through the Python SDK); its JSON. */
export function seed<T>(args: readonly string[], timeoutMs = 240_000): Promise<T> {
  const [program, programArgs] = seedCommand(args);
  return new Promise((resolvePromise, reject) => {
    execFile(
      program,
      programArgs,
      { cwd: REPO, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (stderr !== "") process.stderr.write(stderr);
        if (error) {
          reject(new Error(`seed.py ${args[0] ?? ""} failed: ${error.message}`));
        } else {
          resolvePromise(JSON.parse(stdout) as T);
        }
      },
    );
  });
}

export interface Bench {
  readonly base: string;
  readonly browser: Browser;
}

/** Start a server and Chromium, run `body`, stop both (and remove the server's data). */
export async function withServerAndBrowser<T>(body: (bench: Bench) => Promise<T>): Promise<T> {
  if (!existsSync(resolve(WEB, "dist", "index.html"))) {
    throw new Error("web/dist is missing: run `npm run build` first (make bench does)");
  }
  const port = 20000 + Math.floor(Math.random() * 12000);
  const base = `http://127.0.0.1:${String(port)}`;
  rmSync(`/tmp/hushroom-e2e-${String(port)}`, { recursive: true, force: true });
  const server = await startServer(port);
  try {
    const browser = await chromium.launch({ executablePath: EXECUTABLE, args: [...CHROMIUM_ARGS] });
    try {
      return await body({ base, browser });
    } finally {
      await browser.close();
    }
  } finally {
    await stopServer(server.pid);
    rmSync(server.dir, { recursive: true, force: true });
  }
}

/** Sign in through the login form and wait for the app (vault unlocked, device certified). */
export async function signIn(page: Page, email: string, password: string): Promise<void> {
  page.on("response", (r) => {
    // A 401 from the refresh on the login page is the normal "no session yet".
    if (r.status() >= 400 && !(r.status() === 401 && r.url().endsWith("/auth/refresh"))) log(`HTTP ${String(r.status())} ${r.request().method()} ${r.url()}`);
  });
  page.on("console", (m) => {
    if (m.type() === "error" && !m.text().includes("status of 401")) log(`console: ${m.text()}`);
  });
  await page.goto("/login");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("link", { name: "Browse rooms" })).toBeVisible({ timeout: 60_000 });
}

/** seed.py `history` and `resync`: a sender and a recipient with real keys and an accepted DM. */
export interface SeededDm {
  readonly sender_email: string;
  readonly sender_name: string;
  readonly recipient_email: string;
  readonly conversation_id: string;
}

/** The sender's DM in the recipient's conversation list. */
export function dmLink(page: Page, senderName: string): Locator {
  return page
    .getByRole("navigation", { name: "Conversations" })
    .getByRole("list", { name: "Your conversations" })
    .getByRole("link", { name: senderName });
}

/** The page's `hushroom:` User Timing measures named `name` that started at or after `since`. */
export async function measuresNamed(
  page: Page,
  name: string,
  since = 0,
): Promise<{ startTime: number; duration: number; detail: Record<string, number> | null }[]> {
  return page.evaluate(
    ([n, s]) =>
      performance
        .getEntriesByName(n, "measure")
        .filter((m) => m.startTime >= s)
        .map((m) => ({
          startTime: m.startTime,
          duration: m.duration,
          detail: (m as PerformanceMeasure).detail as Record<string, number> | null,
        })),
    [name, since] as const,
  );
}

/**
 * Long tasks (main thread busy > 50 ms) from the page's start: observed from before any app
 * script runs. Read them with `longTasks`.
 */
export const LONG_TASK_OBSERVER = `
  window.__benchLongTasks = [];
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__benchLongTasks.push({ startTime: e.startTime, duration: e.duration });
    }).observe({ type: "longtask", buffered: true });
  } catch (e) {}
  performance.setResourceTimingBufferSize(5000);
`;

export interface LongTasks {
  readonly max_ms: number;
  readonly count: number;
  /** Σ (duration − 50 ms): the main thread's blocking time. */
  readonly blocking_ms: number;
}

export async function longTasks(page: Page, from: number, to: number): Promise<LongTasks> {
  const tasks = await page.evaluate(
    () => (window as unknown as { __benchLongTasks?: { startTime: number; duration: number }[] }).__benchLongTasks ?? [],
  );
  const inside = tasks.filter((t) => t.startTime + t.duration >= from && t.startTime <= to);
  return {
    max_ms: round(Math.max(0, ...inside.map((t) => t.duration))),
    count: inside.length,
    blocking_ms: round(inside.reduce((sum, t) => sum + Math.max(0, t.duration - 50), 0)),
  };
}

/** The figures every DM render bench (history, resync) has in each run. */
export interface RenderRun {
  readonly total_ms: number;
  readonly decrypt_ms: number;
  readonly rendered: number;
  readonly longest_task_ms: number;
  readonly long_tasks: number;
  readonly blocking_ms: number;
  readonly undecryptable: number;
}

/** A run's long-task fields, as `RenderRun` names them. */
export function longTaskFields(tasks: LongTasks): Pick<RenderRun, "longest_task_ms" | "long_tasks" | "blocking_ms"> {
  return { longest_task_ms: tasks.max_ms, long_tasks: tasks.count, blocking_ms: tasks.blocking_ms };
}

/** `once` run `runs` times in a row, each run logged as it ends. */
export async function repeat<R>(runs: number, once: (index: number) => Promise<R>): Promise<R[]> {
  const done: R[] = [];
  for (let i = 0; i < runs; i++) {
    const run = await once(i);
    done.push(run);
    log(`run ${String(i + 1)}/${String(runs)}: ${JSON.stringify(run)}`);
  }
  return done;
}

/** The results' closing figures of a DM render bench: long tasks and the undecryptable count. */
export function renderTail(runs: readonly RenderRun[]) {
  const of = (key: keyof RenderRun) => summary(runs.map((r) => r[key]));
  return {
    longest_task: { ...of("longest_task_ms"), max_ms: Math.max(...runs.map((r) => r.longest_task_ms)) },
    blocking: of("blocking_ms"),
    undecryptable: Math.max(...runs.map((r) => r.undecryptable)),
  };
}

/** Write bench/results/<UTC>-<name>.json at the repository root and print it. */
export function writeResult(name: string, result: object): void {
  const stamp = new Date().toISOString().replace(/\.\d+Z$/, "Z").replace(/:/g, "");
  mkdirSync(RESULTS, { recursive: true });
  const out = resolve(RESULTS, `${stamp}-${name}.json`);
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n${out}\n`);
}
