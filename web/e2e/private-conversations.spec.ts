/**
 * Private conversations from the UI, in real Chromium against a real server: a DM started by
 * searching a name (named after the partner on both sides), a private group with a signed
 * membership log (info panel with roles, an admin removing a member, renaming), and the labels
 * saying what the server can read. Message text in DMs and groups is not asserted here: sealing
 * and opening envelopes is the encryption work's own spec.
 */
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";

import type { Browser, BrowserContext, Locator, Page } from "@playwright/test";

import { expect, test } from "./fixtures";

import { registerAndEnter } from "./account-steps";

test.describe.configure({ mode: "serial" });

const RUN = Date.now().toString(36);
const PASSWORD = "mauve lantern 73 orbit";
const ALICE = { name: `Alice ${RUN}`, email: `alice-${RUN}@example.com` };
const BOB = { name: `Bob ${RUN}`, email: `bob-${RUN}@example.com` };
const CAROL = { name: `Carol ${RUN}`, email: `carol-${RUN}@example.com` };
const GROUP = `Trip ${RUN}`;
const RENAMED = `Road trip ${RUN}`;
const SHOTS = resolve(import.meta.dirname, "..", "test-results", "screenshots");

interface Person {
  context: BrowserContext;
  page: Page;
}

let alice: Person;
let bob: Person;
let carol: Person;

async function person(browser: Browser): Promise<Person> {
  const context = await browser.newContext();
  return { context, page: await context.newPage() };
}

async function register(page: Page, who: { name: string; email: string }): Promise<void> {
  await registerAndEnter(page, who, PASSWORD);
}

function sidebar(page: Page) {
  return page.getByRole("navigation", { name: "Conversations" });
}

function conversationLink(page: Page, name: string) {
  return sidebar(page).getByRole("list", { name: "Your conversations" }).getByRole("link", { name });
}

/** The open conversation's privacy badge (the list's locks are labelled too). */
function badge(page: Page, name: string) {
  return page.getByRole("main").getByRole("img", { name, exact: true });
}

function groupPanel(page: Page) {
  return page.getByRole("complementary", { name: "Group info" });
}

/** Inside a 375 px wide screen, horizontally. */
async function fitsPhone(element: Locator): Promise<boolean> {
  const box = await element.boundingBox();
  return box !== null && box.x >= 0 && box.x + box.width <= 375;
}

async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: resolve(SHOTS, `private-${name}.png`) });
}

test.beforeAll(async ({ browser }) => {
  alice = await person(browser);
  bob = await person(browser);
  carol = await person(browser);
});

test.afterAll(async () => {
  await alice.context.close();
  await bob.context.close();
  await carol.context.close();
});

test("three people register", async () => {
  await register(alice.page, ALICE);
  await register(bob.page, BOB);
  await register(carol.page, CAROL);
});

test("Alice starts a DM with Bob by searching his name; each side names it after the other", async () => {
  const page = alice.page;
  await page.getByRole("button", { name: "New message" }).click();
  const dialog = page.getByRole("dialog", { name: "New message" });
  await expect(dialog).toBeVisible();
  await dialog.getByLabel("Who do you want to write to?").fill(BOB.name);
  const found = dialog.getByRole("list", { name: "People found" });
  // Only Bob matches his (unique) name; Alice is never offered.
  await expect(found.getByRole("button")).toHaveCount(1);
  await found.getByRole("button", { name: BOB.name }).click();

  await expect(dialog).toBeHidden();
  await expect(page.getByRole("heading", { name: BOB.name })).toBeVisible();
  await expect(badge(page, "End-to-end encrypted")).toBeVisible();
  await expect(page.getByRole("note", { name: "End-to-end encrypted" })).toContainText("not the server");
  await expect(conversationLink(page, BOB.name)).toBeVisible();
  await expect(sidebar(page)).not.toContainText("Direct message");
  await shot(page, "dm-alice");

  // Bob's list gets the DM live, named after Alice.
  await expect(conversationLink(bob.page, ALICE.name)).toBeVisible({ timeout: 15_000 });
  await conversationLink(bob.page, ALICE.name).click();
  await expect(bob.page.getByRole("heading", { name: ALICE.name })).toBeVisible();
  await expect(badge(bob.page, "End-to-end encrypted")).toBeVisible();

  // Opening it again from the dialog goes to the same conversation.
  const url = page.url();
  await page.getByRole("button", { name: "New message" }).click();
  await dialog.getByLabel("Who do you want to write to?").fill(BOB.name);
  await found.getByRole("button", { name: BOB.name }).click();
  await expect(page.getByRole("heading", { name: BOB.name })).toBeVisible();
  expect(page.url()).toBe(url);
});

