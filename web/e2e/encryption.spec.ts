/**
 * End-to-end encryption in real Chromium against a real server: DMs both ways, a new browser
 * reading the whole history, a forged envelope shown honestly, safety numbers and verification,
 * an account reset seen as a key change that blocks sending to a verified contact until
 * accepted, a password change that keeps history readable, and a message the server leaves out
 * noticed by the reader. Every non-attack step ends with nothing undecryptable
 * (`data-undecryptable` on the document root) and nothing missing or out of order
 * (`data-missing-messages`, `data-reordered-messages`).
 * Serial: each step builds on the previous one.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";

import type { Browser, BrowserContext, Page } from "@playwright/test";

import { expect, test } from "./fixtures";

import { api, messages, openConversation, type Person, person as newPerson, registerAndEnter, resetAccountAndEnter, send, signIn } from "./account-steps";
import { readState, runCli } from "./server";

test.describe.configure({ mode: "serial" });

const RUN = Date.now().toString(36);
const PASSWORD = "cobalt meadow 48 ferry";
const NEW_PASSWORD = "saffron harbor 91 kite";
const RESET_PASSWORD = "granite willow 17 comet";
const ALICE = { name: "Alice", email: `alice-e2ee-${RUN}@example.com` };
const BOB = { name: "Bob", email: `bob-e2ee-${RUN}@example.com` };

let alice: Person;
let bob: Person;
let bob2: Person;
const contexts: BrowserContext[] = [];
let bobId = "";
let dmId = "";

async function person(browser: Browser): Promise<Person> {
  return newPerson(browser, contexts);
}

async function register(p: Person, who: { name: string; email: string }): Promise<void> {
  await registerAndEnter(p.page, who, PASSWORD);
}

async function openDm(p: Person): Promise<void> {
  await openConversation(p.page, dmId);
}

async function undecryptable(page: Page): Promise<number> {
  return Number((await page.locator("html").getAttribute("data-undecryptable")) ?? "0");
}

async function rootCount(page: Page, attribute: string): Promise<number> {
  return Number((await page.locator("html").getAttribute(attribute)) ?? "0");
}

async function expectNothingUndecryptable(...people: Person[]): Promise<void> {
  for (const p of people) {
    await expect(messages(p.page).getByTestId("message-failure")).toHaveCount(0);
    expect(await undecryptable(p.page)).toBe(0);
    // Nor anything missing or out of order (honest server, honest clients).
    await expect(messages(p.page).getByTestId("missing-messages-notice")).toHaveCount(0);
    await expect(messages(p.page).getByTestId("reordered-messages-notice")).toHaveCount(0);
    expect(await rootCount(p.page, "data-missing-messages")).toBe(0);
    expect(await rootCount(p.page, "data-reordered-messages")).toBe(0);
  }
}

/**
 * What a server hiding a message does to its database: the row goes, and the later messages of
 * the conversation move down one seq (with its `last_seq`), so readers get seqs with no hole, as
 * if the message had never been sent. Run with the project's Python against the e2e server's
 * SQLite file (the server keeps no copy of seqs in memory). Resolves with the seq it had.
 */
function hideMessage(clientMsgId: string): Promise<number> {
  const repo = resolve(import.meta.dirname, "..", "..");
  const local = join(repo, ".tools", "bin", "uv");
  const script = [
    "import sqlite3, sys",
    "db = sqlite3.connect(sys.argv[1], timeout=30)",
    "with db:",
    "    conv, seq = db.execute('SELECT conversation_id, seq FROM messages WHERE client_msg_id = ?', (sys.argv[2],)).fetchone()",
    "    db.execute('DELETE FROM messages WHERE conversation_id = ? AND seq = ?', (conv, seq))",
    "    db.execute('UPDATE messages SET seq = seq - 1 WHERE conversation_id = ? AND seq > ?', (conv, seq))",
    "    db.execute('UPDATE conversations SET last_seq = last_seq - 1 WHERE id = ?', (conv,))",
    "    db.execute('UPDATE members SET last_read_seq = MIN(last_read_seq, (SELECT last_seq FROM conversations WHERE id = ?)) WHERE conversation_id = ?', (conv, conv))",
    "print(seq)",
  ].join("\n");
  const database = join(readState().dir, "hushroom.db");
  return new Promise((resolvePromise, reject) => {
    execFile(
      existsSync(local) ? local : "uv",
      ["run", "--frozen", "python", "-c", script, database, clientMsgId],
      { cwd: repo, timeout: 60_000 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`hiding the message failed: ${error.message}\n${stderr}`));
        else resolvePromise(Number(stdout.trim()));
      },
    );
  });
}

