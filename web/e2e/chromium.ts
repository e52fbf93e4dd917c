/**
 * Debian's Chromium as every browser run here launches it (Playwright e2e and the unlock bench):
 * test tools cannot download a browser, and without the background-networking flags Chromium
 * keeps trying hosts this machine cannot reach.
 */
export const CHROMIUM_ARGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
