/** Exponential backoff with jitter: base·2^attempt capped, then a random 50–100 % of it. */
export const BACKOFF_BASE_MS = 500;
export const BACKOFF_CAP_MS = 10_000;

export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempt, 16));
  return Math.round(ceiling * (0.5 + random() * 0.5));
}

const SERVICE_RESTART = 1012;
const RESTART_HINT = /reconnect_within_ms=(\d{1,6})/;
const MAX_RESTART_SPREAD_MS = 60_000;

/**
 * A restarting server's close (1012) says within how many ms to come back; each tab picks a
 * random moment in it so the nodes that take over are not hit by every tab at once.
 * `null`: no usable hint (the backoff applies).
 */
export function restartSpreadMs(code: number, reason: string): number | null {
  if (code !== SERVICE_RESTART) return null;
  const match = RESTART_HINT.exec(reason);
  if (match === null) return null;
  return Math.min(Number(match[1]), MAX_RESTART_SPREAD_MS);
}
