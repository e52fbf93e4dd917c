// @vitest-environment happy-dom
import { describe, expect, it, vi } from "vitest";

import type { ApiClient } from "@/api/client";
import { READ_COALESCE_MS, type ChatEngine } from "@/store/chat-engine";
import type { ServerFrame } from "@/transport/frames";
import { answerReady, fakeApi, ME, newEngine, startEngine, useFakeEngineEnvironment } from "@/test/engine";
import { FakeWebSocket as FakeSocket } from "@/test/fake-socket";

const OTHER = "22222222-2222-4222-8222-222222222222";
const ROOM = "0b5f6a1e-3d4c-4e8a-9a51-6f2f5b8d2c11";

function messageNew(seq: number, sender = OTHER): ServerFrame {
  return {
    type: "message.new",
    message: {
      id: seq,
      conversation_id: ROOM,
      seq,
      sender_id: sender,
      sender_device_id: sender,
      client_msg_id: seq.toString(16).padStart(32, "0"),
      created_at: 1_700_000_000_000 + seq,
      body: `message ${String(seq)}`,
      removed: false,
    },
  };
}

/** The room's API: no messages yet; HTTP read receipts (204) are recorded. */
function roomApi(): { api: ApiClient; httpReads: string[] } {
  const httpReads: string[] = [];
  const api = fakeApi((url, init) => {
    if (url.endsWith(`/conversations/${ROOM}`)) return { id: ROOM, kind: "room" };
    if (url.includes("/messages")) return { messages: [], has_more_before: false, last_seq: 0 };
    if (url.endsWith("/read")) {
      httpReads.push(typeof init?.body === "string" ? init.body : "");
      return undefined;
    }
    return null;
  });
  return { api, httpReads };
}

async function connectedEngine() {
  const { api, httpReads } = roomApi();
  const engine = newEngine(api);
  const socket = await startEngine(engine);
  await engine.open(ROOM);
  await vi.advanceTimersByTimeAsync(READ_COALESCE_MS);
  socket.sent.length = 0;
  return { engine, socket, httpReads };
}

describe("ChatEngine read receipts", () => {
  useFakeEngineEnvironment();

  it("sends one read with the latest seq for a burst of confirmed messages", async () => {
    const { engine, socket, httpReads } = await connectedEngine();
    for (let seq = 1; seq <= 40; seq++) socket.receive(messageNew(seq));
    // Shown as read at once, sent later.
    expect(engine.store.conversation(ROOM).receipts[ME]).toBe(40);
    expect(socket.framesOf("read")).toEqual([]);

    await vi.advanceTimersByTimeAsync(READ_COALESCE_MS);
    expect(socket.framesOf("read")).toEqual([{ type: "read", conversation_id: ROOM, seq: 40 }]);

    for (let seq = 41; seq <= 45; seq++) {
      socket.receive(messageNew(seq));
      await vi.advanceTimersByTimeAsync(50);
    }
    await vi.advanceTimersByTimeAsync(READ_COALESCE_MS);
    expect(socket.framesOf("read").map((f) => f.seq)).toEqual([40, 45]);
    expect(httpReads).toEqual([]);
    engine.stop();
  });

  it("sends no read for the sender's own confirmed messages (storing them moved it)", async () => {
    const { engine, socket } = await connectedEngine();
    for (let i = 0; i < 5; i++) engine.send(ROOM, `hello ${String(i)}`);
    await vi.advanceTimersByTimeAsync(0);
    const sends = socket.framesOf("message.send");
    expect(sends).toHaveLength(5);
    sends.forEach((frame, i) => {
      socket.receive({
        type: "message.ack",
        ref: (frame.ref as string | undefined) ?? null,
        conversation_id: ROOM,
        client_msg_id: frame.client_msg_id as string,
        seq: i + 1,
        message_id: i + 1,
        created_at: 1_700_000_000_000,
        duplicate: false,
      });
    });
    await vi.advanceTimersByTimeAsync(READ_COALESCE_MS * 2);
    expect(engine.store.conversation(ROOM).receipts[ME]).toBe(5);
    expect(socket.framesOf("read")).toEqual([]);
    engine.stop();
  });
});

