// @vitest-environment happy-dom
import { describe, expect, it, vi } from "vitest";

import { REMOVED_TEXT } from "@/store/pipeline";
import { fakeApi, newEngine, startEngine, useFakeEngineEnvironment } from "@/test/engine";

const OTHER = "22222222-2222-4222-8222-222222222222";
const ROOM = "0b5f6a1e-3d4c-4e8a-9a51-6f2f5b8d2c11";

function message(seq: number, removed = false) {
  return {
    id: seq,
    conversation_id: ROOM,
    seq,
    sender_id: OTHER,
    sender_device_id: OTHER,
    client_msg_id: seq.toString(16).padStart(32, "0"),
    created_at: 1_700_000_000_000 + seq,
    ...(removed ? { removed: true } : { body: `message ${String(seq)}` }),
  };
}

async function connectedEngine() {
  const api = fakeApi((url) => {
    if (url.endsWith(`/conversations/${ROOM}`)) return { id: ROOM, kind: "room" };
    if (url.includes("/messages"))
      return { messages: [message(1), message(2)], has_more_before: false, last_seq: 2 };
    return undefined;
  });
  const changed = vi.fn();
  const engine = newEngine(api, { conversationsChanged: changed });
  const socket = await startEngine(engine);
  await engine.open(ROOM);
  changed.mockClear();
  return { engine, socket, changed };
}

describe("ChatEngine moderation frames", () => {
  useFakeEngineEnvironment();

  it("replaces a removed message's text in place when message.removed arrives", async () => {
    const { engine, socket } = await connectedEngine();
    socket.receive({ type: "message.removed", conversation_id: ROOM, seq: 1, message_id: 1 });
    await vi.advanceTimersByTimeAsync(0);
    const [first, second] = engine.store.conversation(ROOM).messages;
    expect(first).toMatchObject({ seq: 1, removed: true, text: REMOVED_TEXT });
    expect(second).toMatchObject({ seq: 2, text: "message 2" });
  });

  it("shows a removed message from a backfill as removed, not as a locked envelope", async () => {
    const { engine, socket } = await connectedEngine();
    socket.receive({ type: "message.new", message: message(3, true) });
    await vi.advanceTimersByTimeAsync(0);
    expect(engine.store.conversation(ROOM).messages.at(-1)).toMatchObject({
      seq: 3,
      removed: true,
      text: REMOVED_TEXT,
      encrypted: false,
    });
  });

  it("drops a deleted room and refreshes the conversation list", async () => {
    const { engine, socket, changed } = await connectedEngine();
    socket.receive({ type: "conversation.removed", conversation_id: ROOM });
    await vi.advanceTimersByTimeAsync(0);
    expect(engine.store.conversation(ROOM).messages).toEqual([]);
    expect(changed).toHaveBeenCalled();
  });
});