test.afterAll(async () => {
  for (const context of contexts) await context.close().catch(() => undefined);
});

test("Alice and Bob register and open a DM", async ({ browser }) => {
  test.setTimeout(120_000);
  alice = await person(browser);
  bob = await person(browser);
  await register(alice, ALICE);
  await register(bob, BOB);
  expect((await api(alice, "GET", "/api/v1/me")).user_id).toMatch(/^[0-9a-f-]{36}$/);
  bobId = (await api(bob, "GET", "/api/v1/me")).user_id;
  dmId = (await api(alice, "POST", "/api/v1/dms", { user_id: bobId })).id;
  expect(dmId).toMatch(/^[0-9a-f-]{36}$/);
  await openDm(alice);
  await openDm(bob);
});

test("DMs go both ways encrypted; the server holds only envelopes", async () => {
  await send(alice.page, "Hello Bob, this is private");
  await expect(messages(bob.page).getByText("Hello Bob, this is private")).toBeVisible({ timeout: 30_000 });
  await send(bob.page, "Hi Alice, only we can read this");
  await expect(messages(alice.page).getByText("Hi Alice, only we can read this")).toBeVisible({ timeout: 30_000 });
  await expect(messages(alice.page).locator(".pending")).toHaveCount(0);

  const stored = await api(alice, "GET", `/api/v1/conversations/${dmId}/messages?limit=50`);
  expect(stored.messages).toHaveLength(2);
  for (const m of stored.messages) {
    expect(m.body ?? null).toBeNull();
    expect(typeof m.ciphertext).toBe("string");
    expect(m.generation).toBeGreaterThanOrEqual(1);
  }
  expect(JSON.stringify(stored)).not.toContain("private");
  await expectNothingUndecryptable(alice, bob);
});

test("the conversation list shows a DM partner's presence without waiting for a change", async () => {
  // Presence is shared once both accepted the DM (Bob only replied so far).
  await api(bob, "POST", `/api/v1/conversations/${dmId}/accept`);
  // A fresh page on the home page: no DM header or panel asks for Bob, and nothing about him is
  // pushed (he changes nothing): the list watches its partners itself.
  await alice.page.goto("/");
  const link = alice.page.getByRole("navigation", { name: "Conversations" }).getByRole("link", { name: /Bob/ });
  await expect(link.getByRole("img", { name: "online" })).toBeVisible({ timeout: 15_000 });
  await openDm(alice);
  // History opened again before the next test takes the browser offline.
  await expect(messages(alice.page).getByText("Hi Alice, only we can read this")).toBeVisible({ timeout: 30_000 });
  await expectNothingUndecryptable(alice);
});

test("the outbox keeps no plaintext of a private message", async () => {
  await alice.context.setOffline(true);
  await send(alice.page, "waiting in the outbox");
  await expect(messages(alice.page).locator(".pending", { hasText: "waiting in the outbox" })).toBeVisible();
  const stored: string = await alice.page.evaluate(
    () =>
      new Promise<string>((resolve, reject) => {
        const dbs = indexedDB.databases();
        void dbs.then((list) => {
          const name = list.map((d) => d.name ?? "").find((n) => n.startsWith("hushroom-outbox-"));
          if (name === undefined) {
            resolve("");
            return;
          }
          const open = indexedDB.open(name);
          open.onerror = () => {
            reject(new Error("open failed"));
          };
          open.onsuccess = () => {
            const db = open.result;
            const tx = db.transaction(db.objectStoreNames[0] ?? "outbox", "readonly");
            const all = tx.objectStore(db.objectStoreNames[0] ?? "outbox").getAll();
            all.onsuccess = () => {
              resolve(JSON.stringify(all.result));
              db.close();
            };
          };
        });
      }),
  );
  expect(stored).not.toBe("");
  expect(stored).not.toContain("waiting in the outbox");
  await alice.context.setOffline(false);
  await expect(messages(bob.page).getByText("waiting in the outbox")).toBeVisible({ timeout: 30_000 });
  await expectNothingUndecryptable(alice, bob);
});

