// @vitest-environment happy-dom
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import type { ReactNode } from "react";
import { createMemoryRouter, RouterProvider, useParams } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import type { ApiClient } from "@/api/client";
import { ApiError } from "@/api/errors";
import type { Member } from "@/api/types";
import { GroupInfoPanel } from "@/features/conversations/group-info-panel";
import { NewConversationButtons } from "@/features/conversations/new-conversation";
import * as groups from "@/session/group-membership";
import { SessionProvider } from "@/session/session";
import { keyring, type UnlockedKeys } from "@/session/unlocked-keys";
import { EngineProvider } from "@/store/react";
import { FakeWebSocket } from "@/test/fake-socket";
import { fakeApi } from "@/test/render";

vi.mock("@/session/group-membership", () => ({
  createGroup: vi.fn(),
  addMembers: vi.fn(),
  removeMember: vi.fn(),
  setRole: vi.fn(),
  leaveGroup: vi.fn(),
  verifiedMembership: vi.fn(),
}));

const ME = "11111111-1111-4111-8111-111111111111";
const BOB = "22222222-2222-4222-8222-222222222222";
const CAROL = "33333333-3333-4333-8333-333333333333";
const GROUP = "99999999-9999-4999-8999-999999999999";
const DM = "dddddddd-dddd-4ddd-8ddd-dddddddddddd";
const T0 = Date.UTC(2026, 11, 3, 12, 0);
const NAMES: Record<string, string> = { [ME]: "Alice", [BOB]: "Bob", [CAROL]: "Carol" };
const KEYS = { userId: ME, deviceId: "dev-1" } as unknown as UnlockedKeys;

function user(id: string) {
  return { user_id: id, display_name: NAMES[id] ?? "?", keys_version: 1 };
}

function server() {
  const bodies: { url: string; body: unknown }[] = [];
  const { api, calls } = fakeApi((url, init) => {
    const method = init?.method ?? "GET";
    if (typeof init?.body === "string") bodies.push({ url, body: JSON.parse(init.body) });
    if (url.endsWith("/auth/refresh")) return { status: 401, body: { code: "unauthenticated" } };
    if (url.endsWith("/ws-ticket")) return { status: 200, body: { ticket: "t", expires_in: 30 } };
    const search = /\/api\/v1\/users\?q=([^&]*)/.exec(url);
    if (search !== null) {
      const q = decodeURIComponent(search[1] ?? "").toLowerCase();
      return { status: 200, body: [ME, BOB, CAROL].map(user).filter((u) => u.display_name.toLowerCase().includes(q)) };
    }
    const one = /\/api\/v1\/users\/([^/?]+)$/.exec(url);
    if (one !== null) return { status: 200, body: user(decodeURIComponent(one[1] ?? "")) };
    if (method === "POST" && url.endsWith("/api/v1/dms")) {
      return {
        status: 201,
        body: { id: DM, kind: "dm", name: null, topic: null, created_by: ME, created_at: T0, last_seq: 0, member_count: 2 },
      };
    }
    if (url.endsWith("/api/v1/conversations")) return { status: 200, body: [] };
    return { status: 404, body: { code: "not_found" } };
  });
  return { api, calls, bodies };
}

function Opened() {
  const { id } = useParams();
  return <p>opened {id}</p>;
}

async function renderWith(element: ReactNode, api: ApiClient) {
  const router = createMemoryRouter(
    [
      { path: "/", element },
      { path: "/c/:id", element: <Opened /> },
    ],
    { initialEntries: ["/"] },
  );
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  render(
    <QueryClientProvider client={queryClient}>
      <SessionProvider api={api}>
        <EngineProvider userId={ME}>
          <RouterProvider router={router} />
        </EngineProvider>
      </SessionProvider>
    </QueryClientProvider>,
  );
  await waitFor(() => {
    if (FakeWebSocket.all.length === 0) throw new Error("no socket yet");
  });
  // The session found no stored login (refresh: 401) and wiped the keyring; now "unlock".
  await waitFor(() => {
    expect(api.hasToken).toBe(false);
  });
  await act(async () => {
    await new Promise((resolve) => setTimeout(resolve, 0));
    keyring.publish(KEYS);
  });
  return { router, queryClient };
}

beforeEach(() => {
  FakeWebSocket.all.length = 0;
  vi.stubGlobal("WebSocket", FakeWebSocket);
});
afterEach(() => {
  cleanup();
  keyring.publish(null);
  vi.unstubAllGlobals();
  vi.clearAllMocks();
});

