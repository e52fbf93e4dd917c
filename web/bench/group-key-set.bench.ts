/**
 * Key-set creation for a 100-member private group in real Chromium (`npm run bench:keyset`,
 * part of `make bench`; reported, not asserted).
 *
 * Seeding (web/bench/seed.py, Python SDK): the browser's user and 99 other accounts with real
 * keys (display names "Kb<run> a00"…: one search shows 20 of them). Then N times: a fresh browser
 * context signs in as that user (a new device, no pins, nothing cached), creates a group with all
 * 99 through the "New group" dialog (a signed `create` entry), and sends its first message. That
 * send makes generation 1 of the conversation key: every member's key directory fetched and
 * pinned, a fresh key sealed with HPKE X-Wing to 100 PUKs, the statement signed by the device,
 * uploaded. From the page's User Timing (src/session/conversation-keys.ts):
 *
 *   key_set         `hushroom:key-set`: building the set (100 × HPKE X-Wing seal, commitment,
 *                   the device's Ed25519 signature)
 *   key_set_create  `hushroom:key-set-create`: the whole creation (members from the verified
 *                   membership log, their 100 key directories, building, upload, check)
 *   first_send      (wall clock in the page) the Send click → the message confirmed by the
 *                   server (its bubble carries a seq): key set, sealing, socket round trip
 *   group_create    (wall clock in the page) the "Create group" click → the group's view
 *   long tasks      the longest main-thread task during the first send, count, blocking time
 *
 * Writes bench/results/<UTC>-group-key-set.json at the repository root and prints it.
 * Environment: BENCH_KEYSET_RUNS (default 3), BENCH_KEYSET_MEMBERS (others than the creator,
 * default 99), CHROMIUM (default /usr/bin/chromium).
 */
import { expect, type Browser, type Page } from "@playwright/test";

import {
  LONG_TASK_OBSERVER,
  log,
  longTasks,
  measuresNamed,
  round,
  runsFrom,
  seed,
  signIn,
  summary,
  withServerAndBrowser,
  writeResult,
} from "./common.ts";

const RUNS = runsFrom("BENCH_KEYSET_RUNS", 3);
const OTHERS = runsFrom("BENCH_KEYSET_MEMBERS", 99);
const RUN_ID = Date.now().toString(36);
const PASSWORD = "velvet compass 58 drizzle";

interface Seeded {
  readonly creator_email: string;
  readonly member_names: readonly string[];
  readonly search_prefixes: readonly string[];
}

interface Run {
  readonly members: number;
  readonly key_set_ms: number;
  readonly key_set_create_ms: number;
  readonly first_send_ms: number;
  readonly group_create_ms: number;
  readonly longest_task_ms: number;
  readonly long_tasks: number;
  readonly blocking_ms: number;
}

/** Fill the "New group" dialog with every seeded account (one search per 20) and create it. */
async function createGroup(page: Page, seeded: Seeded, name: string): Promise<number> {
  await page.getByRole("button", { name: "New group" }).click();
  const dialog = page.getByRole("dialog", { name: "New group" });
  await dialog.getByLabel("Group name").fill(name);
  const people = dialog.getByLabel("Add people");
  const found = dialog.getByRole("list", { name: "People found" });
  let picked = 0;
  for (const prefix of seeded.search_prefixes) {
    const expected = seeded.member_names.filter((n) => n.startsWith(prefix)).length;
    await people.fill(prefix);
    await expect(found.getByRole("button", { name: prefix })).toHaveCount(expected, { timeout: 30_000 });
    // Pick each one (what clicking them one by one does, without one round trip to the page each).
    await found.evaluate((list) => {
      for (const button of list.querySelectorAll<HTMLButtonElement>("button:not([disabled])")) button.click();
    });
    picked += expected;
    await expect(dialog.getByText(`${String(picked)} ${picked === 1 ? "person" : "people"} added`)).toBeVisible();
  }
  const create = dialog.getByRole("button", { name: "Create group" });
  const started = await create.evaluate((button) => {
    const t = performance.now();
    (button as HTMLButtonElement).click();
    return t;
  });
  await expect(page.getByRole("heading", { name })).toBeVisible({ timeout: 60_000 });
  const shown = await page.evaluate(() => performance.now());
  return shown - started;
}

