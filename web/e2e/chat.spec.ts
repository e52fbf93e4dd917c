/**
 * Issue 5 acceptance: two people in two browser contexts against a real server process.
 * Serial: each step builds on the previous one (accounts, a room, messages).
 */
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";

import type { Browser, BrowserContext, Page } from "@playwright/test";

import { expect, test } from "./fixtures";

import { messages, registerAndEnter, send } from "./account-steps";
import { restartServer } from "./server";

test.describe.configure({ mode: "serial" });

const RUN = Date.now().toString(36);
const PASSWORD = "mauve lantern 73 orbit";
const ANA = { name: "Ana", email: `ana-${RUN}@example.com` };
const BEN = { name: "Ben", email: `ben-${RUN}@example.com` };
const ROOM = `Lobby ${RUN}`;
const XSS = "<img src=x onerror=alert(1)>";
const SHOTS = resolve(import.meta.dirname, "..", "test-results", "screenshots");

interface Person {
  context: BrowserContext;
  page: Page;
  dialogs: string[];
}

let ana: Person;
let ben: Person;

async function person(browser: Browser): Promise<Person> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const dialogs: string[] = [];
  page.on("dialog", (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  return { context, page, dialogs };
}

async function register(page: Page, who: { name: string; email: string }): Promise<void> {
  await registerAndEnter(page, who, PASSWORD);
}

async function openRoom(page: Page): Promise<void> {
  await page.getByRole("navigation", { name: "Conversations" }).getByRole("link", { name: ROOM }).click();
  await expect(page.getByRole("heading", { name: ROOM })).toBeVisible();
}

async function connected(page: Page): Promise<void> {
  await expect(page.locator(".banner")).toBeHidden({ timeout: 30_000 });
}

test.beforeAll(async ({ browser }) => {
  ana = await person(browser);
  ben = await person(browser);
});

test.afterAll(async () => {
  await ana.context.close();
  await ben.context.close();
});

test("two people register and land in the app", async () => {
  await register(ana.page, ANA);
  await register(ben.page, BEN);
  await expect(ana.page.getByRole("button", { name: "Ana" })).toBeVisible();
});

test("a wrong password shows a plain popup that does not reveal the account", async ({ browser }) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  for (const email of [ANA.email, `nobody-${RUN}@example.com`]) {
    await page.goto("/login");
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill("not the password at all");
    await page.getByRole("button", { name: "Sign in" }).click();
    const popup = page.getByRole("alertdialog");
    await expect(popup).toBeVisible({ timeout: 30_000 });
    await expect(popup).toContainText("Wrong email or password");
    await popup.getByRole("button", { name: "OK" }).click();
    await expect(popup).toBeHidden();
  }
  await context.close();
});

test("create a room and join it", async () => {
  await ana.page.getByRole("link", { name: "Browse rooms" }).click();
  await ana.page.getByLabel("Room name").fill(ROOM);
  await ana.page.getByLabel("Topic (optional)").fill("Say hi");
  await ana.page.getByRole("button", { name: "Create room" }).click();
  await expect(ana.page.getByRole("heading", { name: ROOM })).toBeVisible();

  await ben.page.getByRole("link", { name: "Browse rooms" }).click();
  await ben.page.getByPlaceholder("Search rooms by name").fill(RUN);
  await ben.page.getByRole("button", { name: `Join ${ROOM}` }).click();
  await expect(ben.page.getByRole("heading", { name: ROOM })).toBeVisible();
  await expect(ben.page.getByLabel("Message", { exact: true })).toBeVisible();
});

test("messages appear live both ways", async () => {
  await connected(ana.page);
  await connected(ben.page);
  await send(ana.page, "Hello Ben");
  await expect(messages(ben.page).getByText("Hello Ben")).toBeVisible();
  await send(ben.page, "Hi Ana\nhow are you?");
  await expect(messages(ana.page).getByText("how are you?")).toBeVisible();
  await expect(messages(ana.page).locator(".msg.own").getByText("Hello Ben")).toBeVisible();
});

