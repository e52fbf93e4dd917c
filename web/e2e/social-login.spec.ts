/**
 * "Continue with …" in real Chromium, against a real OpenID Connect provider (the `oidc-provider`
 * package on loopback, e2e/oidc/provider.ts) and a Facebook-shaped OAuth server
 * (tests/support/fake_idp.py), both started by the global setup:
 * - Dana signs up through the provider, sets a chat passphrase, keeps her recovery code and
 *   chats end-to-end encrypted with Erin (a password account);
 * - on a fresh browser she signs in through the provider and her passphrase unlocks the history;
 * - Erin links the provider to her password account from the settings, then signs in with it;
 * - Dana links Facebook and signs in with it; a cancelled sign-in says so and signs nobody in.
 * Serial: each step builds on the previous one.
 */
import type { Browser, BrowserContext, Page } from "@playwright/test";

import { expect, test } from "./fixtures";

import { api, messages, openConversation, openSettings, type Person, person as newPerson, registerAndEnter, send } from "./account-steps";
import { nextFacebookUser } from "./oidc-provider";
import { confirmRecoveryCode } from "./recovery-code";

test.describe.configure({ mode: "serial" });

const RUN = Date.now().toString(36);
const PASSPHRASE = "amber thistle 62 lantern";
const PASSWORD = "violet quarry 35 meadow";
// The provider's accounts: any login signs in, as `<login>@example.test` (e2e/oidc/provider.ts).
const DANA_LOGIN = `dana-${RUN}`;
const ERIN_LOGIN = `erin-${RUN}`;
const ERIN = { name: `Erin ${RUN}`, email: `erin-${RUN}@example.com` };
const DANA_FACEBOOK = { id: `fb-${RUN}`, name: "Dana on Facebook", email: `dana-fb-${RUN}@example.test` };

const contexts: BrowserContext[] = [];
let dana: Person;
let erin: Person;
let dmId = "";

async function person(browser: Browser): Promise<Person> {
  return newPerson(browser, contexts);
}

/** On the provider's own page (a new browser has no session there): sign in as `login`. */
async function atTestId(page: Page, login: string): Promise<void> {
  await expect(page.getByRole("heading", { name: "Sign in to Test ID" })).toBeVisible({ timeout: 30_000 });
  await page.getByLabel("Login").fill(login);
  await page.getByLabel("Password").fill("anything the provider accepts");
  await page.getByRole("button", { name: "Continue" }).click();
}

async function continueWithTestId(page: Page, login: string): Promise<void> {
  await page.goto("/login");
  await page.getByRole("button", { name: "Continue with Test ID" }).click();
  await atTestId(page, login);
}

async function inTheApp(page: Page): Promise<void> {
  await expect(page.getByRole("link", { name: "Browse rooms" })).toBeVisible({ timeout: 30_000 });
}

async function unlock(page: Page, label: "Chat passphrase" | "Password", secret: string): Promise<void> {
  await expect(page.getByRole("heading", { name: "Unlock your messages" })).toBeVisible({ timeout: 30_000 });
  await page.getByLabel(label, { exact: true }).fill(secret);
  await page.getByRole("button", { name: "Unlock" }).click();
  await inTheApp(page);
}

async function openDm(page: Page): Promise<void> {
  await openConversation(page, dmId);
}

function methodsSection(page: Page) {
  return page.getByRole("region", { name: "Sign-in methods" });
}

function signInMethods(page: Page) {
  return methodsSection(page).getByRole("list", { name: "Your sign-in methods" });
}

async function signInCount(p: Person): Promise<number> {
  return (await api(p, "GET", "/api/v1/account/sign-in-methods")).identities.length;
}

test.afterAll(async () => {
  for (const context of contexts) await context.close().catch(() => undefined);
});

test("Dana signs up through Test ID, sets a chat passphrase, keeps her recovery code and chats", async ({ browser }) => {
  test.setTimeout(120_000);
  erin = await person(browser);
  await registerAndEnter(erin.page, ERIN, PASSWORD);

  dana = await person(browser);
  await dana.page.goto("/register");
  await dana.page.getByRole("button", { name: "Continue with Test ID" }).click();
  await atTestId(dana.page, DANA_LOGIN);
  await expect(dana.page.getByRole("heading", { name: "Create your Hushroom account" })).toBeVisible({ timeout: 30_000 });
  await expect(dana.page.getByLabel("Email")).toHaveValue(`${DANA_LOGIN}@example.test`);
  // The page says in plain words that the provider never gets what unlocks the messages.
  await expect(dana.page.getByTestId("provider-explainer")).toContainText("Test ID never receives it");
  await dana.page.getByLabel("Display name").fill(`Dana ${RUN}`);
  await dana.page.getByLabel("Chat passphrase", { exact: true }).fill(PASSPHRASE);
  await dana.page.getByLabel("Confirm chat passphrase", { exact: true }).fill(PASSPHRASE);
  await dana.page.getByRole("button", { name: "Create account" }).click();
  await expect(dana.page.getByRole("heading", { name: "Account created: save your recovery code" })).toBeVisible({
    timeout: 30_000,
  });
  await confirmRecoveryCode(dana.page, "Continue to Hushroom");
  await inTheApp(dana.page);

  const me = await api(dana, "GET", "/api/v1/me");
  expect(me.email).toBe(`${DANA_LOGIN}@example.test`);
  const erinId = (await api(erin, "GET", "/api/v1/me")).user_id;
  dmId = (await api(dana, "POST", "/api/v1/dms", { user_id: erinId })).id;
  await openDm(dana.page);
  await openDm(erin.page);
  await send(dana.page, "Hi Erin, signed up through Test ID");
  await expect(messages(erin.page).getByText("Hi Erin, signed up through Test ID")).toBeVisible({ timeout: 30_000 });
  await send(erin.page, "Welcome Dana, this stays between us");
  await expect(messages(dana.page).getByText("Welcome Dana, this stays between us")).toBeVisible({ timeout: 30_000 });
  const stored = await api(dana, "GET", `/api/v1/conversations/${dmId}/messages?limit=50`);
  expect(JSON.stringify(stored)).not.toContain("Welcome Dana");
});

