/**
 * A `ChatEngine` on a fake API and a `FakeWebSocket`, for the engine tests: the set-up they all
 * share (stubbed socket, fake timers, the ticket, the `ready` frame), written once.
 */
import { afterEach, beforeEach, vi } from "vitest";

import { ApiClient } from "@/api/client";
import { ChatEngine, type EngineEvents, type EngineOptions } from "@/store/chat-engine";
import { FakeWebSocket } from "@/test/fake-socket";

/** The signed-in user (and device) of every engine here. */
export const ME = "11111111-1111-4111-8111-111111111111";

/**
 * Stubs `WebSocket` with `FakeWebSocket` (emptied) and turns fake timers on for each test of the
 * calling `describe`, undoing both afterwards.
 */
export function useFakeEngineEnvironment(): void {
  beforeEach(() => {
    FakeWebSocket.all.length = 0;
    vi.stubGlobal("WebSocket", FakeWebSocket);
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });
}

/**
 * An API whose `/ws-ticket` always answers; any other request gets `answer(url, init)` as JSON
 * (200), or 204 with no body where the answer is `undefined`.
 */
export function fakeApi(answer: (url: string, init: RequestInit | undefined) => unknown): ApiClient {
  return new ApiClient((input, init) => {
    const body: unknown = input.endsWith("/ws-ticket") ? { ticket: "ticket", expires_in: 30 } : answer(input, init);
    return Promise.resolve(
      body === undefined
        ? new Response(null, { status: 204 })
        : new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } }),
    );
  });
}

/** An engine for `ME` whose events do nothing unless the test passes its own. */
export function newEngine(api: ApiClient, events: Partial<EngineEvents> = {}, options: EngineOptions = {}): ChatEngine {
  return new ChatEngine(
    api,
    ME,
    { conversationsChanged: () => undefined, membersChanged: () => undefined, authLost: () => undefined, ...events },
    options,
  );
}

/** The server's side of a handshake: the socket opens and says `ready` for `ME`. */
export function answerReady(socket: FakeWebSocket): void {
  socket.open();
  socket.receive({ type: "ready", user_id: ME, device_id: ME, heartbeat_s: 20 });
}

/** Starts the engine and answers the socket it opens: the socket it is now live on. */
export async function startEngine(engine: ChatEngine): Promise<FakeWebSocket> {
  engine.start();
  await vi.advanceTimersByTimeAsync(0);
  const socket = FakeWebSocket.all.at(-1);
  if (socket === undefined) throw new Error("no socket opened");
  answerReady(socket);
  return socket;
}
