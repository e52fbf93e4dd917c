// @vitest-environment happy-dom
import { cleanup, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";

import { CounterNoticeRow } from "@/features/chat/message-notice";
import { buildRows } from "@/features/chat/message-rows";
import type { CounterNotice } from "@/session/message-crypto";
import type { ChatMessage } from "@/store/pipeline";
import { fakeApi, renderWithProviders } from "@/test/render";

afterEach(cleanup);

const notice = (kind: CounterNotice["kind"], seq: number, count: number): CounterNotice => ({
  kind,
  conversationId: "c",
  seq,
  senderId: "u1",
  senderDeviceId: "d1",
  count,
});

const message = (seq: number): ChatMessage => ({
  id: seq,
  conversationId: "c",
  seq,
  senderId: "u1",
  clientMsgId: String(seq).padStart(32, "0"),
  createdAt: 0,
  text: `m${String(seq)}`,
  encrypted: true,
});

function bob() {
  return fakeApi((url) =>
    url.endsWith("/auth/refresh")
      ? { status: 401, body: { code: "unauthenticated" } }
      : { status: 200, body: { user_id: "u1", display_name: "Bob", key_bundle: "", key_bundle_version: 1 } },
  ).api;
}

describe("counter notices", () => {
  it("say plainly how many messages the server did not deliver, and who sent them", async () => {
    renderWithProviders(<CounterNoticeRow notice={notice("missing", 3, 1)} />, bob());
    const shown = await screen.findByTestId("missing-messages-notice");
    await screen.findByText(/Bob/);
    expect(shown.textContent).toBe("1 message from Bob could not be delivered by the server");
    cleanup();
    renderWithProviders(<CounterNoticeRow notice={notice("missing", 3, 2)} />, bob());
    await screen.findByText(/Bob/);
    expect((await screen.findByTestId("missing-messages-notice")).textContent).toMatch(/^2 messages from Bob/);
    cleanup();
    renderWithProviders(<CounterNoticeRow notice={notice("reordered", 3, 1)} />, bob());
    await screen.findByText(/Bob/);
    expect((await screen.findByTestId("reordered-messages-notice")).textContent).toBe(
      "Messages from Bob arrived out of order",
    );
  });

  it("sit just before the message at their seq, which then starts a sender group", () => {
    const rows = buildRows([message(1), message(2), message(3)], Number.POSITIVE_INFINITY, "me", [
      notice("missing", 2, 1),
    ]);
    expect(rows.map((r) => r.kind)).toEqual(["day", "message", "notice", "message", "message"]);
    expect(rows[3]?.startsGroup).toBe(true);
    expect(rows[4]?.startsGroup).toBe(false);
    expect(buildRows([message(1)], Number.POSITIVE_INFINITY, "me").map((r) => r.kind)).toEqual(["day", "message"]);
  });
});
