// @vitest-environment happy-dom
import { cleanup, fireEvent, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { MessageBubble } from "@/features/chat/message-bubble";
import { decodePlain } from "@/store/pipeline";
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

  it("shows a removed message as removed by a moderator, muted and announced as a note", async () => {
    const { api } = fakeApi((url) =>
      url.endsWith("/auth/refresh")
        ? { status: 401, body: { code: "unauthenticated" } }
        : { status: 200, body: { user_id: "u1", display_name: "Eve", key_bundle: "", key_bundle_version: 1 } },
    );
    const message = decodePlain({
      id: 7,
      conversation_id: "c",
      seq: 3,
      sender_id: "u1",
      sender_device_id: "d1",
      client_msg_id: "0".repeat(32),
      created_at: 0,
      body: null,
      removed: true,
    });
    renderWithProviders(<MessageBubble message={message} own={false} startsGroup readers={[]} />, api);
    const note = await screen.findByRole("note");
    expect(note.textContent).toBe("Message removed by a moderator");
    expect(note.classList.contains("muted")).toBe(true);
    expect(screen.queryByText("Encrypted message (unlock to read)")).toBeNull();
  });

  it("shows why an encrypted message could not be opened, never a blank bubble", async () => {
    const { api } = fakeApi((url) =>
      url.endsWith("/auth/refresh")
        ? { status: 401, body: { code: "unauthenticated" } }
        : { status: 200, body: { user_id: "u1", display_name: "Eve", key_bundle: "", key_bundle_version: 1 } },
    );
    const reason = "The server altered this message";
    const { container } = renderWithProviders(
      <MessageBubble
        message={{
          id: 9,
          conversationId: "c",
          seq: 4,
          senderId: "u1",
          clientMsgId: "0".repeat(32),
          createdAt: 0,
          text: reason,
          encrypted: true,
          failure: reason,
        }}
        own={false}
        startsGroup
        readers={[]}
      />,
      api,
    );
    const shown = await screen.findByTestId("message-failure");
    expect(shown.textContent).toContain(reason);
    expect(container.querySelector(".bubble.undecryptable")).not.toBeNull();
  });

  it("offers a moderator Remove, asks first, and hides it once the message is removed", async () => {
    const { api } = fakeApi((url) =>
      url.endsWith("/auth/refresh")
        ? { status: 401, body: { code: "unauthenticated" } }
        : { status: 200, body: { user_id: "u1", display_name: "Eve", key_bundle: "", key_bundle_version: 1 } },
    );
    const message = {
      id: 7,
      conversationId: "c",
      seq: 3,
      senderId: "u1",
      clientMsgId: "0".repeat(32),
      createdAt: 0,
      text: "spam",
      encrypted: false,
    };
    const removed: number[] = [];
    const onRemove = (m: { id: number }) => removed.push(m.id);
    // happy-dom has no dialogs: the first question is declined, the second accepted.
    const confirm = vi.fn<(message?: string) => boolean>().mockReturnValueOnce(false).mockReturnValueOnce(true);
    window.confirm = confirm;
    renderWithProviders(<MessageBubble message={message} own={false} startsGroup readers={[]} onRemove={onRemove} />, api);
    const button = await screen.findByRole("button", { name: /remove this message/i });
    fireEvent.click(button);
    expect(removed).toEqual([]);
    fireEvent.click(button);
    expect(removed).toEqual([7]);
    expect(confirm).toHaveBeenCalledTimes(2);
    cleanup();
    const gone = decodePlain({ ...wire(message), removed: true });
    renderWithProviders(<MessageBubble message={gone} own={false} startsGroup readers={[]} onRemove={onRemove} />, api);
    expect(await screen.findByRole("note")).toBeTruthy();
    expect(screen.queryByRole("button", { name: /remove this message/i })).toBeNull();
  });
});

function wire(m: { id: number; conversationId: string; seq: number; senderId: string; clientMsgId: string; createdAt: number }) {
  return {
    id: m.id,
    conversation_id: m.conversationId,
    seq: m.seq,
    sender_id: m.senderId,
    sender_device_id: "d1",
    client_msg_id: m.clientMsgId,
    created_at: m.createdAt,
  };
}
