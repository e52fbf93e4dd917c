// @vitest-environment happy-dom
import { cleanup, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";

import { PendingBubble } from "@/features/chat/message-bubble";
import { EngineProvider } from "@/store/react";
import { fakeApi, renderWithProviders } from "@/test/render";
import { NOT_STORED_REASON } from "@/transport/realtime";

afterEach(cleanup);

describe("PendingBubble", () => {
  it("shows a message this device could not store as not sent, with why, and offers Retry", async () => {
    const { api } = fakeApi(() => ({ status: 503, body: { code: "service_unavailable" } }));
    renderWithProviders(
      <EngineProvider userId="u1">
        <PendingBubble
          entry={{
            clientMsgId: "0".repeat(32),
            conversationId: "c",
            body: "hello",
            createdAt: 0,
            failed: true,
            reason: NOT_STORED_REASON,
          }}
        />
      </EngineProvider>,
      api,
    );
    expect(await screen.findByText("Not sent")).toBeTruthy();
    expect(screen.getByText(`· ${NOT_STORED_REASON}`)).toBeTruthy();
    expect(screen.getByRole("button", { name: "Retry" })).toBeTruthy();
  });
});
