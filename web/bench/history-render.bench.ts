/**
 * Decrypt and render 1,000 history messages in real Chromium (`npm run bench:history`, part of
 * `make bench`; the target, ≤ 2 s, is reported, not asserted).
 *
 * Seeding (web/bench/seed.py, Python SDK): a sender and a recipient with real keys; the sender
 * opens a DM and sends 1,000 real envelopes (one key set, the sender's SDK device signing each).
 * Then N times: a fresh browser context signs in as the recipient (a new device, nothing cached,
 * no pins), and with the conversation list shown the bench clicks the DM and, after every render,
 * scrolls the message list back to the top, until message #1 and all 1,000 bubbles are shown.
 * The app pages history backwards itself (50 per page, asked for on a scroll near the top), so
 * this is the fastest a reader can scroll up through 1,000 messages.
 *
 *   total     click on the DM → the frame where all 1,000 messages are rendered (wall clock in
 *             the page: fetching 20 pages, opening them, React rendering, waiting for frames)
 *   decrypt   Σ of the page's `hushroom:decrypt` measures (src/session/message-crypto.ts
 *             `openAll` per page: key set fetched + verified + HPKE-opened on first use, sender
 *             device certificate, AES-GCM + Ed25519 of every envelope, the yields between chunks)
 *   fetch     Σ of the Resource Timing durations of the history requests
 *   rest      total − decrypt − fetch: rendering, layout, scroll, waiting for the next frame
 *   first_page click → the first page (50 messages) rendered
 *   decrypt_first_page  the first page's `hushroom:decrypt` (includes the one-off work: the
 *             crypto chunk loaded, the key set fetched, verified and opened, the sender's keys)
 *   long tasks  the longest main-thread task (PerformanceObserver 'longtask') during total, the
 *             count, and the blocking time Σ(duration − 50 ms)
 *   undecryptable  `document.documentElement.dataset.undecryptable` at the end (must be 0)
 *
 * Writes bench/results/<UTC>-history-render.json at the repository root and prints it.
 * Environment: BENCH_HISTORY_RUNS (default 5), BENCH_HISTORY_MESSAGES (default 1000),
 * CHROMIUM (default /usr/bin/chromium).
 */
import { expect, type Browser, type Page } from "@playwright/test";

import {
  LONG_TASK_OBSERVER,
  PASSWORD,
  dmLink,
  longTaskFields,
  longTasks,
  measuresNamed,
  renderTail,
  repeat,
  round,
  runsFrom,
  seed,
  signIn,
  summary,
  withServerAndBrowser,
  writeResult,
  type LongTasks,
  type RenderRun,
  type SeededDm,
} from "./common.ts";

const RUNS = runsFrom("BENCH_HISTORY_RUNS", 5);
const MESSAGES = runsFrom("BENCH_HISTORY_MESSAGES", 1000);
const RUN_ID = Date.now().toString(36);

interface Seeded extends SeededDm {
  readonly messages: number;
}

interface Run extends RenderRun {
  readonly fetch_ms: number;
  readonly rest_ms: number;
  readonly first_page_ms: number;
  readonly decrypt_first_page_ms: number;
  readonly pages: number;
  readonly decrypted: number;
}

/**
 * In the page: click the DM, then every frame scroll the list to the top (the app loads the
 * previous page on a scroll near the top), until message seq 1 and `expected` bubbles are in
 * the DOM. Times are the page's `performance.now()`.
 */