function search(label: string, text: string) {
  fireEvent.change(screen.getByLabelText(label), { target: { value: text } });
}

describe("New message", () => {
  it("searches people, leaves yourself out, opens the DM with the one picked and goes there", async () => {
    const { api, calls, bodies } = server();
    await renderWith(<NewConversationButtons />, api);

    fireEvent.click(screen.getByRole("button", { name: "New message" }));
    const dialog = screen.getByRole("dialog", { name: "New message" });
    expect((dialog as HTMLDialogElement).open).toBe(true);
    search("Who do you want to write to?", "o");

    const people = await within(dialog).findByRole("list", { name: "People found" });
    const bob = await within(people).findByRole("button", { name: /Bob/ });
    expect(within(people).queryByRole("button", { name: /Alice/ })).toBeNull();
    expect(within(people).getByRole("button", { name: /Carol/ })).toBeTruthy();

    fireEvent.click(bob);
    expect(await screen.findByText(`opened ${DM}`)).toBeTruthy();
    expect(calls).toContain("POST /api/v1/dms");
    expect(bodies.find((b) => b.url.endsWith("/api/v1/dms"))?.body).toEqual({ user_id: BOB });
  });

  it("says so in plain words when the DM can't be opened", async () => {
    const { api } = server();
    vi.spyOn(api, "openDm").mockRejectedValue(new ApiError(404, "not_found", "no such user"));
    await renderWith(<NewConversationButtons />, api);

    fireEvent.click(screen.getByRole("button", { name: "New message" }));
    search("Who do you want to write to?", "Bob");
    fireEvent.click(await screen.findByRole("button", { name: /Bob/ }));

    const alert = await screen.findByRole("alertdialog");
    expect(alert.textContent).toContain("We couldn't find that");
  });
});

describe("New group", () => {
  it("collects a name and people as chips (removable), then creates the signed group", async () => {
    const { api } = server();
    vi.mocked(groups.createGroup).mockResolvedValue(GROUP);
    await renderWith(<NewConversationButtons />, api);

    fireEvent.click(screen.getByRole("button", { name: "New group" }));
    const dialog = screen.getByRole("dialog", { name: "New group" });
    fireEvent.change(within(dialog).getByLabelText("Group name"), { target: { value: "  Trip  " } });
    search("Add people", "o");
    fireEvent.click(await within(dialog).findByRole("button", { name: /Bob/ }));
    fireEvent.click(within(dialog).getByRole("button", { name: /Carol/ }));
    expect(within(dialog).getByRole("button", { name: "Remove Bob" })).toBeTruthy();
    // A picked person is offered as added, not twice.
    expect(within(dialog).getByRole<HTMLButtonElement>("button", { name: /Bob added/ }).disabled).toBe(true);

    fireEvent.click(within(dialog).getByRole("button", { name: "Remove Carol" }));
    expect(within(dialog).queryByRole("button", { name: "Remove Carol" })).toBeNull();
    fireEvent.click(within(dialog).getByRole("button", { name: "Create group" }));

    expect(await screen.findByText(`opened ${GROUP}`)).toBeTruthy();
    expect(groups.createGroup).toHaveBeenCalledWith(api, KEYS, "Trip", [BOB]);
  });

  it("asks for someone to add before creating anything", async () => {
    const { api } = server();
    await renderWith(<NewConversationButtons />, api);
    fireEvent.click(screen.getByRole("button", { name: "New group" }));
    fireEvent.change(screen.getByLabelText("Group name"), { target: { value: "Trip" } });
    fireEvent.click(screen.getByRole("button", { name: "Create group" }));

    expect((await screen.findByRole("alertdialog")).textContent).toContain("Add someone to the group");
    expect(groups.createGroup).not.toHaveBeenCalled();
  });
});

function members(roles: Record<string, "admin" | "member">): Member[] {
  return Object.entries(roles).map(([user_id, role], i) => ({ user_id, role, joined_at: T0 + i, last_read_seq: 0 }));
}

function verified(roles: Record<string, "admin" | "member">) {
  vi.mocked(groups.verifiedMembership).mockResolvedValue({
    state: { members: new Map(Object.entries(roles)) },
  } as unknown as groups.VerifiedMembership);
}

