/**
 * Account reset when both the password and the recovery code are lost, against a real server:
 * the operator issues a one-time reset code on the command line (`hushroom reset-account EMAIL`),
 * the person resets in a fresh browser after reading what it costs, and ends up with a new
 * identity, a new password and a new recovery code; the old password and the spent code fail.
 * Serial: each step builds on the previous one.
 */
import type { Page } from "@playwright/test";

import { expect, test } from "./fixtures";

import { expectSignInRefused, fresh, openSettings, register, signIn, type Fresh } from "./account-steps";
import { confirmRecoveryCode } from "./recovery-code";
import { runCli } from "./server";

test.describe.configure({ mode: "serial" });

const RUN = Date.now().toString(36);
const EMAIL = `alice-reset-${RUN}@example.com`;
const NAME = "Alice";
const PASSWORD = "amber trellis 62 comet";
const RESET_PASSWORD = "velvet canyon 35 glacier";

let first: Fresh;
let oldFingerprint = "";
let newFingerprint = "";
let oldRecoveryCode = "";
let resetCode = "";

async function fingerprintOf(page: Page): Promise<string> {
  const shown = page.getByTestId("identity-fingerprint");
  await expect(shown).toHaveText(/^(\d{5} ){5}\d{5}$/);
  return (await shown.textContent()) ?? "";
}

/** The reset form, reached the way a person finds it: sign in → forgot → lost the code too. */
async function openResetPage(page: Page): Promise<void> {
  await page.goto("/login");
  await page.getByRole("link", { name: "Forgot password?" }).click();
  await page.getByRole("link", { name: "Lost your recovery code too?" }).click();
  await expect(page).toHaveURL(/\/reset-account$/);
  await expect(page.getByRole("heading", { name: "Reset your account" })).toBeVisible();
}

async function fillReset(page: Page, code: string, password: string): Promise<void> {
  await page.getByLabel("Email").fill(EMAIL);
  await page.getByLabel("Reset code").fill(code);
  await page.getByLabel("New password", { exact: true }).fill(password);
  await page.getByLabel("Confirm new password").fill(password);
}

test.afterAll(async () => {
  await first.context.close();
});

test("Alice registers and notes her identity", async ({ browser }) => {
  first = await fresh(browser);
  const { page } = first;
  await register(page, NAME, EMAIL, PASSWORD);
  oldRecoveryCode = await confirmRecoveryCode(page, "Continue to Hushroom");
  await expect(page.getByRole("link", { name: "Browse rooms" })).toBeVisible({ timeout: 30_000 });
  await openSettings(page);
  oldFingerprint = await fingerprintOf(page);
});

test("the operator issues a reset code on the command line", async () => {
  test.setTimeout(150_000); // two `uv run hushroom` start-ups
  const out = await runCli(["reset-account", EMAIL]);
  const lines = out.trim().split("\n");
  resetCode = (lines.at(-1) ?? "").trim();
  expect(resetCode).toMatch(/^\S{16,}$/);
  await expect(runCli(["reset-account", `nobody-${RUN}@example.com`])).rejects.toThrow();
});

test("the reset page warns first and won't go until the box is ticked", async ({ browser }) => {
  const { context, page } = await fresh(browser);
  await openResetPage(page);
  const warning = page.getByTestId("reset-warning");
  await expect(warning).toContainText("Ask the server's operator for a reset code");
  await expect(warning).toContainText("new identity");
  await expect(warning).toContainText("old private messages can no longer be read by anyone");
  await expect(warning).toContainText("contacts will see that your keys changed");

  await fillReset(page, resetCode, RESET_PASSWORD);
  const requests: string[] = [];
  page.on("request", (r) => {
    if (r.url().includes("/reset-account")) requests.push(r.url());
  });
  await page.getByRole("button", { name: "Reset account" }).click();
  await expect(page.getByText("Tick the box to confirm")).toBeVisible();
  await expect(page.getByTestId("recovery-code")).toHaveCount(0);
  expect(requests).toEqual([]);
  await context.close();
});

test("a fresh browser resets the account: new recovery code, new identity", async ({ browser }) => {
  const { context, page } = await fresh(browser);
  await openResetPage(page);
  await fillReset(page, resetCode, RESET_PASSWORD);
  await page.getByLabel("I understand my old private history will be gone").check();
  await page.getByRole("button", { name: "Reset account" }).click();
  await expect(page.getByText("Account reset: here is your new recovery code")).toBeVisible({ timeout: 30_000 });
  const code = await confirmRecoveryCode(page, "Continue to Hushroom");
  expect(code).not.toBe(oldRecoveryCode);
  await expect(page.getByRole("link", { name: "Browse rooms" })).toBeVisible({ timeout: 30_000 });
  await openSettings(page);
  newFingerprint = await fingerprintOf(page);
  expect(newFingerprint).not.toBe(oldFingerprint);
  await expect(page.getByTestId("puk-generations")).toHaveText("1");
  await expect(page.getByTestId("device")).toHaveCount(1);
  await context.close();
});

test("the old browser's session ended with the reset", async () => {
  const { page } = first;
  await page.reload();
  await expect(page.getByRole("button", { name: "Sign in" })).toBeVisible({ timeout: 15_000 });
});

test("the new password signs in to the new identity; the old one fails", async ({ browser }) => {
  const { context, page } = await fresh(browser);
  await signIn(page, EMAIL, RESET_PASSWORD);
  await expect(page.getByRole("link", { name: "Browse rooms" })).toBeVisible({ timeout: 30_000 });
  await openSettings(page);
  expect(await fingerprintOf(page)).toBe(newFingerprint);
  expect(newFingerprint).not.toBe(oldFingerprint);
  await context.close();

  await expectSignInRefused(browser, EMAIL, PASSWORD);
});

test("the spent reset code is refused", async ({ browser }) => {
  const { context, page } = await fresh(browser);
  await openResetPage(page);
  await fillReset(page, resetCode, "another fresh 27 password");
  await page.getByLabel("I understand my old private history will be gone").check();
  await page.getByRole("button", { name: "Reset account" }).click();
  await expect(page.getByRole("alertdialog")).toContainText("Wrong email or reset code", { timeout: 30_000 });
  await context.close();
});