async function openAndScrollToTop(page: Page, senderName: string, expected: number) {
  const link = dmLink(page, senderName);
  await expect(link).toBeVisible({ timeout: 30_000 });
  // Let the app settle after sign-in (conversation list, presence): measure only the DM.
  await page.waitForTimeout(500);
  // No named functions inside: tsx would wrap them in a helper the page does not have.
  return link.evaluate(async (el, want) => {
    const t0 = performance.now();
    let first = Number.NaN;
    // Right after each React commit (the view already kept its place after a prepend): back to
    // the top, and tell the list at once, so the next page is asked for without waiting for the
    // next frame's scroll event. The list ignores the nudge while a page is loading.
    const observer = new MutationObserver(() => {
      const scroller = document.querySelector<HTMLElement>('[role="log"][aria-label="Messages"]');
      if (scroller === null || scroller.querySelector(".msg[data-seq]") === null) return;
      if (Number.isNaN(first)) first = performance.now();
      scroller.scrollTop = 0;
      scroller.dispatchEvent(new Event("scroll"));
    });
    observer.observe(document.body, { childList: true, subtree: true });
    (el as HTMLElement).click();
    try {
      for (;;) {
        // Checked once per frame: the end is the frame that shows message 1 and all the others.
        await new Promise((resolveFrame) => requestAnimationFrame(resolveFrame));
        const scroller = document.querySelector<HTMLElement>('[role="log"][aria-label="Messages"]');
        const rendered = scroller?.querySelectorAll(".msg[data-seq]").length ?? 0;
        const now = performance.now();
        if (scroller !== null && rendered >= want && scroller.querySelector('[data-seq="1"]') !== null) {
          return { t0, first, t1: now, rendered };
        }
        if (now - t0 > 120_000) throw new Error(`only ${String(rendered)} messages rendered after 120 s`);
        if (scroller !== null && rendered > 0) {
          scroller.scrollTop = 0;
          scroller.dispatchEvent(new Event("scroll"));
        }
      }
    } finally {
      observer.disconnect();
    }
  }, expected);
}

async function historyFetches(page: Page, conversationId: string, from: number, to: number) {
  return page.evaluate(
    ([id, s, e]) =>
      performance
        .getEntriesByType("resource")
        .filter((r) => r.name.includes(`/api/v1/conversations/${id}/messages`) && r.startTime >= s && r.startTime <= e)
        .map((r) => r.duration),
    [conversationId, from, to] as const,
  );
}

async function once(browser: Browser, base: string, seeded: Seeded): Promise<Run> {
  const context = await browser.newContext({ baseURL: base });
  try {
    await context.addInitScript(LONG_TASK_OBSERVER);
    const page = await context.newPage();
    await signIn(page, seeded.recipient_email, PASSWORD);
    const { t0, first, t1, rendered } = await openAndScrollToTop(page, seeded.sender_name, seeded.messages);
    const decrypts = (await measuresNamed(page, "hushroom:decrypt", t0)).filter((m) => m.startTime <= t1);
    if (decrypts.length === 0) throw new Error("no hushroom:decrypt measures (src/session/message-crypto.ts)");
    const fetches = await historyFetches(page, seeded.conversation_id, t0, t1);
    const tasks: LongTasks = await longTasks(page, t0, t1);
    const state = await page.evaluate(() => ({
      undecryptable: Number(document.documentElement.dataset.undecryptable ?? "NaN"),
      failures: document.querySelectorAll('[data-testid="message-failure"]').length,
      firstText: document.querySelector('[data-seq="1"] .text')?.textContent ?? "",
    }));
    if (!state.firstText.startsWith("#0001 ")) throw new Error(`message 1 reads ${JSON.stringify(state.firstText)}`);
    const total = t1 - t0;
    const decrypt = decrypts.reduce((sum, m) => sum + m.duration, 0);
    const fetch = fetches.reduce((sum, d) => sum + d, 0);
    return {
      total_ms: round(total),
      decrypt_ms: round(decrypt),
      fetch_ms: round(fetch),
      rest_ms: round(total - decrypt - fetch),
      first_page_ms: round(first - t0),
      decrypt_first_page_ms: round(decrypts[0]?.duration ?? Number.NaN),
      pages: fetches.length,
      decrypted: decrypts.reduce((sum, m) => sum + (m.detail?.messages ?? 0), 0),
      rendered,
      ...longTaskFields(tasks),
      undecryptable: Math.max(state.undecryptable, state.failures),
    };
  } finally {
    await context.close();
  }
}

async function main(): Promise<void> {
  await withServerAndBrowser(async ({ base, browser }) => {
    const seeded = await seed<Seeded>(["history", base, RUN_ID, PASSWORD, String(MESSAGES)]);
    const runs = await repeat(RUNS, () => once(browser, base, seeded));
    const of = (key: keyof Run) => summary(runs.map((r) => r[key]));
    const total = of("total_ms");
    writeResult("history-render", {
      benchmark: "history-render",
      target_ms: 2000,
      browser: `chromium ${browser.version()}`,
      messages: seeded.messages,
      median_ms: total.median_ms,
      p95_ms: total.p95_ms,
      decrypt: of("decrypt_ms"),
      fetch: of("fetch_ms"),
      rest: of("rest_ms"),
      first_page: of("first_page_ms"),
      decrypt_first_page: of("decrypt_first_page_ms"),
      ...renderTail(runs),
      runs,
    });
  });
}

await main();