test("Bob signs in on a fresh browser and reads the whole history", async ({ browser }) => {
  bob2 = await person(browser);
  await signIn(bob2.page, BOB.email, PASSWORD);
  await expect(bob2.page.getByRole("link", { name: "Browse rooms" })).toBeVisible({ timeout: 30_000 });
  await openDm(bob2);
  for (const text of ["Hello Bob, this is private", "Hi Alice, only we can read this", "waiting in the outbox"]) {
    await expect(messages(bob2.page).getByText(text)).toBeVisible({ timeout: 30_000 });
  }
  await send(bob2.page, "Sent from my second browser");
  await expect(messages(alice.page).getByText("Sent from my second browser")).toBeVisible({ timeout: 30_000 });
  await expect(messages(bob.page).getByText("Sent from my second browser")).toBeVisible({ timeout: 30_000 });
  await expectNothingUndecryptable(alice, bob, bob2);
});

/** The canonical encoding of docs/crypto.md §3 (enough for a header and an envelope). */
function encode(label: string, fields: readonly (Uint8Array | string | number)[]): Uint8Array {
  const parts: number[] = [label.length >> 8, label.length & 0xff, ...Buffer.from(label, "ascii"), 1];
  for (const field of fields) {
    let data: Uint8Array;
    if (typeof field === "string") data = Buffer.from(field, "utf8");
    else if (typeof field === "number") {
      data = new Uint8Array(8);
      new DataView(data.buffer).setBigUint64(0, BigInt(field));
    } else data = field;
    const length = new Uint8Array(4);
    new DataView(length.buffer).setUint32(0, data.length);
    parts.push(...length, ...data);
  }
  return Uint8Array.from(parts);
}

test("a forged envelope (not signed by the sender's device) shows an honest failure", async ({ browser }) => {
  test.setTimeout(120_000);
  // In a DM of its own (Carol and Bob), so Alice's history stays clean.
  const carol = await person(browser);
  await register(carol, { name: "Carol", email: `carol-e2ee-${RUN}@example.com` });
  const carolId: string = (await api(carol, "GET", "/api/v1/me")).user_id;
  const carolDm: string = (await api(carol, "POST", "/api/v1/dms", { user_id: bobId })).id;
  await carol.page.goto(`/c/${carolDm}`);
  await expect(carol.page.locator(".banner")).toBeHidden({ timeout: 30_000 });
  await send(carol.page, "Hi Bob, Carol here");
  await expect(messages(carol.page).locator(".pending")).toHaveCount(0, { timeout: 30_000 });

  const devices: { device_id: string; current: boolean }[] = await api(carol, "GET", "/api/v1/devices");
  const deviceId = devices.find((d) => d.current)?.device_id ?? "";
  // The send above may still be sealing (the outbox holds it first): wait for its key set.
  let generation = 0;
  await expect
    .poll(
      async () => {
        const keySets = await api(carol, "GET", `/api/v1/conversations/${carolDm}/key-sets?after=0&limit=1`);
        generation = keySets.current_generation;
        return generation;
      },
      { timeout: 30_000 },
    )
    .toBeGreaterThanOrEqual(1);
  await expect(messages(carol.page).getByText("Hi Bob, Carol here")).toBeVisible();
  await expect(messages(carol.page).locator(".pending")).toHaveCount(0, { timeout: 30_000 });
  const clientMsgId = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("hex");
  const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));
  const header = encode("hushroom/v1/msg-header", [
    carolDm,
    generation,
    carolId,
    deviceId,
    clientMsgId,
    Date.now(),
    9_999,
    random(32),
    random(12),
  ]);
  // Syntactically valid and accepted by the server, but not signed by Carol's device.
  const envelope = encode("hushroom/v1/envelope", [header, random(48), random(64)]);
  await api(carol, "POST", `/api/v1/conversations/${carolDm}/messages`, {
    client_msg_id: clientMsgId,
    envelope: { generation, ciphertext: Buffer.from(envelope).toString("base64url") },
  });

  await bob2.page.goto(`/c/${carolDm}`);
  await expect(messages(bob2.page).getByText("Hi Bob, Carol here")).toBeVisible({ timeout: 30_000 });
  const failure = messages(bob2.page).getByTestId("message-failure");
  await expect(failure).toHaveText(/The server altered this message/, { timeout: 30_000 });
  await expect(failure).toHaveCount(1);
  expect(await undecryptable(bob2.page)).toBe(1);
  await bob2.context.close();
  await carol.context.close();
});

