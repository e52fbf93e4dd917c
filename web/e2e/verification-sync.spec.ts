/**
 * Contact verification follows the user to every browser (docs/crypto.md §6.6), in real
 * Chromium against a real server: Alice verifies Bob in one browser; a fresh browser she signs in
 * to shows Bob verified (from the encrypted contacts store on the server, nothing local); after
 * Bob resets his account, yet another fresh browser of Alice's — with no pin of Bob's old key —
 * still blocks sending to him until she accepts the new key.
 */
import type { Browser, BrowserContext } from "@playwright/test";

import { expect, test } from "./fixtures";

import { api, openConversation, person as newPerson, registerAndEnter, resetAccountAndEnter, signIn, type Person } from "./account-steps";
import { runCli } from "./server";

const RUN = Date.now().toString(36);
const PASSWORD = "harbor quartz 73 lantern";
const RESET_PASSWORD = "meadow falcon 29 ember";
const ALICE = { name: "Alice", email: `alice-vsync-${RUN}@example.com` };
const BOB = { name: "Bob", email: `bob-vsync-${RUN}@example.com` };

const contexts: BrowserContext[] = [];

async function person(browser: Browser): Promise<Person> {
  return newPerson(browser, contexts);
}

async function register(p: Person, who: { name: string; email: string }): Promise<void> {
  await registerAndEnter(p.page, who, PASSWORD);
}

async function signedIn(browser: Browser, who: { email: string }, password = PASSWORD): Promise<Person> {
  const p = await person(browser);
  await signIn(p.page, who.email, password);
  await expect(p.page.getByRole("link", { name: "Browse rooms" })).toBeVisible({ timeout: 30_000 });
  return p;
}

async function storeVersion(p: Person): Promise<number> {
  return (await api(p, "GET", "/api/v1/keys/stores/contacts")).version;
}

async function openDm(p: Person, dmId: string): Promise<void> {
  await openConversation(p.page, dmId);
}

test.afterAll(async () => {
  for (const context of contexts) await context.close().catch(() => undefined);
});

test("a verification made in one browser holds in every other, across a key change", async ({ browser }) => {
  test.setTimeout(300_000);
  const alice = await person(browser);
  const bob = await person(browser);
  await register(alice, ALICE);
  await register(bob, BOB);
  const bobId: string = (await api(bob, "GET", "/api/v1/me")).user_id;
  const dmId: string = (await api(alice, "POST", "/api/v1/dms", { user_id: bobId })).id;

  // 1. Alice verifies Bob in her first browser; the verified set reaches the server, sealed.
  await openDm(alice, dmId);
  expect(await storeVersion(alice)).toBe(0);
  await alice.page.getByRole("button", { name: "Verify Bob" }).click();
  await expect(alice.page.getByTestId("safety-number").locator("span")).toHaveCount(12);
  await alice.page.getByRole("button", { name: "Mark as verified" }).click();
  await expect(alice.page.getByTestId("verified-mark")).toBeVisible();
  await expect.poll(() => storeVersion(alice), { timeout: 15_000 }).toBe(1);
  const stored = await api(alice, "GET", "/api/v1/keys/stores/contacts");
  expect(Buffer.from(stored.blob, "base64url").toString("latin1")).not.toContain(bobId);

  // 2. A fresh browser (nothing in its IndexedDB) shows Bob verified.
  const second = await signedIn(browser, ALICE);
  await openDm(second, dmId);
  await expect(second.page.getByTestId("verified-mark")).toBeVisible({ timeout: 30_000 });
  await expect(second.page.getByTestId("send-blocked")).toHaveCount(0);
  await second.context.close();

  // 3. Bob resets his account: a new identity key.
  const out = await runCli(["reset-account", BOB.email], 150_000);
  const resetCode = (out.trim().split("\n").at(-1) ?? "").trim();
  const reset = await person(browser);
  await resetAccountAndEnter(reset.page, BOB.email, resetCode, RESET_PASSWORD);

  // 4. Another fresh browser of Alice's never pinned Bob's old key, yet sending to him stops:
  //    the server's copy of her verifications says which key she verified.
  const third = await signedIn(browser, ALICE);
  await openDm(third, dmId);
  await expect(third.page.getByTestId("send-blocked")).toBeVisible({ timeout: 30_000 });
  await expect(third.page.getByTestId("key-change-notice")).toBeVisible();
  await expect(third.page.getByLabel("Message", { exact: true })).toBeDisabled();
  await expect(third.page.getByTestId("verified-mark")).toHaveCount(0);

  // Accepting the new key unblocks, and the old verification leaves the server's copy too.
  await third.page.getByTestId("send-blocked").getByRole("button", { name: "Accept new key" }).click();
  await expect(third.page.getByLabel("Message", { exact: true })).toBeEnabled();
  await expect.poll(() => storeVersion(third), { timeout: 15_000 }).toBe(2);
  const box = third.page.getByLabel("Message", { exact: true });
  await box.fill("Welcome back, Bob");
  await box.press("Enter");
  await expect(third.page.getByRole("log", { name: "Messages" }).locator(".pending")).toHaveCount(0, {
    timeout: 30_000,
  });
  await openDm(reset, dmId);
  await expect(reset.page.getByRole("log", { name: "Messages" }).getByText("Welcome back, Bob")).toBeVisible({
    timeout: 30_000,
  });
});
