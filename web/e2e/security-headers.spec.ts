/**
 * The security headers and the Content-Security-Policy against the real app in Chromium:
 * every step a person takes (register with the Argon2 worker, a public room, an encrypted DM
 * both ways, the safety number and its QR code, a fresh browser unlocking the vault) runs with
 * zero violations (the `fixtures` watch fails any test that has one), and the watch itself
 * catches what the policy blocks.
 * Serial: each step builds on the previous one.
 */
import type { Browser, BrowserContext, Page, Response } from "@playwright/test";

import { fresh, messages, registerAndEnter, send, signIn } from "./account-steps";
import { expect, test } from "./fixtures";

test.describe.configure({ mode: "serial" });

const RUN = Date.now().toString(36);
const PASSWORD = "juniper socket 62 lagoon";
const ANA = { name: `Ana ${RUN}`, email: `ana-csp-${RUN}@example.com` };
const BEN = { name: `Ben ${RUN}`, email: `ben-csp-${RUN}@example.com` };
const ROOM = `Headers ${RUN}`;

interface Person {
  context: BrowserContext;
  page: Page;
}

let ana: Person;
let ben: Person;
const contexts: BrowserContext[] = [];

async function person(browser: Browser): Promise<Person> {
  const made = await fresh(browser);
  contexts.push(made.context);
  return made;
}

