import { describe, expect, it } from "vitest";

import { ChatStore } from "@/store/chat-store";
import type { ChatMessage } from "@/store/pipeline";

const C = "c1";
const msg = (seq: number): ChatMessage => ({
  id: seq,
  conversationId: C,
  seq,
  senderId: "u",
  clientMsgId: seq.toString(16).padStart(32, "0"),
  createdAt: seq,
  text: `m${String(seq)}`,
  encrypted: false,
});

describe("ChatStore", () => {
  it("dedupes by (conversation, seq) and tracks the contiguous last seq", () => {
    const store = new ChatStore();
    store.addMessages(C, [msg(5), msg(6)], { hasMoreBefore: true, lastSeq: 6 });
    expect(store.addMessages(C, [msg(6), msg(7)])).toEqual([msg(7)]);
    expect(store.addMessages(C, [msg(7)])).toEqual([]);
    store.addMessages(C, [msg(9)]);
    const c = store.conversation(C);
    expect(c.messages.map((m) => m.seq)).toEqual([5, 6, 7, 9]);
    expect(c.lastSeq).toBe(7);
    expect(c.knownLastSeq).toBe(9);
    expect(store.positions()).toEqual({ [C]: 7 });
    store.addMessages(C, [msg(8)]);
    expect(store.conversation(C).lastSeq).toBe(9);
    store.addMessages(C, [msg(3), msg(4)], { hasMoreBefore: false, lastSeq: 9 });
    expect(store.conversation(C).hasMoreBefore).toBe(false);
  });

  it("counts unread except for the open conversation", () => {
    const store = new ChatStore();
    store.setUnread({ [C]: 2, other: 1 });
    store.incrementUnread(C);
    expect(store.getState().unread[C]).toBe(3);
    store.setActive(C);
    expect(store.getState().unread[C]).toBe(0);
    store.incrementUnread(C);
    expect(store.getState().unread[C]).toBe(0);
    store.incrementUnread("other");
    expect(store.getState().unread.other).toBe(2);
  });

  it("keeps receipts monotonic", () => {
    const store = new ChatStore();
    store.receipts(C, { a: 5 });
    store.receipts(C, { a: 3, b: 1 });
    expect(store.conversation(C).receipts).toEqual({ a: 5, b: 1 });
  });

  it("shows a message a moderator removed in its place, without its text", () => {
    const store = new ChatStore();
    store.addMessages(C, [msg(1), msg(2), msg(3)], { hasMoreBefore: false, lastSeq: 3 });
    const before = store.conversation(C);
    store.markRemoved(C, 2);
    const after = store.conversation(C);
    expect(after.messages.map((m) => m.seq)).toEqual([1, 2, 3]);
    expect(after.messages[1]).toMatchObject({ seq: 2, removed: true, text: "Message removed by a moderator" });
    expect(JSON.stringify(after.messages)).not.toContain("m2");
    expect(after.messages[0]).toBe(before.messages[0]);
    expect(after.lastSeq).toBe(3);
    store.markRemoved(C, 2);
    store.markRemoved(C, 99);
    expect(store.conversation(C)).toBe(after);
  });

  it("takes a removal from a page fetched after the live frame was missed", () => {
    const store = new ChatStore();
    store.addMessages(C, [msg(1), msg(2)], { hasMoreBefore: false, lastSeq: 2 });
    store.addMessages(C, [{ ...msg(2), text: "", removed: true }], { lastSeq: 2 });
    expect(store.conversation(C).messages[1]?.removed).toBe(true);
  });
});
