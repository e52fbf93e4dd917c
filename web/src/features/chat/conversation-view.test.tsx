// @vitest-environment happy-dom
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, cleanup, render, screen, waitFor } from "@testing-library/react";
import { createMemoryRouter, RouterProvider } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { ConversationRoute } from "@/features/chat/conversation-view";
import type * as Format from "@/features/chat/format";
import { timeLabel } from "@/features/chat/format";
import { SessionProvider } from "@/session/session";
import type { ChatEngine } from "@/store/chat-engine";
import { EngineProvider, useEngine } from "@/store/react";
import type { ServerFrame } from "@/transport/frames";
import { FakeWebSocket } from "@/test/fake-socket";
import { fakeApi } from "@/test/render";

// Every bubble shows its time once per render: counting the calls counts bubble renders.
vi.mock("@/features/chat/format", async (importOriginal) => {
  const original = await importOriginal<typeof Format>();
  return { ...original, timeLabel: vi.fn(original.timeLabel) };
});

const ME = "11111111-1111-4111-8111-111111111111";
const OTHER = "22222222-2222-4222-8222-222222222222";
const A = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
const B = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb";
const T0 = Date.UTC(2026, 11, 3, 12, 0);

/** Frames arrive inside `act`, so the views they change have rendered when `receive` returns. */
class FakeSocket extends FakeWebSocket {
  override receive(frame: ServerFrame): void {
    act(() => {
      super.receive(frame);
    });
  }
}

function message(conversation: string, seq: number, sender = OTHER) {
  return {
    id: seq,
    conversation_id: conversation,
    seq,
    sender_id: sender,
    sender_device_id: sender,
    client_msg_id: seq.toString(16).padStart(32, "0"),
    created_at: T0 + seq * 1000,
    body: `${conversation === A ? "a" : "b"} message ${String(seq)}`,
  };
}

interface Room {
  messages: ReturnType<typeof message>[];
  lastRead: number;
  unread: number;
}

function server(rooms: Record<string, Room>) {
  return fakeApi((url, init) => {
    const method = init?.method ?? "GET";
    if (url.endsWith("/auth/refresh")) return { status: 401, body: { code: "unauthenticated" } };
    if (url.endsWith("/ws-ticket")) return { status: 200, body: { ticket: "t", expires_in: 30 } };
    if (method === "POST" && url.endsWith("/read")) return { status: 204 };
    const user = /\/users\/([^/?]+)$/.exec(url);
    if (user !== null) {
      const id = decodeURIComponent(user[1] ?? "");
      return {
        status: 200,
        body: { user_id: id, display_name: id === ME ? "Me" : "Ola", key_bundle: "", key_bundle_version: 1 },
      };
    }
    const conversation = (id: string) => ({
      id,
      kind: "room",
      name: id === A ? "Alpha" : "Beta",
      topic: null,
      created_by: OTHER,
      created_at: T0,
      last_seq: rooms[id]?.messages.at(-1)?.seq ?? 0,
      member_count: 2,
    });
    if (url.endsWith("/api/v1/conversations")) {
      // Fetched once; what it says about unread goes stale while another room is open.
      return {
        status: 200,
        body: Object.entries(rooms).map(([id, room]) => ({
          ...conversation(id),
          role: "member",
          last_read_seq: room.lastRead,
          unread: room.unread,
        })),
      };
    }
    const match = /\/api\/v1\/conversations\/([^/?]+)(\/[a-z]+)?/.exec(url);
    const id = match?.[1] ?? "";
    const room = rooms[id];
    if (room === undefined) return { status: 404, body: { code: "not_found" } };
    switch (match?.[2]) {
      case undefined:
        return { status: 200, body: conversation(id) };
      case "/members":
        return {
          status: 200,
          body: {
            members: [
              { user_id: ME, role: "member", joined_at: T0, last_read_seq: room.lastRead },
              { user_id: OTHER, role: "admin", joined_at: T0, last_read_seq: 0 },
            ],
            next_after: null,
          },
        };
      case "/messages":
        return {
          status: 200,
          body: { messages: room.messages, has_more_before: false, last_seq: room.messages.at(-1)?.seq ?? 0 },
        };
      default:
        return { status: 404, body: { code: "not_found" } };
    }
  });
}