describe("ChatEngine own sends (protocol 2: the ack, no echo)", () => {
  useFakeEngineEnvironment();

  function ackFor(frame: Record<string, unknown>, seq: number): ServerFrame {
    return {
      type: "message.ack",
      ref: (frame.ref as string | undefined) ?? null,
      conversation_id: ROOM,
      client_msg_id: frame.client_msg_id as string,
      seq,
      message_id: 100 + seq,
      created_at: 1_700_000_000_000 + seq,
      duplicate: false,
    };
  }

  it("shows pipelined sends once each, sent, in seq order from their acks alone", async () => {
    const { engine, socket } = await connectedEngine();
    for (let i = 0; i < 3; i++) engine.send(ROOM, `hello ${String(i)}`);
    await vi.advanceTimersByTimeAsync(0);
    const sends = socket.framesOf("message.send");
    // All three on the wire at once: none waits for the ack of the one before.
    expect(sends).toHaveLength(3);
    expect(engine.store.getState().outbox).toHaveLength(3);
    // Acks may come in any order; no message.new follows for the sending socket.
    socket.receive(ackFor(sends[1] as Record<string, unknown>, 2));
    socket.receive(ackFor(sends[0] as Record<string, unknown>, 1));
    socket.receive(ackFor(sends[2] as Record<string, unknown>, 3));
    await vi.advanceTimersByTimeAsync(0);
    const shown = engine.store.conversation(ROOM).messages;
    expect(shown.map((m) => [m.seq, m.text, m.senderId, m.id])).toEqual([
      [1, "hello 0", ME, 101],
      [2, "hello 1", ME, 102],
      [3, "hello 2", ME, 103],
    ]);
    expect(engine.store.getState().outbox).toEqual([]);
    engine.stop();
  });

  it("keeps a sent message once when another tab's copy or a backfill brings it again", async () => {
    const { engine, socket } = await connectedEngine();
    engine.send(ROOM, "hello 1");
    await vi.advanceTimersByTimeAsync(0);
    const [send] = socket.framesOf("message.send");
    socket.receive(ackFor(send as Record<string, unknown>, 1));
    // A resume backfill (history) holds our own message too.
    socket.receive({
      type: "message.new",
      message: {
        id: 101,
        conversation_id: ROOM,
        seq: 1,
        sender_id: ME,
        sender_device_id: ME,
        client_msg_id: (send as Record<string, unknown>).client_msg_id as string,
        created_at: 1_700_000_000_001,
        body: "hello 1",
        removed: false,
      },
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(engine.store.conversation(ROOM).messages.map((m) => [m.seq, m.text])).toEqual([[1, "hello 1"]]);
    engine.stop();
  });

  it("shows a message sent from this user's other tab, which arrives as message.new", async () => {
    const { engine, socket } = await connectedEngine();
    socket.receive(messageNew(1, ME));
    await vi.advanceTimersByTimeAsync(0);
    expect(engine.store.conversation(ROOM).messages.map((m) => [m.seq, m.senderId])).toEqual([[1, ME]]);
    engine.stop();
  });
});

describe("ChatEngine private conversations", () => {
  useFakeEngineEnvironment();

  it("opens envelopes through the private pipeline and sends envelopes, never text", async () => {
    const { api } = roomApi();
    const decoded: number[] = [];
    const engine = newEngine(
      api,
      {},
      {
        privateMessaging: () =>
          Promise.resolve({
            decode: (messages) => {
              decoded.push(...messages.map((m) => m.seq));
              return Promise.resolve(
                messages.map((m) => ({
                  id: m.id,
                  conversationId: m.conversation_id,
                  seq: m.seq,
                  senderId: m.sender_id,
                  clientMsgId: m.client_msg_id,
                  createdAt: m.created_at,
                  text: `opened ${String(m.seq)}`,
                  encrypted: true,
                })),
              );
            },
            seal: (entry) =>
              Promise.resolve({ ...entry, counter: 1, envelope: { generation: 1, ciphertext: "c2VhbGVk" } }),
          }),
      },
    );
    const socket = await startEngine(engine);
    await vi.advanceTimersByTimeAsync(0);

    socket.receive({
      type: "message.new",
      message: {
        id: 5,
        conversation_id: ROOM,
        seq: 5,
        sender_id: OTHER,
        sender_device_id: OTHER,
        client_msg_id: "5".padStart(32, "0"),
        created_at: 1,
        generation: 1,
        ciphertext: "AAAA",
        removed: false,
      },
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(decoded).toEqual([5]);
    expect(engine.store.conversation(ROOM).messages.map((m) => m.text)).toEqual(["opened 5"]);

    // Storing the text encrypted under the local key is real WebCrypto work: real timers now.
    vi.useRealTimers();
    engine.send(ROOM, "a secret", "dm");
    await vi.waitFor(() => {
      expect(socket.framesOf("message.send")).toHaveLength(1);
    });
    const sends = socket.framesOf("message.send");
    expect(sends[0]).toMatchObject({ envelope: { generation: 1, ciphertext: "c2VhbGVk" } });
    expect(JSON.stringify(sends[0])).not.toContain("a secret");
    engine.stop();
  });
});

describe("ChatEngine history paging", () => {
  /** A room of `total` messages; `pages` records each history request's `before`. */
  function historyApi(total: number) {
    const pages: (number | null)[] = [];
    const api = fakeApi((input) => {
      const url = new URL(input, "http://localhost");
      if (url.pathname.endsWith(`/conversations/${ROOM}`)) return { id: ROOM, kind: "room" };
      if (url.pathname.endsWith("/messages")) {
        const before = url.searchParams.get("before");
        const limit = Number(url.searchParams.get("limit"));
        pages.push(before === null ? null : Number(before));
        const end = before === null ? total : Number(before) - 1;
        const start = Math.max(1, end - limit + 1);
        const messages = [];
        for (let seq = start; seq <= end; seq++) {
          const frame = messageNew(seq);
          if (frame.type === "message.new") messages.push(frame.message);
        }
        return { messages, has_more_before: start > 1, last_seq: total };
      }
      return url.pathname.endsWith("/read") ? undefined : null;
    });
    return { engine: newEngine(api), pages };
  }

  const seqs = (engine: ChatEngine) => engine.store.conversation(ROOM).messages.map((m) => m.seq);

  it("reads the next older page ahead once the reader pages back", async () => {
    const { engine, pages } = historyApi(180);
    await engine.open(ROOM);
    expect(pages).toEqual([null]);

    // 131–180 shown; the reader pages back: 81–130 now, 31–80 read ahead (fetched, opened).
    expect(await engine.loadOlder(ROOM)).toBe(true);
    expect(seqs(engine)).toHaveLength(100);
    await vi.waitFor(() => {
      expect(pages).toEqual([null, 131, 81]);
    });

    // Shown from the page read ahead, and the next one read ahead; then nothing left.
    expect(await engine.loadOlder(ROOM)).toBe(true);
    expect(seqs(engine)).toHaveLength(150);
    expect(pages).toEqual([null, 131, 81, 31]);
    expect(await engine.loadOlder(ROOM)).toBe(true);
    expect(seqs(engine)).toEqual(Array.from({ length: 180 }, (_, i) => i + 1));
    expect(engine.store.conversation(ROOM).hasMoreBefore).toBe(false);
    expect(await engine.loadOlder(ROOM)).toBe(false);
    expect(pages).toEqual([null, 131, 81, 31]);
    engine.close(ROOM);
  });

  it("fetches again when a message was removed after the page was read ahead", async () => {
    FakeSocket.all.length = 0;
    vi.stubGlobal("WebSocket", FakeSocket);
    const { engine, pages } = historyApi(180);
    engine.start();
    const socket = await vi.waitFor(() => {
      const opened = FakeSocket.all.at(-1);
      if (opened === undefined) throw new Error("no socket yet");
      return opened;
    });
    answerReady(socket);
    await engine.open(ROOM);
    await engine.loadOlder(ROOM);
    await vi.waitFor(() => {
      expect(pages).toEqual([null, 131, 81]);
    });

    // Its text may still be in the page read ahead: that page is not used.
    socket.receive({ type: "message.removed", conversation_id: ROOM, seq: 50, message_id: 50 });
    await engine.loadOlder(ROOM);
    expect(pages.slice(0, 4)).toEqual([null, 131, 81, 81]);
    await engine.loadOlder(ROOM);
    expect(seqs(engine)).toHaveLength(180);
    engine.stop();
    vi.unstubAllGlobals();
  });
});