function expectSecurityHeaders(response: Response | null): void {
  expect(response).not.toBeNull();
  const headers = response?.headers() ?? {};
  const csp = headers["content-security-policy"] ?? "";
  expect(csp).toContain("default-src 'self'");
  expect(csp).toContain("script-src 'self' 'wasm-unsafe-eval'");
  expect(csp).toContain("object-src 'none'");
  expect(csp).toContain("base-uri 'none'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).toContain("require-trusted-types-for 'script'");
  expect(csp).not.toContain("unsafe-inline");
  expect(csp).not.toMatch(/'unsafe-eval'/);
  expect(headers["x-content-type-options"]).toBe("nosniff");
  expect(headers["referrer-policy"]).toBe("no-referrer");
  expect(headers["cross-origin-opener-policy"]).toBe("same-origin");
  expect(headers["cross-origin-resource-policy"]).toBe("same-origin");
  expect(headers["permissions-policy"]).toContain("camera=()");
  // Plain HTTP on loopback: no HSTS (only over HTTPS).
  expect(headers["strict-transport-security"]).toBeUndefined();
}

async function register(page: Page, who: { name: string; email: string }): Promise<void> {
  await registerAndEnter(page, who, PASSWORD);
}

async function connected(page: Page): Promise<void> {
  await expect(page.locator(".banner")).toBeHidden({ timeout: 30_000 });
}

test.beforeAll(async ({ browser }) => {
  ana = await person(browser);
  ben = await person(browser);
});

test.afterAll(async () => {
  for (const context of contexts) await context.close().catch(() => undefined);
});

test("the page, its script and its stylesheet carry the security headers", async () => {
  const assets: Response[] = [];
  ana.page.on("response", (r) => {
    if (new URL(r.url()).pathname.startsWith("/assets/")) assets.push(r);
  });
  expectSecurityHeaders(await ana.page.goto("/login"));
  await expect(ana.page.getByRole("button", { name: "Sign in" })).toBeVisible();
  expect(assets.map((r) => new URL(r.url()).pathname)).toEqual(
    expect.arrayContaining([expect.stringMatching(/\.js$/), expect.stringMatching(/\.css$/)]),
  );
  for (const r of assets) expectSecurityHeaders(r);
});

test("two people register: Argon2 in its worker, keys, recovery code", async () => {
  test.setTimeout(120_000);
  await register(ana.page, ANA);
  await register(ben.page, BEN);
});

test("a public room: create, join, a message reaches the other side live", async () => {
  await ana.page.getByRole("link", { name: "Browse rooms" }).click();
  await ana.page.getByLabel("Room name").fill(ROOM);
  await ana.page.getByRole("button", { name: "Create room" }).click();
  await expect(ana.page.getByRole("heading", { name: ROOM })).toBeVisible();

  await ben.page.getByRole("link", { name: "Browse rooms" }).click();
  await ben.page.getByPlaceholder("Search rooms by name").fill(RUN);
  await ben.page.getByRole("button", { name: `Join ${ROOM}` }).click();
  await expect(ben.page.getByRole("heading", { name: ROOM })).toBeVisible();
  await connected(ana.page);
  await connected(ben.page);

  await send(ana.page, "Hello room, under a strict CSP");
  await expect(messages(ben.page).getByText("Hello room, under a strict CSP")).toBeVisible({ timeout: 30_000 });
});

test("an encrypted DM both ways, and the safety number with its QR code", async () => {
  const page = ana.page;
  await page.getByRole("button", { name: "New message" }).click();
  const dialog = page.getByRole("dialog", { name: "New message" });
  await dialog.getByLabel("Who do you want to write to?").fill(BEN.name);
  await dialog.getByRole("list", { name: "People found" }).getByRole("button", { name: BEN.name }).click();
  await expect(page.getByRole("heading", { name: BEN.name })).toBeVisible();
  await connected(page);
  await send(page, "Private hello from Ana");

  const link = ben.page.getByRole("navigation", { name: "Conversations" }).getByRole("link", { name: ANA.name });
  await expect(link).toBeVisible({ timeout: 30_000 });
  await link.click();
  await expect(messages(ben.page).getByText("Private hello from Ana")).toBeVisible({ timeout: 30_000 });
  await send(ben.page, "Private reply from Ben");
  await expect(messages(page).getByText("Private reply from Ben")).toBeVisible({ timeout: 30_000 });

  await page.getByRole("button", { name: `Verify ${BEN.name}` }).click();
  await expect(page.getByTestId("safety-number").locator("span")).toHaveCount(12);
  await expect(page.getByTestId("safety-qr")).toBeVisible();
  await page.getByRole("button", { name: "Close" }).click();
});

test("a fresh browser signs in, unlocks the vault and reads the DM", async ({ browser }) => {
  test.setTimeout(120_000);
  const other = await person(browser);
  await signIn(other.page, BEN.email, PASSWORD);
  const link = other.page.getByRole("navigation", { name: "Conversations" }).getByRole("link", { name: ANA.name });
  await expect(link).toBeVisible({ timeout: 30_000 });
  await link.click();
  await expect(messages(other.page).getByText("Private hello from Ana")).toBeVisible({ timeout: 30_000 });
  await expect(messages(other.page).getByText("Private reply from Ben")).toBeVisible();
});

test("the policy blocks inline styles, HTML sinks and foreign hosts, and the watch sees it", async ({
  cspViolations,
}) => {
  const page = ana.page;
  const outcome = await page.evaluate(async () => {
    const results: string[] = [];
    try {
      document.createElement("div").innerHTML = "<b>not trusted</b>";
      results.push("innerHTML ran");
    } catch (e) {
      results.push(`innerHTML: ${(e as Error).name}`);
    }
    const style = document.createElement("style");
    style.textContent = "body { outline: 5px solid red; }";
    document.head.append(style);
    results.push(`style applied: ${String(getComputedStyle(document.body).outlineWidth === "5px")}`);
    style.remove();
    try {
      await fetch("https://example.invalid/exfiltrate");
      results.push("fetch ran");
    } catch (e) {
      results.push(`fetch: ${(e as Error).name}`);
    }
    return results;
  });
  expect(outcome).toEqual(["innerHTML: TypeError", "style applied: false", "fetch: TypeError"]);
  // Each seen twice: as a `securitypolicyviolation` event and on Chromium's console.
  await expect
    .poll(() => new Set(cspViolations.list().filter((v) => v.via === "event").map((v) => v.directive)))
    .toEqual(new Set(["require-trusted-types-for", "style-src-elem", "connect-src"]));
  await expect
    .poll(() => cspViolations.list().filter((v) => v.via === "console").map((v) => v.directive).join("\n"))
    .toMatch(/TrustedHTML[^]*inline style[^]*example\.invalid/);
  cspViolations.accept();
});