async function renderChat(rooms: Record<string, Room>, start: string) {
  const { api } = server(rooms);
  const grabbed: { engine?: ChatEngine } = {};
  function Grab() {
    grabbed.engine = useEngine();
    return null;
  }
  const router = createMemoryRouter([{ path: "/c/:id", element: <ConversationRoute /> }], {
    initialEntries: [`/c/${start}`],
  });
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  render(
    <QueryClientProvider client={queryClient}>
      <SessionProvider api={api}>
        <EngineProvider userId={ME}>
          <Grab />
          <RouterProvider router={router} />
        </EngineProvider>
      </SessionProvider>
    </QueryClientProvider>,
  );
  const socket = await waitFor(() => {
    const s = FakeSocket.all.at(-1);
    if (s === undefined) throw new Error("no socket yet");
    return s;
  });
  act(() => {
    socket.open();
  });
  socket.receive({ type: "ready", user_id: ME, device_id: ME, heartbeat_s: 20 });
  const { engine } = grabbed;
  if (engine === undefined) throw new Error("no engine");
  return { engine, socket, router };
}

beforeEach(() => {
  FakeSocket.all.length = 0;
  vi.stubGlobal("WebSocket", FakeSocket);
});
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  vi.mocked(timeLabel).mockClear();
});

describe("ConversationView", () => {
  it("shows the New messages divider for a room that got messages while another was open", async () => {
    const rooms: Record<string, Room> = {
      [A]: { messages: [message(A, 1)], lastRead: 1, unread: 0 },
      [B]: { messages: [message(B, 1), message(B, 2)], lastRead: 2, unread: 0 },
    };
    const { engine, socket, router } = await renderChat(rooms, A);
    // The conversation list seeds the unread counts (all read).
    act(() => {
      engine.store.setUnread({ [A]: 0, [B]: 0 });
    });
    expect(await screen.findByText("a message 1")).toBeTruthy();

    // While Alpha is open, Beta gets a message; the server now has it too.
    const fresh = message(B, 3);
    rooms[B]?.messages.push(fresh);
    socket.receive({ type: "message.new", message: fresh });

    await act(async () => {
      await router.navigate(`/c/${B}`);
    });
    const divider = await screen.findByRole("separator", { name: "New messages" });
    const next = divider.nextElementSibling as HTMLElement | null;
    expect(next?.dataset.seq).toBe("3");

    // Read now: back to Alpha and to Beta again, no divider.
    await act(async () => {
      await router.navigate(`/c/${A}`);
    });
    await screen.findByText("a message 1");
    await act(async () => {
      await router.navigate(`/c/${B}`);
    });
    expect(await screen.findByText("b message 3")).toBeTruthy();
    expect(screen.queryByRole("separator", { name: "New messages" })).toBeNull();
  });

  it("re-renders only the confirmed message's bubble when a send is acknowledged", async () => {
    const history = Array.from({ length: 20 }, (_, i) => message(A, i + 1));
    const { engine, socket } = await renderChat({ [A]: { messages: history, lastRead: 20, unread: 0 } }, A);
    expect(await screen.findByText("a message 20")).toBeTruthy();
    await waitFor(() => {
      expect(screen.queryByText("Loading messages…")).toBeNull();
    });
    const renders = vi.mocked(timeLabel);

    act(() => {
      engine.send(A, "hello there");
    });
    const send = await waitFor(() => {
      const frame = socket.sent.find((f) => f.type === "message.send");
      if (frame === undefined) throw new Error("not sent yet");
      return frame;
    });
    expect(await screen.findByText("Sending…")).toBeTruthy();
    renders.mockClear();

    socket.receive({
      type: "message.ack",
      ref: (send.ref as string | undefined) ?? null,
      conversation_id: A,
      client_msg_id: send.client_msg_id as string,
      seq: 21,
      message_id: 21,
      created_at: T0 + 21_000,
      duplicate: false,
    });
    await waitFor(() => {
      expect(screen.queryByText("Sending…")).toBeNull();
    });
    expect(screen.getByText("hello there")).toBeTruthy();
    // The new bubble rendered; none of the 20 before it did.
    const times = renders.mock.calls.map(([at]) => at);
    expect(times.length).toBeGreaterThan(0);
    expect(new Set(times)).toEqual(new Set([T0 + 21_000]));
  });
});