test("a sent message shows once in its tab and arrives in the sender's other tab", async () => {
  // Protocol 2: the sending socket gets only the ack; the sender's other sockets get message.new.
  const other = await ana.context.newPage();
  await other.goto(ana.page.url());
  await expect(other.getByRole("heading", { name: ROOM })).toBeVisible({ timeout: 15_000 });
  await connected(other);
  await send(ana.page, "Sent from the first tab");
  await expect(messages(other).locator(".msg.own").getByText("Sent from the first tab")).toBeVisible();
  await expect(messages(ana.page).locator(".msg.own").getByText("Sent from the first tab")).toHaveCount(1);
  await expect(messages(ben.page).getByText("Sent from the first tab")).toHaveCount(1);
  await other.close();
});

test("the typing indicator shows", async () => {
  // Typing is sent at most every 3 s (and Ben last typed just before sending): let that pass.
  await ben.page.waitForTimeout(3200);
  await ben.page.getByLabel("Message", { exact: true }).pressSequentially("typing something", { delay: 30 });
  await expect(ana.page.getByText("Ben is typing…")).toBeVisible();
  await ben.page.getByLabel("Message", { exact: true }).fill("");
});

test("the member panel shows a room member's presence (watched, not pushed room-wide)", async () => {
  await ana.page.getByRole("button", { name: /^Members/ }).click();
  const panel = ana.page.getByRole("complementary", { name: "Members" });
  const benRow = panel.getByRole("listitem").filter({ hasText: "Ben" });
  await expect(benRow.getByRole("img", { name: "online" })).toBeVisible();
  // Ben's tab goes to the background: away reaches Ana through her watch.
  await ben.page.evaluate(() => {
    Object.defineProperty(document, "visibilityState", { value: "hidden", configurable: true });
    document.dispatchEvent(new Event("visibilitychange"));
  });
  await expect(benRow.getByRole("img", { name: "away" })).toBeVisible();
  await ben.page.evaluate(() => {
    Object.defineProperty(document, "visibilityState", { value: "visible", configurable: true });
    document.dispatchEvent(new Event("visibilitychange"));
  });
  await expect(benRow.getByRole("img", { name: "online" })).toBeVisible();
  await ana.page.getByRole("button", { name: /^Members/ }).click();
  await expect(panel).toBeHidden();
});

test("an unread badge appears and clears on open, and the read receipt updates", async () => {
  await ben.page.goto("/");
  await connected(ben.page);
  await send(ana.page, "Are you there?");
  await send(ana.page, "Ping");
  const link = ben.page.getByRole("navigation", { name: "Conversations" }).getByRole("link", { name: ROOM });
  await expect(link.getByLabel("2 unread")).toBeVisible();
  await expect(ben.page).toHaveTitle("(2) Hushroom");
  await link.click();
  await expect(messages(ben.page).getByText("Ping")).toBeVisible();
  await expect(link.locator(".badge")).toHaveCount(0);
  await expect(ben.page).toHaveTitle("Hushroom");
  const last = messages(ana.page).locator(".msg", { hasText: "Ping" });
  await expect(last.getByText("Seen by Ben")).toBeVisible();
});

test("HTML in a message shows as text and runs nothing", async () => {
  await send(ana.page, XSS);
  for (const p of [ana, ben]) {
    await expect(messages(p.page).getByText(XSS, { exact: true })).toBeVisible();
    await expect(messages(p.page).locator("img")).toHaveCount(0);
  }
  await ana.page.waitForTimeout(500);
  expect(ana.dialogs).toEqual([]);
  expect(ben.dialogs).toEqual([]);
});

test("a message typed offline is delivered once when back online", async () => {
  await ben.context.setOffline(true);
  await expect(ben.page.getByText("You're offline")).toBeVisible();
  await send(ben.page, "written offline");
  await expect(messages(ben.page).locator(".pending", { hasText: "written offline" })).toContainText("Sending…");
  await ben.page.waitForTimeout(1000);
  await expect(messages(ana.page).getByText("written offline")).toHaveCount(0);
  await ben.context.setOffline(false);
  await connected(ben.page);
  await expect(messages(ana.page).getByText("written offline")).toHaveCount(1);
  await expect(messages(ben.page).getByText("written offline")).toHaveCount(1);
  await expect(messages(ben.page).locator(".pending")).toHaveCount(0);
  await ana.page.waitForTimeout(1500);
  await expect(messages(ana.page).getByText("written offline")).toHaveCount(1);
});

