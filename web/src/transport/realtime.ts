/**
 * One WebSocket per tab: ticket auth, `ready`, `resume` with the last seq per conversation
 * (again after a `sync.stale`: the server's fan-out lost events, within a random part of its
 * `within_ms` so a whole node's tabs do not resume at once),
 * exponential backoff with jitter (after a server restart's 1012, a random moment within its
 * `reconnect_within_ms` hint instead), and the outbox (each unacknowledged message is sent once per
 * connection with its client message id; the server acknowledges retries as duplicates, so a
 * message is stored exactly once).
 *
 * No React and no DOM beyond what is injected: tests drive it with a fake socket and timers.
 */

import { ApiError } from "@/api/errors";
import { backoffDelay, restartSpreadMs } from "@/transport/backoff";
import type { ClientFrame, ServerFrame } from "@/transport/frames";
import { parseServerFrame } from "@/transport/frames";
import { newClientMsgId } from "@/transport/ids";
import type { Outbox, OutboxEntry } from "@/transport/outbox";

export type ConnectionStatus = "connecting" | "ready" | "reconnecting" | "offline" | "stopped";

/** The part of `WebSocket` used here (a fake in tests). */
export interface SocketLike {
  readonly readyState: number;
  onopen: ((event: Event) => void) | null;
  onmessage: ((event: MessageEvent) => void) | null;
  onclose: ((event: CloseEvent) => void) | null;
  onerror: ((event: Event) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export interface Timers {
  set(fn: () => void, ms: number): number;
  clear(id: number): void;
}

export interface RealtimeListener {
  status(status: ConnectionStatus): void;
  frame(frame: ServerFrame): void;
  /** An outbox entry was added, changed (failed) or removed (acknowledged). */
  outboxChanged(entries: readonly OutboxEntry[]): void;
  ack(entry: OutboxEntry, frame: Extract<ServerFrame, { type: "message.ack" }>): void;
  /** The session is gone (ticket refused with 401, or `session.revoked`). */
  authLost(): void;
}

export interface RealtimeOptions {
  readonly url: string;
  readonly ticket: () => Promise<string>;
  readonly open: (url: string) => SocketLike;
  readonly outbox: Outbox;
  readonly positions: () => Record<string, number>;
  readonly listener: RealtimeListener;
  readonly timers?: Timers;
  readonly random?: () => number;
  readonly now?: () => number;
  readonly pingIntervalMs?: number;
  readonly typingIntervalMs?: number;
  /**
   * Private messages: encrypt an entry (give it a counter if it has none, and an envelope).
   * Throws an error whose message says why it can't be sent (shown under the message).
   */
  readonly seal?: (entry: OutboxEntry) => Promise<OutboxEntry>;
}

const OPEN = 1;
/** Errors after which a send is worth retrying later rather than shown as failed. */
const TRANSIENT = new Set(["rate_limited", "service_unavailable", "internal_error"]);

/** Errors after which a private message is sealed again and resent (same id, same counter). */
const RESEAL = new Set(["stale_key_generation"]);
const MAX_RESEALS = 3;

/** Words for errors that refuse a private message for good. */
const PRIVATE_REASONS: Readonly<Record<string, string>> = {
  stale_key_generation: "the conversation's keys kept changing",
  envelope_mismatch: "it was sealed for another message",
  device_not_certified: "this browser's device isn't certified",
  invalid_envelope: "it could not be encrypted properly",
};

/** Shown under a message that this device refused to store (and so cannot promise to send). */
export const NOT_STORED_REASON = "couldn't save it on this device";

function notStored(entry: OutboxEntry): OutboxEntry {
  return { ...entry, failed: true, reason: NOT_STORED_REASON };
}

const defaultTimers: Timers = {
  set: (fn, ms) => window.setTimeout(fn, ms),
  clear: (id) => {
    window.clearTimeout(id);
  },
};

export class RealtimeClient {
  readonly #o: RealtimeOptions;
  readonly #timers: Timers;
  readonly #random: () => number;
  readonly #now: () => number;
  #socket: SocketLike | null = null;
  #status: ConnectionStatus = "stopped";
  #ready = false;
  #attempt = 0;
  #everConnected = false;
  #retryTimer: number | null = null;
  #resumeTimer: number | null = null;
  #pingTimer: number | null = null;
  #pongDeadline: number | null = null;
  #offline = false;
  #stopped = true;
  #entries: OutboxEntry[] = [];
  /** Client message ids sent on the current connection (never twice on one socket). */
  #inflight = new Set<string>();
  readonly #lastTyping = new Map<string, number>();
  #loaded: Promise<void> | null = null;
  #presence: "online" | "away" = "online";
  /** Private messages being sealed now, and how often each was sealed again. */
  readonly #sealing = new Set<string>();
  readonly #reseals = new Map<string, number>();

  constructor(options: RealtimeOptions) {
    this.#o = options;
    this.#timers = options.timers ?? defaultTimers;
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? Date.now;
  }

  get status(): ConnectionStatus {
    return this.#status;
  }

  get outbox(): readonly OutboxEntry[] {
    return this.#entries;
  }

  start(): Promise<void> {
    this.#stopped = false;
    this.#loaded ??= this.#o.outbox.all().then((entries) => {
      this.#entries = entries;
      this.#o.listener.outboxChanged(this.#entries);
    });
    void this.#loaded.then(() => {
      if (!this.#stopped && !this.#offline) {
        this.#connect();
      }
    });
    return this.#loaded;
  }

  stop(): void {
    this.#stopped = true;
    this.#teardown(1000);
    this.#setStatus("stopped");
  }

  /** The browser went offline: drop the socket, keep the outbox. */
  goOffline(): void {
    this.#offline = true;
    this.#teardown(1000);
    if (!this.#stopped) this.#setStatus("offline");
  }

  /** Back online: reconnect now. */
  goOnline(): void {
    if (!this.#offline) return;
    this.#offline = false;
    this.#attempt = 0;
    if (!this.#stopped) this.#connect();
  }

  /** Queue a message: stored in the outbox first, sent now if connected. */
  async send(conversationId: string, body: string, options: { private?: boolean } = {}): Promise<OutboxEntry> {
    const entry: OutboxEntry = {
      clientMsgId: newClientMsgId(),
      conversationId,
      body,
      createdAt: this.#now(),
      failed: false,
      ...(options.private === true ? { private: true } : {}),
    };
    await this.#loaded;
    const queued = (await this.#store(entry)) ? entry : notStored(entry);
    this.#entries = [...this.#entries, queued];
    this.#o.listener.outboxChanged(this.#entries);
    this.#transmit(queued);
    return queued;
  }

  /** Retry a failed message with the same client message id. */
  async retry(clientMsgId: string): Promise<void> {
    const entry = this.#entries.find((e) => e.clientMsgId === clientMsgId);
    if (entry === undefined) return;
    const again: OutboxEntry = {
      clientMsgId: entry.clientMsgId,
      conversationId: entry.conversationId,
      body: entry.body,
      createdAt: entry.createdAt,
      failed: false,
      // A private message is sealed again (same counter) with whatever keys are current now.
      ...(entry.private === true ? { private: true } : {}),
      ...(entry.counter === undefined ? {} : { counter: entry.counter }),
    };
    this.#reseals.delete(clientMsgId);
    if (!(await this.#replace(again))) return;
    this.#inflight.delete(clientMsgId);
    this.#transmit(again);
  }

  /** Drop a failed message. */
  async discard(clientMsgId: string): Promise<void> {
    await this.#o.outbox.remove(clientMsgId);
    this.#entries = this.#entries.filter((e) => e.clientMsgId !== clientMsgId);
    this.#o.listener.outboxChanged(this.#entries);
  }

  /** At most one `typing` per conversation per interval (default 3 s). */
  typing(conversationId: string): void {
    const now = this.#now();
    const last = this.#lastTyping.get(conversationId) ?? -Infinity;
    if (now - last < (this.#o.typingIntervalMs ?? 3000) || !this.#ready) return;
    this.#lastTyping.set(conversationId, now);
    this.#sendFrame({ type: "typing", conversation_id: conversationId });
  }

  /** Returns false when not connected (the caller may use HTTP instead). */
  read(conversationId: string, seq: number): boolean {
    if (!this.#ready) return false;
    this.#sendFrame({ type: "read", conversation_id: conversationId, seq });
    return true;
  }

  /** Online while the tab is in view, away when hidden. */
  presence(status: "online" | "away"): void {
    this.#presence = status;
    if (this.#ready) this.#sendFrame({ type: "presence.set", status });
  }

  /** Watch these users' presence (replaces the last watch); false when not connected. */
  watchPresence(userIds: readonly string[]): boolean {
    if (!this.#ready) return false;
    this.#sendFrame({ type: "presence.watch", user_ids: [...userIds] });
    return true;
  }

  /** Send `resume` again (e.g. after joining a conversation). */
  resume(): void {
    if (this.#ready) this.#sendFrame({ type: "resume", positions: this.#o.positions() });
  }

  #connect(): void {
    this.#clearRetry();
    this.#setStatus(this.#everConnected ? "reconnecting" : "connecting");
    const attemptSocket = async () => {
      let ticket: string;
      try {
        ticket = await this.#o.ticket();
      } catch (error) {
        if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
          this.stop();
          this.#o.listener.authLost();
          return;
        }
        this.#scheduleReconnect();
        return;
      }
      if (this.#stopped || this.#offline) return;
      const socket = this.#o.open(this.#o.url);
      this.#socket = socket;
      this.#inflight = new Set();
      socket.onopen = () => {
        socket.send(JSON.stringify({ type: "auth", ticket } satisfies ClientFrame));
      };
      socket.onmessage = (event) => {
        if (socket !== this.#socket) return;
        const frame = parseServerFrame(event.data);
        if (frame !== null) this.#onFrame(frame);
      };
      socket.onclose = (event) => {
        if (socket === this.#socket) this.#dropSocket(restartSpreadMs(event.code, event.reason));
      };
      socket.onerror = () => {
        // onclose follows.
      };
    };
    void attemptSocket();
  }

  #onFrame(frame: ServerFrame): void {
    switch (frame.type) {
      case "ready":
        this.#ready = true;
        this.#attempt = 0;
        this.#everConnected = true;
        this.#clearResume(); // this resume covers a pending one
        this.#sendFrame({ type: "resume", positions: this.#o.positions() });
        if (this.#presence === "away") this.#sendFrame({ type: "presence.set", status: "away" });
        this.#setStatus("ready");
        this.#startPing();
        for (const entry of this.#entries) {
          if (!entry.failed) this.#transmit(entry);
        }
        break;
      case "message.ack":
        void this.#acked(frame);
        break;
      case "error":
        if (frame.ref != null) this.#sendFailed(frame.ref, frame.code);
        break;
      case "pong":
        if (this.#pongDeadline !== null) {
          this.#timers.clear(this.#pongDeadline);
          this.#pongDeadline = null;
        }
        break;
      case "sync.stale":
        if (this.#resumeTimer === null) {
          const within = Number.isFinite(frame.within_ms) ? Math.min(Math.max(frame.within_ms, 0), 60_000) : 0;
          this.#resumeTimer = this.#timers.set(() => {
            this.#resumeTimer = null;
            this.resume();
          }, Math.floor(this.#random() * within));
        }
        break;
      case "session.revoked":
        this.stop();
        this.#o.listener.authLost();
        return;
      default:
        break;
    }
    this.#o.listener.frame(frame);
  }

  #transmit(entry: OutboxEntry): void {
    if (entry.failed || this.#inflight.has(entry.clientMsgId) || !this.#ready) return;
    if (entry.private === true && entry.envelope === undefined) {
      // Sealing needs the server (key sets, directories): only while connected.
      void this.#seal(entry);
      return;
    }
    this.#inflight.add(entry.clientMsgId);
    const head = { type: "message.send", ref: entry.clientMsgId, conversation_id: entry.conversationId, client_msg_id: entry.clientMsgId } as const;
    if (entry.private === true && entry.envelope !== undefined) {
      this.#sendFrame({ ...head, envelope: { ...entry.envelope } });
    } else {
      this.#sendFrame({ ...head, body: entry.body });
    }
  }

  /** Encrypt a private entry (a counter once, an envelope each time), store it, send it. */
  async #seal(entry: OutboxEntry): Promise<void> {
    const id = entry.clientMsgId;
    if (this.#sealing.has(id)) return;
    const seal = this.#o.seal;
    if (seal === undefined) {
      void this.#replace({ ...entry, failed: true, reason: "private messages can't be encrypted here" });
      return;
    }
    this.#sealing.add(id);
    try {
      let sealed: OutboxEntry;
      try {
        sealed = await seal(entry);
      } catch (error) {
        const current = this.#entries.find((e) => e.clientMsgId === id);
        if (current === undefined) return;
        if ((error as { transient?: unknown }).transient === true) {
          // The server could not be reached or was busy: try again later (or on reconnect).
          this.#timers.set(() => {
            const now = this.#entries.find((e) => e.clientMsgId === id);
            if (now !== undefined) this.#transmit(now);
          }, backoffDelay(2, this.#random));
          return;
        }
        void this.#replace({ ...current, failed: true, reason: error instanceof Error ? error.message : String(error) });
        return;
      }
      // Discarded, acknowledged or failed meanwhile: nothing to send.
      const current = this.#entries.find((e) => e.clientMsgId === id);
      if (current === undefined || current.failed) return;
      if (!(await this.#replace(sealed))) return;
      this.#transmit(sealed);
    } finally {
      this.#sealing.delete(id);
    }
  }

  async #acked(frame: Extract<ServerFrame, { type: "message.ack" }>): Promise<void> {
    const entry = this.#entries.find((e) => e.clientMsgId === frame.client_msg_id);
    this.#inflight.delete(frame.client_msg_id);
    if (entry === undefined) return;
    this.#entries = this.#entries.filter((e) => e.clientMsgId !== frame.client_msg_id);
    this.#reseals.delete(frame.client_msg_id);
    this.#o.listener.ack(entry, frame);
    this.#o.listener.outboxChanged(this.#entries);
    await this.#o.outbox.remove(frame.client_msg_id);
  }

  #sendFailed(ref: string, code: string): void {
    const entry = this.#entries.find((e) => e.clientMsgId === ref);
    if (entry === undefined) return;
    this.#inflight.delete(ref);
    if (TRANSIENT.has(code)) {
      this.#timers.set(() => {
        this.#transmit(entry);
      }, backoffDelay(2, this.#random));
      return;
    }
    if (entry.private === true && RESEAL.has(code)) {
      const count = (this.#reseals.get(ref) ?? 0) + 1;
      this.#reseals.set(ref, count);
      if (count <= MAX_RESEALS) {
        // The refused envelope was never stored: seal the same text again, same id and counter.
        const again: OutboxEntry = { ...entry };
        delete (again as { envelope?: unknown }).envelope;
        this.#show(again);
        this.#transmit(again);
        return;
      }
    }
    const reason = entry.private === true ? PRIVATE_REASONS[code] : undefined;
    void this.#replace({ ...entry, failed: true, ...(reason === undefined ? {} : { reason }) });
  }

  /**
   * Show the changed entry at once, then store it; false when storing it was refused. A message
   * about to be sent again then shows as not sent, with why; one already failed (the server
   * refused it) keeps showing that.
   */
  async #replace(entry: OutboxEntry): Promise<boolean> {
    this.#show(entry);
    if (await this.#store(entry)) return true;
    const current = this.#entries.find((e) => e.clientMsgId === entry.clientMsgId);
    if (current !== undefined && !current.failed) this.#show(notStored(current));
    return false;
  }

  #show(entry: OutboxEntry): void {
    this.#entries = this.#entries.map((e) => (e.clientMsgId === entry.clientMsgId ? entry : e));
    this.#o.listener.outboxChanged(this.#entries);
  }

  /**
   * Write an entry to the outbox. A refused write (storage full, transaction aborted) settles
   * as false rather than throwing, so a send never hangs or vanishes: the caller shows it failed.
   */
  async #store(entry: OutboxEntry): Promise<boolean> {
    try {
      await this.#o.outbox.put(entry);
      return true;
    } catch {
      return false;
    }
  }

  #sendFrame(frame: ClientFrame): void {
    const socket = this.#socket;
    if (socket !== null && socket.readyState === OPEN) {
      socket.send(JSON.stringify(frame));
    }
  }

  #startPing(): void {
    this.#stopPing();
    const interval = this.#o.pingIntervalMs ?? 25_000;
    const tick = () => {
      this.#sendFrame({ type: "ping", ref: "hb" });
      this.#pongDeadline ??= this.#timers.set(() => {
        // No pong: the connection is stalled; start over.
        this.#pongDeadline = null;
        this.#socket?.close(4000, "stalled");
        this.#dropSocket();
      }, 10_000);
      this.#pingTimer = this.#timers.set(tick, interval);
    };
    this.#pingTimer = this.#timers.set(tick, interval);
  }

  #stopPing(): void {
    if (this.#pingTimer !== null) this.#timers.clear(this.#pingTimer);
    if (this.#pongDeadline !== null) this.#timers.clear(this.#pongDeadline);
    this.#pingTimer = null;
    this.#pongDeadline = null;
  }

  /** `restartSpreadMs`: a restarting server's hint (reconnect within it, not by backoff). */
  #dropSocket(restartSpreadMs: number | null = null): void {
    const socket = this.#socket;
    if (socket === null) return;
    this.#socket = null;
    this.#ready = false;
    this.#clearResume();
    this.#stopPing();
    if (!this.#stopped && !this.#offline) this.#scheduleReconnect(restartSpreadMs);
  }

  #teardown(code: number): void {
    this.#clearRetry();
    this.#clearResume();
    this.#stopPing();
    const socket = this.#socket;
    this.#socket = null;
    this.#ready = false;
    if (socket !== null) {
      socket.onclose = null;
      socket.onmessage = null;
      try {
        socket.close(code);
      } catch {
        // already closed
      }
    }
  }

  #scheduleReconnect(restartSpreadMs: number | null = null): void {
    this.#clearRetry();
    this.#setStatus(this.#everConnected ? "reconnecting" : "connecting");
    const delay =
      restartSpreadMs === null
        ? backoffDelay(this.#attempt, this.#random)
        : Math.round(this.#random() * restartSpreadMs);
    this.#attempt += 1;
    this.#retryTimer = this.#timers.set(() => {
      this.#retryTimer = null;
      if (!this.#stopped && !this.#offline) this.#connect();
    }, delay);
  }

  #clearResume(): void {
    if (this.#resumeTimer !== null) {
      this.#timers.clear(this.#resumeTimer);
      this.#resumeTimer = null;
    }
  }

  #clearRetry(): void {
    if (this.#retryTimer !== null) {
      this.#timers.clear(this.#retryTimer);
      this.#retryTimer = null;
    }
  }

  #setStatus(status: ConnectionStatus): void {
    if (status === this.#status) return;
    this.#status = status;
    this.#o.listener.status(status);
  }
}
