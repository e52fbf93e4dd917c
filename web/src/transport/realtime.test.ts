import { describe, expect, it, vi } from "vitest";

import { ApiError } from "@/api/errors";
import type { ServerFrame } from "@/transport/frames";
import { CLIENT_MSG_ID } from "@/transport/ids";
import { MemoryOutbox, type OutboxEntry } from "@/transport/outbox";
import {
  NOT_STORED_REASON,
  RealtimeClient,
  type ConnectionStatus,
  type Timers,
} from "@/transport/realtime";
import { FakeSocket } from "@/test/fake-socket";

const ROOM = "0b5f6a1e-3d4c-4e8a-9a51-6f2f5b8d2c11";

class ManualTimers implements Timers {
  #next = 1;
  pending = new Map<number, { fn: () => void; ms: number }>();
  set(fn: () => void, ms: number): number {
    const id = this.#next++;
    this.pending.set(id, { fn, ms });
    return id;
  }
  clear(id: number): void {
    this.pending.delete(id);
  }
  /** Run the timers of at most `maxMs` (the reconnect ones, not the 25 s heartbeat). */
  runShort(maxMs = 20_000): number[] {
    const due = [...this.pending].filter(([, t]) => t.ms <= maxMs);
    for (const [id, t] of due) {
      this.pending.delete(id);
      t.fn();
    }
    return due.map(([, t]) => t.ms);
  }
}

const flush = () => new Promise((r) => setTimeout(r, 0));

function setup(
  options: {
    positions?: Record<string, number>;
    ticket?: () => Promise<string>;
    seal?: (entry: OutboxEntry) => Promise<OutboxEntry>;
  } = {},
) {
  const sockets: FakeSocket[] = [];
  const timers = new ManualTimers();
  const outbox = new MemoryOutbox();
  const statuses: ConnectionStatus[] = [];
  const frames: ServerFrame[] = [];
  const acks: string[] = [];
  let outboxView: readonly OutboxEntry[] = [];
  let authLost = 0;
  let tickets = 0;
  const client = new RealtimeClient({
    url: "ws://test/ws",
    ticket: options.ticket ?? (() => Promise.resolve(`ticket-${String(++tickets)}`)),
    open: () => {
      const s = new FakeSocket();
      sockets.push(s);
      return s;
    },
    outbox,
    positions: () => options.positions ?? { [ROOM]: 41 },
    listener: {
      status: (s) => statuses.push(s),
      frame: (f) => frames.push(f),
      outboxChanged: (e) => {
        outboxView = e;
      },
      ack: (e) => acks.push(e.clientMsgId),
      authLost: () => {
        authLost += 1;
      },
    },
    timers,
    random: () => 0.5,
    ...(options.seal === undefined ? {} : { seal: options.seal }),
  });
  return {
    client,
    sockets,
    timers,
    outbox,
    statuses,
    frames,
    acks,
    get outboxView() {
      return outboxView;
    },
    get authLost() {
      return authLost;
    },
    async connect(): Promise<FakeSocket> {
      await flush();
      const s = sockets.at(-1)!;
      s.open();
      s.receive({ type: "ready", user_id: "u", device_id: "d", heartbeat_s: 20 });
      await flush();
      return s;
    },
  };
}

function ack(s: FakeSocket, frame: Record<string, unknown>, seq: number, duplicate = false) {
  s.receive({
    type: "message.ack",
    ref: frame.ref as string,
    conversation_id: frame.conversation_id as string,
    client_msg_id: frame.client_msg_id as string,
    seq,
    message_id: seq,
    created_at: 1,
    duplicate,
  });
}