/** Type the first message and send it; page times of the click and of the confirmed bubble. */
async function firstSend(page: Page, text: string): Promise<{ t0: number; t1: number }> {
  await page.getByLabel("Message", { exact: true }).fill(text);
  const send = page.getByRole("button", { name: "Send", exact: true });
  await expect(send).toBeEnabled();
  return send.evaluate(async (button, body) => {
    const t0 = performance.now();
    (button as HTMLButtonElement).click();
    for (;;) {
      // The confirmed bubble (a seq from the server), not the pending one from the outbox.
      const done = [...document.querySelectorAll(".msg.own[data-seq] .text")].some((p) => p.textContent === body);
      if (done) return { t0, t1: performance.now() };
      if (performance.now() - t0 > 120_000) throw new Error("the first message was not confirmed in 120 s");
      await new Promise((resolveLater) => setTimeout(resolveLater, 5));
    }
  }, text);
}

async function once(browser: Browser, base: string, seeded: Seeded, index: number): Promise<Run> {
  const context = await browser.newContext({ baseURL: base });
  try {
    await context.addInitScript(LONG_TASK_OBSERVER);
    const page = await context.newPage();
    await signIn(page, seeded.creator_email, PASSWORD);
    const name = `Key set ${RUN_ID} ${String(index + 1)}`;
    const groupCreate = await createGroup(page, seeded, name);
    const { t0, t1 } = await firstSend(page, `hello all ${String(index + 1)}`);
    const [built] = await measuresNamed(page, "hushroom:key-set", t0);
    const [created] = await measuresNamed(page, "hushroom:key-set-create", t0);
    if (built === undefined || created === undefined) {
      throw new Error("missing hushroom:key-set measures (src/session/conversation-keys.ts)");
    }
    const tasks = await longTasks(page, t0, t1);
    return {
      members: built.detail?.members ?? Number.NaN,
      key_set_ms: round(built.duration),
      key_set_create_ms: round(created.duration),
      first_send_ms: round(t1 - t0),
      group_create_ms: round(groupCreate),
      longest_task_ms: tasks.max_ms,
      long_tasks: tasks.count,
      blocking_ms: tasks.blocking_ms,
    };
  } finally {
    await context.close();
  }
}

async function main(): Promise<void> {
  await withServerAndBrowser(async ({ base, browser }) => {
    const seeded = await seed<Seeded>(["members", base, RUN_ID, PASSWORD, String(OTHERS)]);
    const runs: Run[] = [];
    for (let i = 0; i < RUNS; i++) {
      const run = await once(browser, base, seeded, i);
      runs.push(run);
      log(`run ${String(i + 1)}/${String(RUNS)}: ${JSON.stringify(run)}`);
    }
    const of = (key: keyof Run) => summary(runs.map((r) => r[key]));
    const keySet = of("key_set_ms");
    writeResult("group-key-set", {
      benchmark: "group-key-set",
      browser: `chromium ${browser.version()}`,
      members: runs[0]?.members,
      hpke: "X-Wing (0x647a), HKDF-SHA256, AES-256-GCM",
      median_ms: keySet.median_ms,
      p95_ms: keySet.p95_ms,
      key_set_create: of("key_set_create_ms"),
      first_send: of("first_send_ms"),
      group_create: of("group_create_ms"),
      longest_task: { ...of("longest_task_ms"), max_ms: Math.max(...runs.map((r) => r.longest_task_ms)) },
      blocking: of("blocking_ms"),
      runs,
    });
  });
}

await main();