test("safety numbers match on both sides; Alice marks Bob verified and it survives a reload", async () => {
  for (const p of [alice, bob]) {
    await p.page.getByRole("button", { name: p === alice ? "Verify Bob" : "Verify Alice" }).click();
  }
  const digits = await Promise.all(
    [alice, bob].map(async (p) => {
      const shown = p.page.getByTestId("safety-number");
      await expect(shown.locator("span")).toHaveCount(12);
      await expect(p.page.getByTestId("safety-qr")).toBeVisible();
      return (await shown.locator("span").allTextContents()).join(" ");
    }),
  );
  expect(digits[0]).toMatch(/^(\d{5} ){11}\d{5}$/);
  expect(digits[0]).toBe(digits[1]);
  await bob.page.getByRole("button", { name: "Close" }).click();
  await alice.page.getByRole("button", { name: "Mark as verified" }).click();
  await expect(alice.page.getByTestId("verified-mark")).toBeVisible();
  await openDm(alice);
  await expect(alice.page.getByTestId("verified-mark")).toBeVisible({ timeout: 15_000 });
  await expect(messages(alice.page).getByText("Sent from my second browser")).toBeVisible({ timeout: 30_000 });
  await expectNothingUndecryptable(alice);
});

test("Bob resets his account: Alice sees the key change and can't send until she accepts", async ({ browser }) => {
  test.setTimeout(240_000);
  const out = await runCli(["reset-account", BOB.email], 150_000);
  const resetCode = (out.trim().split("\n").at(-1) ?? "").trim();
  const reset = await person(browser);
  await resetAccountAndEnter(reset.page, BOB.email, resetCode, RESET_PASSWORD);
  await bob.context.close();
  bob = reset;

  await openDm(alice);
  await expect(alice.page.getByTestId("key-change-notice")).toBeVisible({ timeout: 30_000 });
  await expect(alice.page.getByTestId("send-blocked")).toBeVisible();
  await expect(alice.page.getByLabel("Message", { exact: true })).toBeDisabled();
  await expect(alice.page.getByTestId("verified-mark")).toHaveCount(0);
  // History from Bob's old devices still verifies (their certificates were pinned then).
  await expect(messages(alice.page).getByText("Hi Alice, only we can read this")).toBeVisible({ timeout: 30_000 });
  await expectNothingUndecryptable(alice);

  await alice.page.getByTestId("send-blocked").getByRole("button", { name: "Accept new key" }).click();
  await expect(alice.page.getByLabel("Message", { exact: true })).toBeEnabled();
  await expect(alice.page.getByTestId("key-change-notice")).toBeVisible();
  await send(alice.page, "Welcome back, Bob");
  await openDm(bob);
  await expect(messages(bob.page).getByText("Welcome back, Bob")).toBeVisible({ timeout: 30_000 });
  // The old history was sealed to keys the reset threw away: said plainly, not blank.
  await expect(messages(bob.page).getByText("Sent to keys this browser does not have").first()).toBeVisible();
  await expect(messages(alice.page).locator(".pending")).toHaveCount(0);
  await send(bob.page, "Thanks, new keys here");
  await expect(messages(alice.page).getByText("Thanks, new keys here")).toBeVisible({ timeout: 30_000 });
  await expectNothingUndecryptable(alice);
});

test("a password change on Alice's side keeps all history readable", async () => {
  const { page } = alice;
  await page.goto("/settings");
  await page.getByLabel("Current password").fill(PASSWORD);
  await page.getByLabel("New password", { exact: true }).fill(NEW_PASSWORD);
  await page.getByLabel("Confirm new password").fill(NEW_PASSWORD);
  await page.getByRole("button", { name: "Change password" }).click();
  await expect(page.getByText("Password changed.")).toBeVisible({ timeout: 30_000 });
  await openDm(alice);
  for (const text of [
    "Hello Bob, this is private",
    "Hi Alice, only we can read this",
    "Sent from my second browser",
    "Welcome back, Bob",
    "Thanks, new keys here",
  ]) {
    await expect(messages(page).getByText(text)).toBeVisible({ timeout: 30_000 });
  }
  await send(page, "Still here after a new password");
  await expect(messages(bob.page).getByText("Still here after a new password")).toBeVisible({ timeout: 30_000 });
  await expectNothingUndecryptable(alice);
});