test("Alice creates a group with Bob and Carol; the info panel lists all three with roles", async () => {
  const page = alice.page;
  await page.getByRole("button", { name: "New group" }).click();
  const dialog = page.getByRole("dialog", { name: "New group" });
  await dialog.getByLabel("Group name").fill(GROUP);
  const people = dialog.getByLabel("Add people");
  const found = dialog.getByRole("list", { name: "People found" });
  await people.fill(BOB.name);
  await found.getByRole("button", { name: BOB.name }).click();
  await people.fill(CAROL.name);
  await found.getByRole("button", { name: CAROL.name }).click();
  await expect(dialog.getByRole("button", { name: `Remove ${BOB.name}` })).toBeVisible();
  await expect(dialog.getByRole("button", { name: `Remove ${CAROL.name}` })).toBeVisible();
  await dialog.getByRole("button", { name: "Create group" }).click();

  await expect(page.getByRole("heading", { name: GROUP })).toBeVisible({ timeout: 15_000 });
  await expect(badge(page, "End-to-end encrypted")).toBeVisible();
  await page.getByRole("button", { name: /^Group info/ }).click();
  const panel = groupPanel(page);
  const list = panel.getByRole("list", { name: "Group members" });
  await expect(list.getByRole("listitem")).toHaveCount(3);
  await expect(list.getByRole("listitem").filter({ hasText: ALICE.name })).toContainText("admin");
  await expect(list.getByRole("listitem").filter({ hasText: BOB.name })).toContainText("member");
  await expect(list.getByRole("listitem").filter({ hasText: CAROL.name })).toContainText("member");
  // The server's list matches the signed log Alice's browser verified.
  await expect(panel.getByText("Member list checked against its signatures.")).toBeVisible({ timeout: 15_000 });
  await shot(page, "group-panel");

  // Bob and Carol see the group, as members without admin controls.
  for (const who of [bob, carol]) {
    await expect(conversationLink(who.page, GROUP)).toBeVisible({ timeout: 15_000 });
  }
  await conversationLink(carol.page, GROUP).click();
  await expect(carol.page.getByRole("heading", { name: GROUP })).toBeVisible();
  await carol.page.getByRole("button", { name: /^Group info/ }).click();
  await expect(groupPanel(carol.page).getByRole("list", { name: "Group members" }).getByRole("listitem")).toHaveCount(3);
  await expect(groupPanel(carol.page).getByRole("button", { name: /from the group$/ })).toHaveCount(0);
  await expect(groupPanel(carol.page).getByRole("button", { name: "Leave group…" })).toBeVisible();
});

test("Alice removes Carol, who is no longer a member", async () => {
  const panel = groupPanel(alice.page);
  await panel.getByRole("button", { name: `Remove ${CAROL.name} from the group` }).click();
  await expect(panel.getByRole("status")).toHaveText(`${CAROL.name} was removed.`, { timeout: 15_000 });
  const list = panel.getByRole("list", { name: "Group members" });
  await expect(list.getByRole("listitem")).toHaveCount(2);
  await expect(list).not.toContainText(CAROL.name);
  await expect(panel.getByText("Member list checked against its signatures.")).toBeVisible({ timeout: 15_000 });

  // Carol's list drops the group (live; a reload shows the same).
  await expect(conversationLink(carol.page, GROUP)).toHaveCount(0, { timeout: 15_000 });
  await carol.page.goto("/");
  await expect(carol.page.getByRole("button", { name: "New message" })).toBeVisible({ timeout: 30_000 });
  await expect(conversationLink(carol.page, GROUP)).toHaveCount(0);
  // Bob is still in it.
  await expect(conversationLink(bob.page, GROUP)).toBeVisible();
});

