// @vitest-environment happy-dom
import { describe, expect, it, vi } from "vitest";

import { ApiClient } from "@/api/client";
import { MAX_WATCHED, PresenceWatch } from "@/store/presence-watch";
import { answerReady, newEngine, startEngine, useFakeEngineEnvironment } from "@/test/engine";
import { FakeWebSocket as FakeSocket } from "@/test/fake-socket";

const ANA = "22222222-2222-4222-8222-222222222222";
const BEN = "33333333-3333-4333-8333-333333333333";

/** A watch whose sends are recorded, run by hand (`flush`) instead of on a microtask. */
function recorded(connected = true) {
  const sent: string[][] = [];
  let queued: (() => void) | null = null;
  const state = { connected };
  const watch = new PresenceWatch(
    (ids) => {
      if (!state.connected) return false;
      sent.push([...ids]);
      return true;
    },
    (run) => {
      queued = run;
    },
  );
  const flush = () => {
    const run = queued;
    queued = null;
    run?.();
  };
  return { watch, sent, flush, state };
}

describe("PresenceWatch", () => {
  it("sends the union of the views once per batch, newest view first, without duplicates", () => {
    const { watch, sent, flush } = recorded();
    watch.want([ANA]);
    watch.want([BEN, ANA]);
    flush();
    expect(sent).toEqual([[BEN, ANA]]);
    flush(); // nothing queued, nothing sent
    expect(sent).toHaveLength(1);
  });

  it("sends again only when the list changes, and an empty list when the last view goes", () => {
    const { watch, sent, flush } = recorded();
    const stop = watch.want([ANA]);
    flush();
    const again = watch.want([ANA]);
    flush();
    expect(sent).toEqual([[ANA]]);
    again();
    stop();
    flush();
    expect(sent).toEqual([[ANA], []]);
    stop(); // twice is harmless
    flush();
    expect(sent).toHaveLength(2);
  });

  it("caps the watch at the server's limit", () => {
    const { watch, sent, flush } = recorded();
    const many = Array.from({ length: MAX_WATCHED + 20 }, (_, i) => `user-${String(i)}`);
    watch.want(many);
    flush();
    expect(sent[0]).toEqual(many.slice(0, MAX_WATCHED));
  });

  it("waits for a connection, and sends the watch again after every reconnect", () => {
    const { watch, sent, flush, state } = recorded(false);
    watch.want([ANA]);
    flush();
    expect(sent).toEqual([]);
    state.connected = true;
    watch.reconnected();
    flush();
    watch.reconnected(); // a new socket forgot the watch
    flush();
    expect(sent).toEqual([[ANA], [ANA]]);
  });

  it("tells a fresh connection nothing when nobody is watched", () => {
    const { watch, sent, flush } = recorded();
    watch.reconnected();
    flush();
    expect(sent).toEqual([]);
  });
});

describe("ChatEngine presence watch", () => {
  useFakeEngineEnvironment();

  it("watches on every connection and keeps the newer of a snapshot and a pushed change", async () => {
    const api = new ApiClient(() =>
      Promise.resolve(new Response(JSON.stringify({ ticket: "t", expires_in: 30 }), { status: 200 })),
    );
    const engine = newEngine(api);
    const stop = engine.presenceWatch.want([ANA, BEN]);
    const socket = await startEngine(engine);
    await vi.advanceTimersByTimeAsync(0);
    expect(socket.framesOf("presence.watch")).toEqual([{ type: "presence.watch", user_ids: [ANA, BEN] }]);

    // Ben went away after the watch was registered; his change overtook the snapshot.
    socket.receive({ type: "presence", user_id: BEN, status: "away", last_seen: 2000 });
    socket.receive({
      type: "presence.snapshot",
      ref: null,
      presences: [
        { user_id: ANA, status: "online", last_seen: 1500 },
        { user_id: BEN, status: "online", last_seen: 1000 },
      ],
    });
    const presence = engine.store.getState().presence;
    expect(presence[ANA]).toEqual({ status: "online", lastSeen: 1500 });
    expect(presence[BEN]).toEqual({ status: "away", lastSeen: 2000 });

    // A new socket after a drop gets the watch again.
    socket.drop();
    await vi.advanceTimersByTimeAsync(60_000);
    const next = FakeSocket.all.at(-1);
    if (next === undefined || next === socket) throw new Error("no new socket");
    answerReady(next);
    await vi.advanceTimersByTimeAsync(0);
    expect(next.framesOf("presence.watch")).toEqual([{ type: "presence.watch", user_ids: [ANA, BEN] }]);

    stop();
    await vi.advanceTimersByTimeAsync(0);
    expect(next.framesOf("presence.watch").at(-1)).toEqual({ type: "presence.watch", user_ids: [] });
    engine.stop();
  });
});
