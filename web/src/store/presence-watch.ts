/**
 * The users whose presence this tab watches (`presence.watch`, docs/protocol.md "Presence").
 * Room members' presence is not pushed: views ask for the people they show (`want`), and the
 * union, newest view first and at most `MAX_WATCHED`, is sent once per change (coalesced to one
 * frame per task) and again after every reconnect, since a watch dies with its socket.
 */
export const MAX_WATCHED = 100;

export class PresenceWatch {
  readonly #send: (ids: readonly string[]) => boolean;
  readonly #schedule: (run: () => void) => void;
  /** What each mounted view asks for, in the order they asked. */
  readonly #wants = new Map<number, readonly string[]>();
  #nextKey = 0;
  /** The list the current connection has (joined), or null when it has none. */
  #sent: string | null = null;
  #scheduled = false;

  /** `send` returns false when it could not send (not connected): `reconnected` sends later. */
  constructor(
    send: (ids: readonly string[]) => boolean,
    // Wrapped: a browser's queueMicrotask called as a method of this object throws.
    schedule: (run: () => void) => void = (run) => {
      queueMicrotask(run);
    },
  ) {
    this.#send = send;
    this.#schedule = schedule;
  }

  /** Watch `ids` while the returned function has not been called. */
  want(ids: readonly string[]): () => void {
    const key = this.#nextKey++;
    this.#wants.set(key, ids);
    this.#changed();
    return () => {
      if (this.#wants.delete(key)) this.#changed();
    };
  }

  /** The ids to watch now: newest view first, no duplicates, at most MAX_WATCHED. */
  ids(): string[] {
    const out = new Set<string>();
    for (const ids of [...this.#wants.values()].reverse()) {
      for (const id of ids) {
        if (out.size >= MAX_WATCHED) return [...out];
        out.add(id);
      }
    }
    return [...out];
  }

  /** A new connection is ready: the server knows no watch of it yet. */
  reconnected(): void {
    this.#sent = null;
    this.#changed();
  }

  #changed(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    this.#schedule(() => {
      this.#scheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    const ids = this.ids();
    const joined = ids.join(",");
    if (joined === (this.#sent ?? "")) return; // nothing new (a fresh connection watches nobody)
    if (this.#send(ids)) this.#sent = joined;
  }
}
