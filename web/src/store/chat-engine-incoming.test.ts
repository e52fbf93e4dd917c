// @vitest-environment happy-dom
import { describe, expect, it, vi } from "vitest";

import type { Message } from "@/api/types";
import type { PrivateMessaging } from "@/store/chat-engine";
import { decodePlain, type ChatMessage } from "@/store/pipeline";
import { fakeApi, newEngine, startEngine, useFakeEngineEnvironment } from "@/test/engine";

const OTHER = "22222222-2222-4222-8222-222222222222";
const DM = "3c1f6a1e-3d4c-4e8a-9a51-6f2f5b8d2c22";

function sealed(seq: number): Message {
  return {
    id: seq,
    conversation_id: DM,
    seq,
    sender_id: OTHER,
    sender_device_id: OTHER,
    client_msg_id: seq.toString(16).padStart(32, "0"),
    created_at: 1_700_000_000_000 + seq,
    generation: 1,
    ciphertext: "AAAA",
  };
}

/** What the real decoder makes of an envelope it opened (pipeline's mapping, with text). */
function opened(m: Message): ChatMessage {
  return { ...decodePlain(m), text: `text ${String(m.seq)}` };
}

/** A decoder that opens each batch only when the test says so, recording the batch sizes. */
function slowDecoder() {
  const batches: number[] = [];
  const release: (() => void)[] = [];
  const messaging: PrivateMessaging = {
    decode: async (messages) => {
      batches.push(messages.length);
      await new Promise<void>((resolve) => release.push(resolve));
      return messages.map(opened);
    },
    seal: (entry) => Promise.resolve(entry),
  };
  return { batches, release, messaging };
}

describe("ChatEngine incoming envelopes", () => {
  useFakeEngineEnvironment();

  it("envelopes_arriving_while_a_batch_opens_are_opened_together_in_order", async () => {
    const decoder = slowDecoder();
    const api = fakeApi((url) =>
      url.includes("/messages") ? { messages: [], has_more_before: false, last_seq: 0 } : {},
    );
    const engine = newEngine(api, {}, { privateMessaging: () => Promise.resolve(decoder.messaging) });
    const socket = await startEngine(engine);

    // A live envelope is opened on its own; the 199 of a resume arriving meanwhile go together.
    socket.receive({ type: "message.new", message: sealed(1) });
    await vi.advanceTimersByTimeAsync(0);
    expect(decoder.batches).toEqual([1]);
    for (let seq = 2; seq <= 200; seq++) socket.receive({ type: "message.new", message: sealed(seq) });
    await vi.advanceTimersByTimeAsync(0);
    expect(decoder.batches).toEqual([1]);
    decoder.release.shift()?.();
    await vi.advanceTimersByTimeAsync(0);
    expect(decoder.batches).toEqual([1, 199]);
    decoder.release.shift()?.();
    await vi.advanceTimersByTimeAsync(0);

    const messages = engine.store.conversation(DM).messages;
    expect(messages.map((m) => m.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(messages.at(-1)?.text).toBe("text 200");
    expect(engine.store.getState().unread[DM]).toBe(200);

    // Frames already received when a batch starts are in it, however they were dispatched.
    socket.receive({ type: "message.new", message: sealed(201) });
    socket.receive({ type: "message.new", message: sealed(202) });
    await vi.advanceTimersByTimeAsync(0);
    expect(decoder.batches).toEqual([1, 199, 2]);
    decoder.release.shift()?.();
    await vi.advanceTimersByTimeAsync(0);
    // A lone live envelope afterwards is opened on its own, without waiting for more.
    socket.receive({ type: "message.new", message: sealed(203) });
    await vi.advanceTimersByTimeAsync(0);
    expect(decoder.batches).toEqual([1, 199, 2, 1]);
    decoder.release.shift()?.();
    await vi.advanceTimersByTimeAsync(0);
    expect(engine.store.conversation(DM).messages.at(-1)?.seq).toBe(203);
    engine.stop();
  });
});