test("Alice renames the group; Bob sees the new name", async () => {
  const panel = groupPanel(alice.page);
  await panel.getByLabel("Group name").fill(RENAMED);
  await panel.getByRole("button", { name: "Rename" }).click();
  await expect(panel.getByRole("status")).toHaveText(`Renamed to ${RENAMED}.`, { timeout: 15_000 });
  await expect(alice.page.getByRole("heading", { name: RENAMED })).toBeVisible();
  await expect(conversationLink(alice.page, RENAMED)).toBeVisible();
  await bob.page.reload();
  await expect(conversationLink(bob.page, RENAMED)).toBeVisible({ timeout: 30_000 });
});

test("a public room says plainly that the server can read it", async () => {
  const page = alice.page;
  await page.getByRole("link", { name: "Browse rooms" }).click();
  await page.getByLabel("Room name").fill(`Open ${RUN}`);
  await page.getByRole("button", { name: "Create room" }).click();
  await expect(page.getByRole("heading", { name: `Open ${RUN}` })).toBeVisible();
  const label = "Public room — the server can read messages here";
  await expect(badge(page, label)).toBeVisible();
  await expect(page.getByRole("note", { name: label })).toBeVisible();
  await expect(badge(page, "End-to-end encrypted")).toHaveCount(0);
});

test("on a 375 px phone the dialogs and the group panel fit and work by keyboard", async () => {
  const page = bob.page;
  await page.setViewportSize({ width: 375, height: 740 });
  await page.goto("/");
  await expect(page.getByRole("button", { name: "New group" })).toBeVisible({ timeout: 30_000 });
  await page.getByRole("button", { name: "New group" }).focus();
  await page.keyboard.press("Enter");
  const dialog = page.getByRole("dialog", { name: "New group" });
  await expect(dialog).toBeVisible();
  // Focus starts inside the dialog (the name field); the dialog fits the screen.
  await expect(dialog.getByLabel("Group name")).toBeFocused();
  await expect.poll(() => fitsPhone(dialog)).toBe(true);
  await shot(page, "new-group-375");
  await page.keyboard.press("Escape");
  await expect(dialog).toBeHidden();
  await expect(page.getByRole("button", { name: "New group" })).toBeFocused();

  await conversationLink(page, RENAMED).click();
  await expect(page.getByRole("heading", { name: RENAMED })).toBeVisible();
  const toggle = page.getByRole("button", { name: /^Group info/ });
  await toggle.focus();
  await page.keyboard.press("Enter");
  const panel = groupPanel(page);
  await expect(panel.getByRole("heading", { name: "Group info" })).toBeFocused();
  await expect(panel.getByRole("list", { name: "Group members" }).getByRole("listitem")).toHaveCount(2);
  // (Polled: the panel slides in from the right.)
  await expect.poll(() => fitsPhone(panel)).toBe(true);
  await shot(page, "group-panel-375");
  await page.keyboard.press("Escape");
  await expect(panel).toBeHidden();
  await expect(toggle).toBeFocused();
});

test("Alice, the last admin, leaves: Bob, the longest-standing member, becomes admin", async () => {
  const page = alice.page;
  await conversationLink(page, RENAMED).click();
  await expect(page.getByRole("heading", { name: RENAMED })).toBeVisible();
  const panel = groupPanel(page);
  if (!(await panel.isVisible())) await page.getByRole("button", { name: /^Group info/ }).click();
  await panel.getByRole("button", { name: "Leave group…" }).click();
  await panel.getByRole("button", { name: "Leave group", exact: true }).click();
  await expect(page).toHaveURL(/\/$/, { timeout: 15_000 });
  await expect(conversationLink(page, RENAMED)).toHaveCount(0);

  const bobPage = bob.page;
  await bobPage.setViewportSize({ width: 1280, height: 800 });
  await bobPage.goto("/");
  await conversationLink(bobPage, RENAMED).click();
  await bobPage.getByRole("button", { name: /^Group info/ }).click();
  const list = groupPanel(bobPage).getByRole("list", { name: "Group members" });
  await expect(list.getByRole("listitem")).toHaveCount(1, { timeout: 15_000 });
  await expect(list.getByRole("listitem").filter({ hasText: BOB.name })).toContainText("admin");
  await expect(groupPanel(bobPage).getByText("Member list checked against its signatures.")).toBeVisible({ timeout: 15_000 });
});
