import "fake-indexeddb/auto";

import { describe, expect, it } from "vitest";

import { IndexedDbOutbox } from "@/transport/outbox";

const ROOM = "0b5f6a1e-3d4c-4e8a-9a51-6f2f5b8d2c11";

describe("IndexedDbOutbox", () => {
  it("keeps entries across instances (a reload), in creation order, until removed", async () => {
    const first = new IndexedDbOutbox("outbox-test");
    await first.put({ clientMsgId: "b".repeat(32), conversationId: ROOM, body: "second", createdAt: 2, failed: false });
    await first.put({ clientMsgId: "a".repeat(32), conversationId: ROOM, body: "first", createdAt: 1, failed: false });
    const second = new IndexedDbOutbox("outbox-test");
    expect((await second.all()).map((e) => e.body)).toEqual(["first", "second"]);
    await second.remove("a".repeat(32));
    await second.put({ clientMsgId: "b".repeat(32), conversationId: ROOM, body: "second", createdAt: 2, failed: true });
    expect(await new IndexedDbOutbox("outbox-test").all()).toEqual([
      { clientMsgId: "b".repeat(32), conversationId: ROOM, body: "second", createdAt: 2, failed: true },
    ]);
  });
});
