import { defineConfig, devices } from "@playwright/test";

import { CHROMIUM_ARGS } from "./e2e/chromium.ts";

// One port for the whole run (the config is evaluated again in each worker; env is inherited).
// Below Linux's ephemeral range (32768+), where another process's outgoing connection could
// already hold the port (seen once: "address already in use").
process.env.HUSHROOM_E2E_PORT ??= String(20000 + Math.floor(Math.random() * 12000));
const port = Number(process.env.HUSHROOM_E2E_PORT);

export default defineConfig({
  testDir: "./e2e",
  globalSetup: "./e2e/global-setup.ts",
  globalTeardown: "./e2e/global-teardown.ts",
  forbidOnly: true,
  retries: process.env.CI ? 1 : 0,
  workers: 1,
  fullyParallel: false,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: process.env.CI ? [["list"]] : [["list"]],
  outputDir: "test-results/artifacts",
  use: {
    baseURL: `http://127.0.0.1:${String(port)}`,
    trace: "on-first-retry",
    ...devices["Desktop Chrome"],
    viewport: { width: 1280, height: 800 },
    launchOptions: {
      executablePath: "/usr/bin/chromium",
      args: [...CHROMIUM_ARGS],
    },
  },
});