describe("RealtimeClient", () => {
  it("authenticates with the ticket first, waits for ready, then resumes", async () => {
    const t = setup();
    await t.client.start();
    await flush();
    const s = t.sockets[0]!;
    s.open();
    expect(s.sent).toEqual([{ type: "auth", ticket: "ticket-1" }]);
    t.client.typing(ROOM); // not ready yet: nothing sent
    expect(s.sent).toHaveLength(1);
    s.receive({ type: "ready", user_id: "u", device_id: "d", heartbeat_s: 20 });
    expect(s.sent[1]).toEqual({ type: "resume", positions: { [ROOM]: 41 } });
    expect(t.statuses).toEqual(["connecting", "ready"]);
  });

  it("reconnects with growing, jittered backoff and resumes with fresh positions", async () => {
    const positions: Record<string, number> = { [ROOM]: 3 };
    const t = setup({ positions });
    await t.client.start();
    const first = await t.connect();
    positions[ROOM] = 9;
    first.drop();
    expect(t.statuses.at(-1)).toBe("reconnecting");
    expect(t.timers.runShort()).toEqual([375]); // attempt 0: 500 ms × (0.5 + 0.5 × jitter 0.5)
    await flush();
    // The socket never opens: close it, the next delay doubles.
    t.sockets[1]!.drop();
    expect(t.timers.runShort()).toEqual([750]);
    const third = await t.connect();
    expect(third.sent[0]).toEqual({ type: "auth", ticket: "ticket-3" });
    expect(third.framesOf("resume")).toEqual([{ type: "resume", positions: { [ROOM]: 9 } }]);
    expect(t.statuses.at(-1)).toBe("ready");
    // After a successful connection the backoff starts over.
    third.drop();
    expect(t.timers.runShort()).toEqual([375]);
  });

  it("comes back at a random moment within a restarting server's hint, then backs off as usual", async () => {
    const t = setup();
    await t.client.start();
    const first = await t.connect();
    first.drop("server restarting; reconnect_within_ms=6000");
    expect(t.statuses.at(-1)).toBe("reconnecting");
    expect(t.timers.runShort()).toEqual([3000]); // 6,000 ms × random 0.5, not the 375 ms backoff
    await flush();
    // That attempt fails without a hint: the backoff goes on from its second step.
    t.sockets[1]!.drop();
    expect(t.timers.runShort()).toEqual([750]);
  });

  it("resumes again after sync.stale, at a random point within within_ms, once per burst", async () => {
    const positions: Record<string, number> = { [ROOM]: 3 };
    const t = setup({ positions });
    await t.client.start();
    const s = await t.connect();
    expect(s.framesOf("resume")).toHaveLength(1);
    positions[ROOM] = 7;
    s.receive({ type: "sync.stale", within_ms: 800 });
    s.receive({ type: "sync.stale", within_ms: 800 }); // a second notice joins the first
    expect(s.framesOf("resume")).toHaveLength(1); // not at once: spread over the window
    expect(t.timers.runShort()).toEqual([400]); // 800 ms × random 0.5
    expect(s.framesOf("resume")).toEqual([
      { type: "resume", positions: { [ROOM]: 3 } },
      { type: "resume", positions: { [ROOM]: 7 } },
    ]);
    expect(t.frames.filter((f) => f.type === "sync.stale")).toHaveLength(2);
  });

  it("drops a pending stale resume when the socket reconnects (its own resume covers it)", async () => {
    const t = setup();
    await t.client.start();
    const first = await t.connect();
    first.receive({ type: "sync.stale", within_ms: 30_000 });
    first.drop();
    expect(t.timers.runShort()).toEqual([375]); // only the reconnect: the stale timer is gone
    const second = await t.connect();
    expect(second.framesOf("resume")).toHaveLength(1);
    expect([...t.timers.pending.values()].map((x) => x.ms)).not.toContain(15_000);
  });

  it("sends each outbox message once per connection and forgets it on ack", async () => {
    const t = setup();
    await t.client.start();
    const s = await t.connect();
    const entry = await t.client.send(ROOM, "hello");
    expect(entry.clientMsgId).toMatch(CLIENT_MSG_ID);
    const sends = s.framesOf("message.send");
    expect(sends).toEqual([
      { type: "message.send", ref: entry.clientMsgId, conversation_id: ROOM, client_msg_id: entry.clientMsgId, body: "hello" },
    ]);
    ack(s, sends[0]!, 42);
    await flush();
    expect(t.acks).toEqual([entry.clientMsgId]);
    expect(await t.outbox.all()).toEqual([]);
    expect(t.outboxView).toEqual([]);
  });

  it("keeps messages typed offline and sends them exactly once after reconnecting", async () => {
    const t = setup();
    await t.client.start();
    const s1 = await t.connect();
    t.client.goOffline();
    expect(s1.closed).toBe(true);
    expect(t.statuses.at(-1)).toBe("offline");
    const a = await t.client.send(ROOM, "one");
    const b = await t.client.send(ROOM, "two");
    expect(s1.framesOf("message.send")).toEqual([]);
    expect((await t.outbox.all()).map((e) => e.body)).toEqual(["one", "two"]);
    t.client.goOnline();
    const s2 = await t.connect();
    const sends = s2.framesOf("message.send");
    expect(sends.map((f) => f.client_msg_id)).toEqual([a.clientMsgId, b.clientMsgId]);
    // A second ready on the same socket (or a resend attempt) does not duplicate.
    t.client.resume();
    expect(s2.framesOf("message.send")).toHaveLength(2);
    ack(s2, sends[0]!, 5);
    ack(s2, sends[1]!, 6);
    await flush();
    expect(t.acks).toEqual([a.clientMsgId, b.clientMsgId]);
    expect(await t.outbox.all()).toEqual([]);
  });

  it("resends an unacknowledged message after a drop with the same id; a duplicate ack settles it", async () => {
    const t = setup();
    await t.client.start();
    const s1 = await t.connect();
    const entry = await t.client.send(ROOM, "hi");
    expect(s1.framesOf("message.send")).toHaveLength(1);
    s1.drop(); // the ack was lost
    t.timers.runShort();
    const s2 = await t.connect();
    const resent = s2.framesOf("message.send");
    expect(resent).toHaveLength(1);
    expect(resent[0]!.client_msg_id).toBe(entry.clientMsgId);
    ack(s2, resent[0]!, 7, true);
    await flush();
    expect(t.acks).toEqual([entry.clientMsgId]);
    // Later reconnects send nothing again.
    s2.drop();
    t.timers.runShort();
    const s3 = await t.connect();
    expect(s3.framesOf("message.send")).toEqual([]);
  });

  it("survives a reload: the IndexedDB outbox is read at start", async () => {
    const t = setup();
    await t.outbox.put({ clientMsgId: "a".repeat(32), conversationId: ROOM, body: "saved", createdAt: 1, failed: false });
    await t.client.start();
    const s = await t.connect();
    expect(s.framesOf("message.send").map((f) => f.body)).toEqual(["saved"]);
  });

  it("marks a refused message failed and retries it with the same id on demand", async () => {
    const t = setup();
    await t.client.start();
    const s = await t.connect();
    const entry = await t.client.send(ROOM, "x");
    s.receive({ type: "error", code: "not_a_member", message: "no", ref: entry.clientMsgId });
    await flush();
    expect(t.outboxView[0]?.failed).toBe(true);
    await t.client.retry(entry.clientMsgId);
    const sends = s.framesOf("message.send");
    expect(sends).toHaveLength(2);
    expect(sends[1]!.client_msg_id).toBe(entry.clientMsgId);
  });

  it("shows a message the outbox refused to store as not sent, with why, and sends it on a stored retry", async () => {
    const t = setup();
    await t.client.start();
    const s = await t.connect();
    vi.spyOn(t.outbox, "put").mockRejectedValueOnce(new Error("IndexedDB readwrite failed: aborted"));
    const entry = await t.client.send(ROOM, "x");
    expect(entry).toMatchObject({ body: "x", failed: true, reason: NOT_STORED_REASON });
    expect(t.outboxView).toEqual([entry]);
    expect(s.framesOf("message.send")).toEqual([]);

    vi.spyOn(t.outbox, "put").mockRejectedValueOnce(new Error("IndexedDB readwrite failed: aborted"));
    await t.client.retry(entry.clientMsgId);
    expect(t.outboxView[0]).toMatchObject({ failed: true, reason: NOT_STORED_REASON });
    expect(s.framesOf("message.send")).toEqual([]);

    await t.client.retry(entry.clientMsgId);
    expect(t.outboxView[0]).toEqual({ ...entry, failed: false, reason: undefined });
    expect(t.outboxView[0]).not.toHaveProperty("reason");
    expect(s.framesOf("message.send").map((f) => f.client_msg_id)).toEqual([entry.clientMsgId]);
  });

  it("throttles typing to one frame per 3 s per conversation", async () => {
    let now = 1000;
    const s = new FakeSocket();
    const client = new RealtimeClient({
      url: "ws://x",
      ticket: () => Promise.resolve("t"),
      open: () => s,
      outbox: new MemoryOutbox(),
      positions: () => ({}),
      listener: {
        status: () => undefined,
        frame: () => undefined,
        outboxChanged: () => undefined,
        ack: () => undefined,
        authLost: () => undefined,
      },
      timers: new ManualTimers(),
      now: () => now,
    });
    await client.start();
    await flush();
    s.open();
    s.receive({ type: "ready", user_id: "u", device_id: "d", heartbeat_s: 20 });
    client.typing(ROOM);
    now += 1000;
    client.typing(ROOM);
    now += 2500;
    client.typing(ROOM);
    client.typing("other");
    expect(s.framesOf("typing")).toEqual([
      { type: "typing", conversation_id: ROOM },
      { type: "typing", conversation_id: ROOM },
      { type: "typing", conversation_id: "other" },
    ]);
  });

  it("stops and reports when the session is revoked or the ticket is refused", async () => {
    const t = setup();
    await t.client.start();
    const s = await t.connect();
    s.receive({ type: "session.revoked" });
    expect(t.authLost).toBe(1);
    expect(t.client.status).toBe("stopped");

    const u = setup({ ticket: () => Promise.reject(new ApiError(401, "token_invalid", "expired")) });
    await u.client.start();
    await flush();
    await flush();
    expect(u.authLost).toBe(1);
    expect(u.sockets).toHaveLength(0);
  });

  it("private messages: sealed once connected, re-sealed with the same id and counter on stale_key_generation", async () => {
    const seals: { counter: number | undefined; generation: number }[] = [];
    let generation = 1;
    const t = setup({
      seal: (entry) => {
        seals.push({ counter: entry.counter, generation });
        return Promise.resolve({
          ...entry,
          counter: entry.counter ?? 7,
          envelope: { generation, ciphertext: `sealed-${String(generation)}` },
        });
      },
    });
    await t.client.start();
    const entry = await t.client.send(ROOM, "secret", { private: true });
    expect(seals).toEqual([]); // not connected: nothing sealed yet
    const s = await t.connect();
    await flush();
    const first = s.framesOf("message.send");
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({ client_msg_id: entry.clientMsgId, envelope: { generation: 1, ciphertext: "sealed-1" } });
    expect(first[0]).not.toHaveProperty("body");
    expect((await t.outbox.all())[0]?.counter).toBe(7);

    generation = 2;
    s.receive({ type: "error", code: "stale_key_generation", message: "stale", ref: entry.clientMsgId, current_generation: 1, stale: true });
    await flush();
    await flush();
    const sends = s.framesOf("message.send");
    expect(sends).toHaveLength(2);
    expect(sends[1]).toMatchObject({ client_msg_id: entry.clientMsgId, envelope: { generation: 2, ciphertext: "sealed-2" } });
    expect(seals).toEqual([
      { counter: undefined, generation: 1 },
      { counter: 7, generation: 2 },
    ]);
    ack(s, sends[1]!, 1);
    await flush();
    expect(t.acks).toEqual([entry.clientMsgId]);
  });

  it("a private message that can't be sealed shows why, and retries a transient failure", async () => {
    let attempts = 0;
    const t = setup({
      seal: () => {
        attempts += 1;
        if (attempts === 1) return Promise.reject(Object.assign(new Error("the server could not be reached"), { transient: true }));
        return Promise.reject(new Error("a contact's identity key changed: accept the new key to send"));
      },
    });
    await t.client.start();
    await t.client.send(ROOM, "secret", { private: true });
    await t.connect();
    await flush();
    expect(t.outboxView[0]?.failed).toBe(false);
    t.timers.runShort();
    await flush();
    await flush();
    expect(attempts).toBe(2);
    expect(t.outboxView[0]).toMatchObject({ failed: true, reason: "a contact's identity key changed: accept the new key to send" });
  });
});