test("a message sent while the server restarts arrives once after reconnect", async () => {
  await restartServer(async () => {
    await expect(ana.page.getByText(/Reconnecting/)).toBeVisible({ timeout: 15_000 });
    await send(ana.page, "sent during the outage");
    await expect(messages(ana.page).locator(".pending", { hasText: "sent during the outage" })).toBeVisible();
  });
  await connected(ana.page);
  await connected(ben.page);
  await expect(messages(ben.page).getByText("sent during the outage")).toHaveCount(1, { timeout: 30_000 });
  await expect(messages(ana.page).getByText("sent during the outage")).toHaveCount(1);
  await expect(messages(ana.page).locator(".pending")).toHaveCount(0);
  // Still live afterwards.
  await send(ben.page, "back again");
  await expect(messages(ana.page).getByText("back again")).toHaveCount(1);
});

test("screenshots: login, room list and conversation at phone and desktop, light and dark", async ({ browser }) => {
  mkdirSync(SHOTS, { recursive: true });
  const login = await browser.newContext();
  const loginPage = await login.newPage();
  const sizes = [
    { name: "phone", width: 375, height: 812 },
    { name: "desktop", width: 1280, height: 800 },
  ] as const;
  for (const scheme of ["light", "dark"] as const) {
    for (const size of sizes) {
      const suffix = `${size.name}-${scheme}`;
      await loginPage.setViewportSize(size);
      await loginPage.emulateMedia({ colorScheme: scheme, reducedMotion: "reduce" });
      await loginPage.goto("/login");
      await expect(loginPage.getByRole("button", { name: "Sign in" })).toBeVisible();
      await loginPage.screenshot({ path: `${SHOTS}/login-${suffix}.png` });

      const page = ana.page;
      await page.setViewportSize(size);
      await page.emulateMedia({ colorScheme: scheme, reducedMotion: "reduce" });
      await page.evaluate(() => {
        history.pushState({}, "", "/");
        dispatchEvent(new PopStateEvent("popstate"));
      });
      await expect(page.getByRole("navigation", { name: "Conversations" }).getByRole("link", { name: ROOM })).toBeVisible();
      await page.screenshot({ path: `${SHOTS}/rooms-${suffix}.png` });
      await openRoom(page);
      await expect(messages(page).getByText("back again")).toBeVisible();
      await page.screenshot({ path: `${SHOTS}/conversation-${suffix}.png` });
    }
  }
  await login.close();
});

test("a reload keeps the session (refresh cookie) and the conversation", async () => {
  await ana.page.setViewportSize({ width: 1280, height: 800 });
  await ana.page.reload();
  await expect(ana.page.getByRole("heading", { name: ROOM })).toBeVisible({ timeout: 15_000 });
  await expect(messages(ana.page).getByText("back again")).toHaveCount(1);
});

test("log out everywhere ends every session of the user", async ({ browser }) => {
  const second = await person(browser);
  await second.page.goto("/login");
  await second.page.getByLabel("Email").fill(BEN.email);
  await second.page.getByLabel("Password").fill(PASSWORD);
  await second.page.getByRole("button", { name: "Sign in" }).click();
  await expect(second.page.getByRole("link", { name: "Browse rooms" })).toBeVisible({ timeout: 30_000 });
  await connected(second.page);
  await ben.page.getByRole("button", { name: "Ben" }).click();
  await ben.page.getByRole("menuitem", { name: "Log out everywhere" }).click();
  await expect(ben.page.getByRole("button", { name: "Sign in" })).toBeVisible();
  // The other browser's socket gets session.revoked and returns to the login page.
  await expect(second.page.getByRole("button", { name: "Sign in" })).toBeVisible({ timeout: 15_000 });
  await second.context.close();
});
