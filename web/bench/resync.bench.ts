/**
 * Resync after a disconnect in real Chromium (`npm run bench:resync`, part of `make bench`; the
 * target, 1,000 missed messages caught up in ≤ 2 s at p95, is reported, not asserted).
 *
 * Seeding (web/bench/seed.py `resync`, Python SDK): a sender and a recipient with real keys and an
 * accepted DM. Then N times, each in a fresh browser context signed in as the recipient with the
 * DM open: the bench cuts the page's WebSocket (a wrapper installed before the app loads; new
 * sockets are refused meanwhile, so the app backs off and retries as it would offline), the sender stores
 * 1,000 real envelopes, and the socket is let through again. From the moment the new socket
 * reaches the server the app does what it does after any outage: `resume` with its positions,
 * the server sends what fits in one resume (500 by default) and reports the rest as a gap, which
 * the app fills over HTTP; every envelope is verified and opened.
 *
 *   total     the new socket opened → the frame where every missed message is rendered
 *             (the newest one and all 1,000 bubbles in the open DM), decrypted
 *   last      the new socket opened → the newest message rendered
 *   decrypt   Σ of the page's `hushroom:decrypt` measures in that window
 *   long tasks  the longest main-thread task during total, the count, the blocking time
 *   undecryptable  must be 0
 *
 * Writes bench/results/<UTC>-resync.json at the repository root and prints it.
 * Environment: BENCH_RESYNC_RUNS (default 5), BENCH_RESYNC_MESSAGES (default 1000),
 * CHROMIUM (default /usr/bin/chromium).
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createInterface } from "node:readline";

import { expect, type Browser, type Page } from "@playwright/test";

import {
  LONG_TASK_OBSERVER,
  PASSWORD,
  REPO,
  dmLink,
  longTaskFields,
  longTasks,
  measuresNamed,
  renderTail,
  repeat,
  round,
  runsFrom,
  seedCommand,
  signIn,
  summary,
  withServerAndBrowser,
  writeResult,
  type LongTasks,
  type RenderRun,
  type SeededDm,
} from "./common.ts";

const RUNS = runsFrom("BENCH_RESYNC_RUNS", 5);
const MESSAGES = runsFrom("BENCH_RESYNC_MESSAGES", 1000);
const RUN_ID = Date.now().toString(36);

interface Run extends RenderRun {
  readonly last_ms: number;
}

/** seed.py `resync`, kept running: one JSON line when ready, one per round of sends. */
class Seeder {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #lines: AsyncIterator<string>;

  constructor(base: string) {
    const [program, args] = seedCommand(["resync", base, RUN_ID, PASSWORD, String(MESSAGES)]);
    this.#child = spawn(program, args, { cwd: REPO });
    this.#child.stderr.on("data", (chunk: Buffer) => process.stderr.write(chunk));
    this.#lines = createInterface({ input: this.#child.stdout })[Symbol.asyncIterator]();
  }

  async next<T>(): Promise<T> {
    const line = await this.#lines.next();
    if (line.done === true) throw new Error("seed.py resync ended early");
    return JSON.parse(line.value) as T;
  }

  async round(): Promise<number> {
    this.#child.stdin.write("send\n");
    return (await this.next<{ last_seq: number }>()).last_seq;
  }

  close(): void {
    this.#child.stdin.end("quit\n");
  }
}

/**
 * The page's WebSocket, wrapped before any app script runs: `__benchCut` closes the open sockets
 * and sends new ones to a path that refuses the handshake (the app backs off and retries, as
 * offline); `__benchConnectedAt` is when the last socket to the real path opened (epoch ms).
 * In the page, not a Playwright route: a proxied socket would measure the proxy.
 */
const SOCKET_GATE = `
  (() => {
    const Native = window.WebSocket;
    const sockets = [];
    window.__benchCut = false;
    window.__benchConnectedAt = 0;
    window.__benchDrop = () => {
      window.__benchCut = true;
      for (const s of sockets.splice(0)) s.close();
    };
    window.WebSocket = class extends Native {
      constructor(url, protocols) {
        const cut = window.__benchCut;
        super(cut ? String(url).replace(/\\/ws$/, "/ws-offline") : url, protocols);
        if (!cut) {
          sockets.push(this);
          this.addEventListener("open", () => {
            window.__benchConnectedAt = performance.timeOrigin + performance.now();
          });
        }
      }
    };
  })();
`;

interface GateWindow {
  __benchCut: boolean;
  __benchConnectedAt: number;
  __benchDrop: () => void;
}

async function dropSocket(page: Page): Promise<void> {
  await page.evaluate(() => {
    (window as unknown as GateWindow).__benchDrop();
  });
}

