/** Shared e2e steps: a fresh browser, registering, resetting, signing in, settings, and sending in a conversation. */
import { expect, type Browser, type BrowserContext, type Page } from "@playwright/test";

import { confirmRecoveryCode } from "./recovery-code";

export interface Fresh {
  context: BrowserContext;
  page: Page;
}

/** A new browser context (nothing stored: a person on another browser) and a page in it. */
export async function fresh(browser: Browser): Promise<Fresh> {
  const context = await browser.newContext();
  return { context, page: await context.newPage() };
}

/** Fill in the registration form and send it; the recovery code step comes next. */
export async function register(page: Page, name: string, email: string, password: string): Promise<void> {
  await page.goto("/register");
  await page.getByLabel("Display name").fill(name);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByLabel("Confirm password").fill(password);
  await page.getByRole("button", { name: "Create account" }).click();
}

/** Register, confirm the recovery code and wait until the app shows. */
export async function registerAndEnter(
  page: Page,
  who: { name: string; email: string },
  password: string,
): Promise<void> {
  await register(page, who.name, who.email, password);
  await confirmRecoveryCode(page, "Continue to Hushroom");
  await expect(page.getByRole("link", { name: "Browse rooms" })).toBeVisible({ timeout: 30_000 });
}

/** A fresh browser whose latest bearer token (read off the app's own requests) the test can use. */
export interface Person extends Fresh {
  token: () => string;
}

export async function person(browser: Browser, contexts: BrowserContext[]): Promise<Person> {
  const { context, page } = await fresh(browser);
  contexts.push(context);
  let token = "";
  page.on("request", (request) => {
    const auth = request.headers().authorization;
    if (auth?.startsWith("Bearer ") === true) token = auth.slice("Bearer ".length);
  });
  return { context, page, token: () => token };
}

/** An authenticated API call with the app's own token. */
export async function api(p: Person, method: "GET" | "POST", path: string, data?: unknown): Promise<any> {
  await expect.poll(() => p.token(), { timeout: 15_000 }).not.toBe("");
  const response = await p.page.request.fetch(path, {
    method,
    headers: { Authorization: `Bearer ${p.token()}`, "Content-Type": "application/json" },
    ...(data === undefined ? {} : { data: JSON.stringify(data) }),
  });
  const text = await response.text();
  if (!response.ok()) throw new Error(`${method} ${path}: ${String(response.status())} ${text}`);
  return text === "" ? null : JSON.parse(text);
}

/** Open conversation `id` and wait until it can be written in and the connection is up. */
export async function openConversation(page: Page, id: string): Promise<void> {
  await page.goto(`/c/${id}`);
  await expect(page.getByLabel("Message", { exact: true })).toBeVisible({ timeout: 30_000 });
  await expect(page.locator(".banner")).toBeHidden({ timeout: 30_000 });
}

/** On a fresh browser: reset the account with an operator's reset code, then enter the app. */
export async function resetAccountAndEnter(page: Page, email: string, resetCode: string, password: string): Promise<void> {
  await page.goto("/reset-account");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Reset code").fill(resetCode);
  await page.getByLabel("New password", { exact: true }).fill(password);
  await page.getByLabel("Confirm new password").fill(password);
  await page.getByLabel("I understand my old private history will be gone").check();
  await page.getByRole("button", { name: "Reset account" }).click();
  await confirmRecoveryCode(page, "Continue to Hushroom");
  await expect(page.getByRole("link", { name: "Browse rooms" })).toBeVisible({ timeout: 30_000 });
}

/** The conversation's message log. */
export function messages(page: Page) {
  return page.getByRole("log", { name: "Messages" });
}

/** Type `text` in the composer and press Enter. */
export async function send(page: Page, text: string): Promise<void> {
  const box = page.getByLabel("Message", { exact: true });
  await box.fill(text);
  await box.press("Enter");
}

export async function signIn(page: Page, email: string, password: string): Promise<void> {
  await page.goto("/login");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

export async function openSettings(page: Page): Promise<void> {
  await page.getByRole("link", { name: "Settings" }).first().click();
  await expect(page.getByRole("heading", { name: "Settings" })).toBeVisible();
}

/** A fresh browser signing in with `password` is told the email or password is wrong. */
export async function expectSignInRefused(browser: Browser, email: string, password: string): Promise<void> {
  const check = await fresh(browser);
  await signIn(check.page, email, password);
  await expect(check.page.getByRole("alertdialog")).toContainText("Wrong email or password", { timeout: 30_000 });
  await check.context.close();
}
