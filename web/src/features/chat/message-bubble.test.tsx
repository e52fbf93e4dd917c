// @vitest-environment happy-dom
import { cleanup, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";

import { MessageBubble } from "@/features/chat/message-bubble";
import { fakeApi, renderWithProviders } from "@/test/render";

afterEach(cleanup);

const XSS = '<img src=x onerror=alert(1)><script>alert(2)</script><a href="javascript:alert(3)">x</a>';

describe("MessageBubble", () => {
  it("renders user text as text, never as HTML", async () => {
    const { api } = fakeApi((url) =>
      url.endsWith("/auth/refresh")
        ? { status: 401, body: { code: "unauthenticated" } }
        : { status: 200, body: { user_id: "u1", display_name: "<b>Eve</b>", key_bundle: "", key_bundle_version: 1 } },
    );
    const { container } = renderWithProviders(
      <MessageBubble
        message={{
          id: 1,
          conversationId: "c",
          seq: 1,
          senderId: "u1",
          clientMsgId: "0".repeat(32),
          createdAt: 0,
          text: XSS,
          encrypted: false,
        }}
        own={false}
        startsGroup
        readers={[]}
      />,
      api,
    );
    expect(await screen.findByText(XSS)).toBeTruthy();
    expect(await screen.findByText("<b>Eve</b>")).toBeTruthy();
    expect(container.querySelector("img, script, a, b")).toBeNull();
  });
});
