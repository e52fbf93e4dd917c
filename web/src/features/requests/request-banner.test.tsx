// @vitest-environment happy-dom
import { cleanup, fireEvent, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { ConversationRequests } from "@/features/requests/conversation-requests";
import { fakeApi, renderWithProviders } from "@/test/render";

const BOB = "22222222-2222-4222-8222-222222222222";
const DM = "dddddddd-dddd-4ddd-8ddd-dddddddddddd";
const ROOM = "eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee";

function summary(id: string, kind: "dm" | "room", request: boolean) {
  return {
    id,
    kind,
    name: kind === "room" ? "Hall" : null,
    topic: null,
    created_by: BOB,
    created_at: 1,
    last_seq: 1,
    member_count: 2,
    role: "member",
    last_read_seq: 0,
    unread: 1,
    request,
    hidden: false,
  };
}

/** A fake server: `request` says whether the DM is still a request; `blocked` whether Bob is. */
function server(state: { request: boolean; blocked: boolean }) {
  return fakeApi((url, init) => {
    const method = init?.method ?? "GET";
    if (url.endsWith("/auth/refresh")) return { status: 401, body: { code: "unauthenticated" } };
    if (url.endsWith("/api/v1/conversations")) {
      return { status: 200, body: [summary(DM, "dm", state.request), summary(ROOM, "room", false)] };
    }
    if (url.endsWith("/api/v1/blocks")) {
      return { status: 200, body: { blocks: state.blocked ? [{ user_id: BOB, created_at: 1 }] : [] } };
    }
    if (url.endsWith(`/users/${BOB}`)) {
      return { status: 200, body: { user_id: BOB, display_name: "Bob", keys_version: 1 } };
    }
    if (method === "POST" && url.endsWith(`/conversations/${DM}/accept`)) {
      state.request = false;
      return { status: 204 };
    }
    if (method === "POST" && url.endsWith(`/conversations/${DM}/decline`)) return { status: 204 };
    if (method === "POST" && url.endsWith(`/conversations/${DM}/hide`)) return { status: 204 };
    if (method === "POST" && url.endsWith(`/dms/${DM}/leave`)) return { status: 204 };
    if (url.endsWith(`/blocks/${BOB}`)) {
      state.blocked = method === "PUT";
      return { status: 204 };
    }
    return { status: 404, body: { code: "not_found" } };
  });
}

function renderRequests(id: string, kind: "dm" | "room", state: { request: boolean; blocked: boolean }) {
  const { api, calls } = server(state);
  const onGone = vi.fn();
  renderWithProviders(
    <ConversationRequests id={id} kind={kind} partnerId={kind === "dm" ? BOB : undefined} onGone={onGone} />,
    api,
  );
  return { calls, onGone };
}

afterEach(() => {
  cleanup();
});

describe("message request banner", () => {
  it("shows a stranger's DM as a request and accepting it removes the banner", async () => {
    const { calls, onGone } = renderRequests(DM, "dm", { request: true, blocked: false });
    const banner = await screen.findByRole("region", { name: "Message request" });
    await waitFor(() => {
      expect(banner.textContent).toContain("Bob wants to message you");
    });
    expect(banner.textContent).toContain("can't see when you're online, typing or have read");

    fireEvent.click(screen.getByRole("button", { name: "Accept" }));
    await waitFor(() => {
      expect(screen.queryByRole("region", { name: "Message request" })).toBeNull();
    });
    expect(calls).toContain(`POST /api/v1/conversations/${DM}/accept`);
    expect(onGone).not.toHaveBeenCalled();
  });

  it("declining leaves the conversation", async () => {
    const { calls, onGone } = renderRequests(DM, "dm", { request: true, blocked: false });
    fireEvent.click(await screen.findByRole("button", { name: "Decline" }));
    await waitFor(() => {
      expect(onGone).toHaveBeenCalledOnce();
    });
    expect(calls).toContain(`POST /api/v1/conversations/${DM}/decline`);
  });

  it("blocking from the banner blocks the sender and leaves the view", async () => {
    const state = { request: true, blocked: false };
    const { calls, onGone } = renderRequests(DM, "dm", state);
    fireEvent.click(await screen.findByRole("button", { name: "Block" }));
    await waitFor(() => {
      expect(onGone).toHaveBeenCalledOnce();
    });
    expect(calls).toContain(`PUT /api/v1/blocks/${BOB}`);
    expect(state.blocked).toBe(true);
  });

  it("an accepted DM has no banner, and its menu hides, leaves and unblocks", async () => {
    const state = { request: false, blocked: true };
    const { calls, onGone } = renderRequests(DM, "dm", state);
    const menu = await screen.findByRole("button", { name: "Conversation actions" });
    expect(screen.queryByRole("region", { name: "Message request" })).toBeNull();

    await waitFor(() => {
      expect(calls).toContain("GET /api/v1/blocks");
    });
    fireEvent.click(menu);
    await screen.findByRole("menuitem", { name: "Unblock" });
    const items = screen.getAllByRole("menuitem");
    expect(items.map((item) => item.textContent)).toEqual([
      "Hide conversation",
      "Leave conversation",
      "Unblock",
    ]);
    fireEvent.click(screen.getByRole("menuitem", { name: "Unblock" }));
    await waitFor(() => {
      expect(calls).toContain(`DELETE /api/v1/blocks/${BOB}`);
    });
    expect(onGone).not.toHaveBeenCalled();

    fireEvent.click(menu);
    fireEvent.click(await screen.findByRole("menuitem", { name: "Leave conversation" }));
    await waitFor(() => {
      expect(onGone).toHaveBeenCalledOnce();
    });
    expect(calls).toContain(`POST /api/v1/dms/${DM}/leave`);
  });

  it("public rooms get neither the banner nor the menu", async () => {
    const { calls } = renderRequests(ROOM, "room", { request: false, blocked: false });
    await waitFor(() => {
      expect(calls).toContain("GET /api/v1/conversations");
    });
    expect(screen.queryByRole("button", { name: "Conversation actions" })).toBeNull();
    expect(screen.queryByRole("region", { name: "Message request" })).toBeNull();
  });
});