/** Let sockets through again; resolves with the epoch ms the next one opened. */
async function reopenSocket(page: Page): Promise<number> {
  await page.evaluate(() => {
    const w = window as unknown as GateWindow;
    w.__benchConnectedAt = 0;
    w.__benchCut = false;
  });
  const at = await page.waitForFunction(
    () => (window as unknown as GateWindow).__benchConnectedAt || null,
    undefined,
    { timeout: 60_000, polling: "raf" },
  );
  return (await at.jsonValue()) as number;
}

async function openDm(page: Page, senderName: string): Promise<void> {
  const link = dmLink(page, senderName);
  await expect(link).toBeVisible({ timeout: 30_000 });
  await link.click();
  await expect(page.locator('[role="log"][aria-label="Messages"] .msg[data-seq]').first()).toBeVisible({
    timeout: 30_000,
  });
}

/** Epoch ms (page clock = this machine's clock) of the frames where the newest message, then
 * every one of `want` messages after `after`, were rendered. */
async function caughtUp(page: Page, after: number, last: number) {
  return page.evaluate(
    async ([from, to]) => {
      const seen = { last: Number.NaN, all: Number.NaN, rendered: 0 };
      const started = performance.now();
      for (;;) {
        await new Promise((resolveFrame) => requestAnimationFrame(resolveFrame));
        const scroller = document.querySelector<HTMLElement>('[role="log"][aria-label="Messages"]');
        const now = performance.timeOrigin + performance.now();
        if (scroller !== null) {
          if (Number.isNaN(seen.last) && scroller.querySelector(`.msg[data-seq="${String(to)}"] .text`) !== null) {
            seen.last = now;
          }
          let rendered = 0;
          for (const el of scroller.querySelectorAll<HTMLElement>(".msg[data-seq]")) {
            const seq = Number(el.dataset.seq);
            if (seq > from && seq <= to) rendered++;
          }
          seen.rendered = rendered;
          if (!Number.isNaN(seen.last) && rendered >= to - from) {
            seen.all = now;
            return seen;
          }
        }
        if (performance.now() - started > 120_000) {
          throw new Error(`only ${String(seen.rendered)} of ${String(to - from)} messages after 120 s`);
        }
      }
    },
    [after, last] as const,
  );
}

async function once(browser: Browser, base: string, seeded: SeededDm, seeder: Seeder, before: number): Promise<Run> {
  const context = await browser.newContext({ baseURL: base });
  try {
    await context.addInitScript(LONG_TASK_OBSERVER);
    const page = await context.newPage();
    await context.addInitScript(SOCKET_GATE);
    await signIn(page, seeded.recipient_email, PASSWORD);
    await openDm(page, seeded.sender_name);
    await expect(page.locator(`.msg[data-seq="${String(before)}"]`)).toBeVisible({ timeout: 30_000 });
    await dropSocket(page);
    const last = await seeder.round();
    const watching = caughtUp(page, before, last);
    const t0 = await reopenSocket(page);
    const seen = await watching;
    // The page's performance.now() at t0 (both clocks are this machine's).
    const pageT0 = await page.evaluate((at) => at - performance.timeOrigin, t0);
    const pageT1 = seen.all - (await page.evaluate(() => performance.timeOrigin));
    const decrypts = (await measuresNamed(page, "hushroom:decrypt", pageT0)).filter((m) => m.startTime <= pageT1);
    const tasks: LongTasks = await longTasks(page, pageT0, pageT1);
    const undecryptable = await page.evaluate(() =>
      Math.max(
        Number(document.documentElement.dataset.undecryptable ?? "0"),
        document.querySelectorAll('[data-testid="message-failure"]').length,
      ),
    );
    return {
      total_ms: round(seen.all - t0),
      last_ms: round(seen.last - t0),
      decrypt_ms: round(decrypts.reduce((sum, m) => sum + m.duration, 0)),
      rendered: seen.rendered,
      ...longTaskFields(tasks),
      undecryptable,
    };
  } finally {
    await context.close();
  }
}

async function main(): Promise<void> {
  await withServerAndBrowser(async ({ base, browser }) => {
    const seeder = new Seeder(base);
    try {
      const seeded = await seeder.next<SeededDm>();
      // Each run's messages follow the previous run's.
      const runs = await repeat(RUNS, (i) => once(browser, base, seeded, seeder, 1 + i * MESSAGES));
      const of = (key: keyof Run) => summary(runs.map((r) => r[key]));
      const total = of("total_ms");
      writeResult("resync", {
        benchmark: "resync",
        target_p95_ms: 2000,
        browser: `chromium ${browser.version()}`,
        messages: MESSAGES,
        median_ms: total.median_ms,
        p95_ms: total.p95_ms,
        last: of("last_ms"),
        decrypt: of("decrypt_ms"),
        ...renderTail(runs),
        runs,
      });
    } finally {
      seeder.close();
    }
  });
}

await main();