test("a private group: messages are sealed to the verified membership and read by every member", async () => {
  const group = `Keys ${RUN}`;
  const { page } = alice;
  await page.getByRole("button", { name: "New group" }).click();
  const dialog = page.getByRole("dialog", { name: "New group" });
  await dialog.getByLabel("Group name").fill(group);
  await dialog.getByLabel("Add people").fill(BOB.email);
  await dialog.getByRole("list", { name: "People found" }).getByRole("button", { name: BOB.name }).click();
  await expect(dialog.getByRole("button", { name: `Remove ${BOB.name}` })).toBeVisible();
  await dialog.getByRole("button", { name: "Create group" }).click();
  await expect(page.getByRole("heading", { name: group })).toBeVisible({ timeout: 15_000 });
  await send(page, "Hello group, sealed to both of us");
  await expect(messages(page).locator(".pending")).toHaveCount(0, { timeout: 30_000 });

  const link = bob.page
    .getByRole("navigation", { name: "Conversations" })
    .getByRole("link", { name: new RegExp(group) });
  await expect(link).toBeVisible({ timeout: 30_000 });
  await link.click();
  await expect(messages(bob.page).getByText("Hello group, sealed to both of us")).toBeVisible({ timeout: 30_000 });
  await expect(messages(bob.page).getByTestId("message-failure")).toHaveCount(0);
  await send(bob.page, "Group reply from Bob");
  await expect(messages(page).getByText("Group reply from Bob")).toBeVisible({ timeout: 30_000 });

  const stored = await api(alice, "GET", `/api/v1/conversations/${page.url().split("/c/")[1] ?? ""}/messages?limit=50`);
  expect(stored.messages.length).toBeGreaterThanOrEqual(2);
  for (const m of stored.messages) expect(m.body ?? null).toBeNull();
  await expectNothingUndecryptable(alice);
});

test("a message the server leaves out is noticed by the reader, at its place", async () => {
  test.setTimeout(120_000);
  const aliceId: string = (await api(alice, "GET", "/api/v1/me")).user_id;
  await openDm(alice);
  const texts = ["First of three", "Second of three", "Third of three"];
  for (const text of texts) {
    await send(alice.page, text);
    await expect(messages(alice.page).getByText(text)).toBeVisible({ timeout: 30_000 });
    await expect(messages(alice.page).locator(".pending")).toHaveCount(0, { timeout: 30_000 });
  }
  const stored = await api(alice, "GET", `/api/v1/conversations/${dmId}/messages?limit=3`);
  const sent: { seq: number; sender_id: string; client_msg_id: string }[] = stored.messages;
  expect(sent.map((m) => m.sender_id)).toEqual([aliceId, aliceId, aliceId]);
  const middle = sent[1];
  if (middle === undefined) throw new Error("no middle message");
  expect(await hideMessage(middle.client_msg_id)).toBe(middle.seq);
  const after = await api(alice, "GET", `/api/v1/conversations/${dmId}/messages?limit=2`);
  expect(after.messages.map((m: { seq: number }) => m.seq)).toEqual([middle.seq - 1, middle.seq]);

  // Bob opens the DM afresh: the first and third, and a plain notice where the second was.
  await openDm(bob);
  const log = messages(bob.page);
  await expect(log.getByText("Third of three")).toBeVisible({ timeout: 30_000 });
  await expect(log.getByText("First of three")).toBeVisible();
  await expect(log.getByText("Second of three")).toHaveCount(0);
  const notice = log.getByTestId("missing-messages-notice");
  await expect(notice).toHaveText("1 message from Alice could not be delivered by the server", { timeout: 30_000 });
  await expect(log.locator('[data-testid="missing-messages-notice"] + .msg')).toContainText("Third of three");
  await expect(bob.page.locator("html")).toHaveAttribute("data-missing-messages", "1");
  await expect(bob.page.locator("html")).toHaveAttribute("data-reordered-messages", "0");
  await expect(log.getByTestId("reordered-messages-notice")).toHaveCount(0);
  // Not counted as undecryptable: Bob's count is only his history from before his reset.
  const failures = await log.getByTestId("message-failure").count();
  expect(await undecryptable(bob.page)).toBe(failures);
});