test("on a fresh browser Dana signs in through Test ID and her passphrase unlocks the history", async ({ browser }) => {
  const second = await person(browser);
  await continueWithTestId(second.page, DANA_LOGIN);
  // A wrong passphrase is refused in plain words, and the right one opens the keys.
  await expect(second.page.getByRole("heading", { name: "Unlock your messages" })).toBeVisible({ timeout: 30_000 });
  await second.page.getByLabel("Chat passphrase", { exact: true }).fill("not my passphrase at all");
  await second.page.getByRole("button", { name: "Unlock" }).click();
  await expect(second.page.getByRole("alertdialog")).toBeVisible({ timeout: 30_000 });
  await second.page.getByRole("alertdialog").getByRole("button").first().click();
  await unlock(second.page, "Chat passphrase", PASSPHRASE);
  await openDm(second.page);
  for (const text of ["Hi Erin, signed up through Test ID", "Welcome Dana, this stays between us"]) {
    await expect(messages(second.page).getByText(text)).toBeVisible({ timeout: 30_000 });
  }
  await expect(second.page.locator("html")).not.toHaveAttribute("data-undecryptable", /[1-9]/);
  await send(second.page, "Hello from my second browser");
  await expect(messages(erin.page).getByText("Hello from my second browser")).toBeVisible({ timeout: 30_000 });
});

test("Erin links Test ID to her password account from the settings, then signs in with it", async ({ browser }) => {
  await openSettings(erin.page);
  await erin.page.getByRole("button", { name: "Link Test ID" }).click();
  await methodsSection(erin.page).getByLabel("Current password").fill(PASSWORD);
  await erin.page.getByRole("button", { name: "Continue to Test ID" }).click();
  await atTestId(erin.page, ERIN_LOGIN);
  await expect(erin.page.getByText("Test ID now signs you in to this account.")).toBeVisible({ timeout: 30_000 });
  await expect(signInMethods(erin.page).getByTestId("sign-in-identity")).toContainText(["Test ID"]);
  expect(await signInCount(erin)).toBe(1);

  const second = await person(browser);
  await continueWithTestId(second.page, ERIN_LOGIN);
  // Her keys stay behind her password: the provider only proves who she is.
  await unlock(second.page, "Password", PASSWORD);
  await openDm(second.page);
  await expect(messages(second.page).getByText("Hello from my second browser")).toBeVisible({ timeout: 30_000 });
});

test("Dana links Facebook with her passphrase and signs in with it on another browser", async ({ browser }) => {
  await dana.page.goto("/settings");
  await nextFacebookUser(DANA_FACEBOOK);
  await dana.page.getByRole("button", { name: "Link Facebook" }).click();
  await methodsSection(dana.page).getByLabel("Chat passphrase", { exact: true }).fill(PASSPHRASE);
  await dana.page.getByRole("button", { name: "Continue to Facebook" }).click();
  await expect(dana.page.getByText("Facebook now signs you in to this account.")).toBeVisible({ timeout: 30_000 });
  await expect(signInMethods(dana.page).getByTestId("sign-in-identity")).toHaveCount(2);

  const third = await person(browser);
  await nextFacebookUser(DANA_FACEBOOK);
  await third.page.goto("/login");
  await third.page.getByRole("button", { name: "Continue with Facebook" }).click();
  await unlock(third.page, "Chat passphrase", PASSPHRASE);
  await openDm(third.page);
  await expect(messages(third.page).getByText("Welcome Dana, this stays between us")).toBeVisible({ timeout: 30_000 });

  // Unlinking leaves Test ID; the last way in can't be removed.
  dana.page.once("dialog", (dialog) => void dialog.accept());
  await dana.page.getByRole("button", { name: "Unlink Facebook" }).click();
  await expect(signInMethods(dana.page).getByTestId("sign-in-identity")).toHaveCount(1);
  expect(await signInCount(dana)).toBe(1);
});

test("cancelling at the provider says so in plain words and signs nobody in", async ({ browser }) => {
  const visitor = await person(browser);
  await visitor.page.goto("/login");
  await visitor.page.getByRole("button", { name: "Continue with Test ID" }).click();
  await expect(visitor.page.getByRole("heading", { name: "Sign in to Test ID" })).toBeVisible({ timeout: 30_000 });
  await visitor.page.getByRole("button", { name: "Cancel" }).click();
  await expect(visitor.page.getByRole("alertdialog")).toContainText("Sign-in cancelled", { timeout: 30_000 });
  await expect(visitor.page).toHaveURL(/outcome=error/);
  // Nothing signed in: the app still asks who you are.
  await visitor.page.goto("/");
  await expect(visitor.page.getByRole("button", { name: "Continue with Test ID" })).toBeVisible({ timeout: 30_000 });
});
