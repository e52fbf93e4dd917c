/**
 * Real keys for every account (decision 0003) against a real server: the recovery code shown
 * once, a fresh browser unlocking the vault, reloads without the password, devices (rename,
 * revoke with a re-key), password change, "forgot password", and two tabs refreshing at once.
 * Serial: each step builds on the previous one.
 */
import type { Page } from "@playwright/test";

import { expect, test } from "./fixtures";

import { expectSignInRefused, fresh, openSettings, register, signIn, type Fresh } from "./account-steps";
import { confirmRecoveryCode } from "./recovery-code";

test.describe.configure({ mode: "serial" });

const RUN = Date.now().toString(36);
const EMAIL = `keys-${RUN}@example.com`;
const NAME = "Kira";
const PASSWORD = "mauve lantern 73 orbit";
const NEW_PASSWORD = "copper meadow 48 violin";
const RECOVERED_PASSWORD = "silent harbor 91 quartz";
const SECOND = "Kira's second browser";

let first: Fresh;
let fingerprint = "";
let recoveryCode = "";

function ownFingerprint(page: Page) {
  return page.getByTestId("identity-fingerprint");
}

test.afterAll(async () => {
  await first.context.close();
});

test("registration shows the recovery code once and won't continue until it is confirmed", async ({ browser }) => {
  first = await fresh(browser);
  const { page } = first;
  await register(page, NAME, EMAIL, PASSWORD);

  await expect(page.getByTestId("recovery-code")).toBeVisible({ timeout: 30_000 });
  await expect(page.getByText(/private history is gone for good/)).toBeVisible();
  const continueButton = page.getByRole("button", { name: "Continue to Hushroom" });
  await page.getByLabel(/To continue, type group \d of 7/).fill("NOPE");
  await continueButton.click();
  await expect(page.getByText(/That isn't group/)).toBeVisible();
  await expect(page.getByTestId("recovery-code")).toBeVisible();

  recoveryCode = await confirmRecoveryCode(page, "Continue to Hushroom");
  await expect(page.getByRole("link", { name: "Browse rooms" })).toBeVisible({ timeout: 30_000 });
  await openSettings(page);
  await expect(page.getByTestId("puk-generations")).toHaveText("1");
  fingerprint = (await ownFingerprint(page).textContent()) ?? "";
  expect(fingerprint).toMatch(/^(\d{5} ){5}\d{5}$/);
});

let second: Fresh;

test("a fresh browser logs in and unlocks; the vault is not served anonymously", async ({ browser }) => {
  second = await fresh(browser);
  const { page } = second;
  await page.goto("/login");
  const anonymous = await page.evaluate(async () => (await fetch("/api/v1/keys/vault")).status);
  expect(anonymous).toBe(401);

  await signIn(page, EMAIL, PASSWORD);
  await expect(page.getByRole("link", { name: "Browse rooms" })).toBeVisible({ timeout: 30_000 });
  await openSettings(page);
  await expect(ownFingerprint(page)).toHaveText(fingerprint);
});

test("a reload keeps the unlocked state without asking for the password", async () => {
  const { page } = second;
  await page.reload();
  await expect(page.getByRole("heading", { name: "Settings" })).toBeVisible({ timeout: 15_000 });
  await expect(ownFingerprint(page)).toHaveText(fingerprint);
  await expect(page.getByLabel("Password", { exact: true })).toHaveCount(0);
});

test("both browsers see each other in the device list", async () => {
  const mine = second.page.locator('[data-testid="device"][data-current="true"]');
  await mine.getByRole("button", { name: /^Rename/ }).click();
  await second.page.getByLabel("Device name").fill(SECOND);
  await second.page.getByRole("button", { name: "Save" }).click();
  await expect(mine.getByText(SECOND)).toBeVisible();
  await expect(second.page.getByTestId("device")).toHaveCount(2);
  await expect(mine.getByText("This device")).toBeVisible();

  await first.page.reload();
  await expect(first.page.getByTestId("device")).toHaveCount(2, { timeout: 15_000 });
  await expect(first.page.getByTestId("device").filter({ hasText: SECOND })).toBeVisible();
  await expect(first.page.getByText("Not verified yet")).toHaveCount(0);
});

test("revoking the second browser signs it out and shows a new recovery code on the first", async () => {
  const { page } = first;
  await page.getByRole("button", { name: `Revoke ${SECOND}` }).click();
  await page.getByLabel("Your password").fill(PASSWORD);
  await page.getByRole("button", { name: "Revoke device" }).click();
  await expect(page.getByText("Device revoked: here is your new recovery code")).toBeVisible({ timeout: 30_000 });
  const code = await confirmRecoveryCode(page, "Done");
  expect(code).not.toBe(recoveryCode);
  recoveryCode = code;
  await expect(page.getByTestId("puk-generations")).toHaveText("2");
  await expect(page.getByTestId("device")).toHaveCount(1);

  await expect(second.page.getByRole("button", { name: "Sign in" })).toBeVisible({ timeout: 15_000 });
  await second.context.close();
});

test("after a password change the old password fails and the new one unlocks", async ({ browser }) => {
  const { page } = first;
  await page.getByLabel("Current password").fill(PASSWORD);
  await page.getByLabel("New password", { exact: true }).fill(NEW_PASSWORD);
  await page.getByLabel("Confirm new password").fill(NEW_PASSWORD);
  await page.getByRole("button", { name: "Change password" }).click();
  await expect(page.getByText("Password changed.")).toBeVisible({ timeout: 30_000 });

  const other = await fresh(browser);
  await signIn(other.page, EMAIL, PASSWORD);
  const popup = other.page.getByRole("alertdialog");
  await expect(popup).toContainText("Wrong email or password", { timeout: 30_000 });
  await popup.getByRole("button", { name: "OK" }).click();

  await signIn(other.page, EMAIL, NEW_PASSWORD);
  await expect(other.page.getByRole("link", { name: "Browse rooms" })).toBeVisible({ timeout: 30_000 });
  await openSettings(other.page);
  await expect(ownFingerprint(other.page)).toHaveText(fingerprint);
  await expect(other.page.getByTestId("puk-generations")).toHaveText("2");
  await other.context.close();
});

test("forgot password: the recovery code sets a new password", async ({ browser }) => {
  const { context, page } = await fresh(browser);
  await page.goto("/login");
  await page.getByRole("link", { name: "Forgot password?" }).click();
  await page.getByLabel("Email").fill(EMAIL);
  await page.getByLabel("Recovery code").fill(recoveryCode.toLowerCase());
  await page.getByLabel("New password", { exact: true }).fill(RECOVERED_PASSWORD);
  await page.getByLabel("Confirm new password").fill(RECOVERED_PASSWORD);
  await page.getByRole("button", { name: "Set new password" }).click();
  await expect(page.getByText("New password set: here is your new recovery code")).toBeVisible({ timeout: 30_000 });
  const code = await confirmRecoveryCode(page, "Continue to Hushroom");
  expect(code).not.toBe(recoveryCode);
  await expect(page.getByRole("link", { name: "Browse rooms" })).toBeVisible({ timeout: 30_000 });
  await openSettings(page);
  await expect(ownFingerprint(page)).toHaveText(fingerprint);
  await context.close();

  await expectSignInRefused(browser, EMAIL, NEW_PASSWORD);
});

test("two tabs of one session refreshing at once both stay signed in", async ({ browser }) => {
  const { context, page } = await fresh(browser);
  await signIn(page, EMAIL, RECOVERED_PASSWORD);
  await expect(page.getByRole("link", { name: "Browse rooms" })).toBeVisible({ timeout: 30_000 });
  const tab = await context.newPage();
  await tab.goto("/");
  await expect(tab.getByRole("link", { name: "Browse rooms" })).toBeVisible({ timeout: 15_000 });

  for (let round = 0; round < 3; round++) {
    // Every reload starts with a refresh through the shared cookie: both at the same moment.
    await Promise.all([page.reload(), tab.reload()]);
    for (const p of [page, tab]) {
      await expect(p.getByRole("link", { name: "Browse rooms" })).toBeVisible({ timeout: 15_000 });
    }
  }
  // And at once from script, the way the timers do it.
  const statuses = await Promise.all(
    [page, tab].map((p) =>
      p.evaluate(async () => (await fetch("/api/v1/auth/refresh", { method: "POST" })).status),
    ),
  );
  expect(statuses).toEqual([200, 200]);
  await page.reload();
  await expect(page.getByRole("link", { name: "Browse rooms" })).toBeVisible({ timeout: 15_000 });
  await openSettings(page);
  await expect(ownFingerprint(page)).toHaveText(fingerprint);

  // The settings page fits a 375 px phone: nothing scrolls sideways.
  await page.setViewportSize({ width: 375, height: 812 });
  await expect(page.getByRole("button", { name: "Change password" })).toBeVisible();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await context.close();
});