describe("Group info panel", () => {
  const roles = { [ME]: "admin", [BOB]: "member", [CAROL]: "admin" } as const;

  it("lists members with roles; an admin removes, promotes and renames (signed changes)", async () => {
    const { api, calls } = server();
    verified(roles);
    vi.mocked(groups.removeMember).mockResolvedValue();
    vi.mocked(groups.setRole).mockResolvedValue();
    const renamed = vi.spyOn(api, "renameGroup").mockResolvedValue({} as never);
    await renderWith(
      <GroupInfoPanel groupId={GROUP} name="Trip" members={members(roles)} onClose={vi.fn()} onLeft={vi.fn()} />,
      api,
    );

    const list = screen.getByRole("list", { name: "Group members" });
    await within(list).findByText("Bob");
    expect(within(list).getAllByText("admin")).toHaveLength(2);
    expect(within(list).getAllByText("member")).toHaveLength(1);
    expect(await screen.findByText(/Member list checked/)).toBeTruthy();

    fireEvent.click(await screen.findByRole("button", { name: "Remove Bob from the group" }));
    await screen.findByText("Bob was removed.");
    expect(groups.removeMember).toHaveBeenCalledWith(api, KEYS, GROUP, BOB);

    fireEvent.click(screen.getByRole("button", { name: "Make Bob an admin" }));
    await screen.findByText("Bob is now an admin.");
    expect(groups.setRole).toHaveBeenCalledWith(api, KEYS, GROUP, BOB, "admin");

    fireEvent.change(screen.getByLabelText("Group name"), { target: { value: "Road trip" } });
    fireEvent.click(screen.getByRole("button", { name: "Rename" }));
    await screen.findByText("Renamed to Road trip.");
    expect(renamed).toHaveBeenCalledWith(GROUP, "Road trip");
    expect(calls.some((c) => c.includes("/membership"))).toBe(false);
  });

  it("a member sees no admin controls, and can leave after confirming", async () => {
    const { api } = server();
    const mine = { [ME]: "member", [BOB]: "admin" } as const;
    verified(mine);
    vi.mocked(groups.leaveGroup).mockResolvedValue();
    const onLeft = vi.fn();
    await renderWith(
      <GroupInfoPanel groupId={GROUP} name="Trip" members={members(mine)} onClose={vi.fn()} onLeft={onLeft} />,
      api,
    );
    await screen.findByText("Bob");
    expect(screen.queryByRole("button", { name: /^Remove / })).toBeNull();
    expect(screen.queryByRole("button", { name: /Make .* an admin/ })).toBeNull();
    expect(screen.queryByRole("form", { name: "Rename group" })).toBeNull();
    expect(screen.queryByLabelText("Add people")).toBeNull();

    fireEvent.click(screen.getByRole("button", { name: "Leave group…" }));
    expect(groups.leaveGroup).not.toHaveBeenCalled();
    fireEvent.click(screen.getByRole("button", { name: "Leave group" }));
    await waitFor(() => {
      expect(onLeft).toHaveBeenCalledTimes(1);
    });
    expect(groups.leaveGroup).toHaveBeenCalledWith(api, KEYS, GROUP);
  });

  it("shows a refused change as a popup in plain words", async () => {
    const { api } = server();
    verified(roles);
    vi.mocked(groups.setRole).mockRejectedValue(Object.assign(new Error("last_admin"), { name: "GroupActionRefused", reason: "last_admin" }));
    await renderWith(
      <GroupInfoPanel groupId={GROUP} name="Trip" members={members(roles)} onClose={vi.fn()} onLeft={vi.fn()} />,
      api,
    );
    fireEvent.click(await screen.findByRole("button", { name: "Stop being an admin" }));
    const alert = await screen.findByRole("alertdialog");
    expect(alert.textContent).toContain("A group needs an admin");
    act(() => {
      fireEvent.click(within(alert).getByRole("button", { name: "OK" }));
    });
    expect(screen.queryByRole("alertdialog")).toBeNull();
  });

  it("warns when the server's member list differs from the signed log", async () => {
    const { api } = server();
    verified({ [ME]: "admin", [BOB]: "member" });
    await renderWith(
      <GroupInfoPanel groupId={GROUP} name="Trip" members={members(roles)} onClose={vi.fn()} onLeft={vi.fn()} />,
      api,
    );
    expect((await screen.findByRole("alert")).textContent).toContain("differs from the signed one");
  });
});
