/**
 * Wires the HTTP client, the WebSocket client and the store: live frames into state, gap fill
 * over HTTP, history paging, sending through the outbox, read receipts.
 */
import type { ApiClient } from "@/api/client";
import { ChatStore } from "@/store/chat-store";
import { decodeMessage, type MessageDecoder } from "@/store/pipeline";
import type { ServerFrame } from "@/transport/frames";
import { IndexedDbOutbox, MemoryOutbox, type Outbox } from "@/transport/outbox";
import { RealtimeClient } from "@/transport/realtime";

export const TYPING_SHOWN_MS = 5000;
/**
 * Read receipts are coalesced: at most one `read` per conversation per window, carrying the
 * latest seq. A busy room confirms many messages a second; one frame each would push a tab past
 * the server's per-socket frame limit (30/s).
 */
export const READ_COALESCE_MS = 500;
const PAGE = 50;
const GAP_PAGE = 200;

export interface EngineEvents {
  /** Conversation list or membership changed (refetch). */
  conversationsChanged(): void;
  membersChanged(conversationId: string): void;
  authLost(): void;
}

function openOutbox(userId: string): Outbox {
  try {
    return typeof indexedDB === "undefined"
      ? new MemoryOutbox()
      : new IndexedDbOutbox(`hushroom-outbox-${userId}`);
  } catch {
    return new MemoryOutbox();
  }
}

export class ChatEngine {
  readonly store = new ChatStore();
  readonly realtime: RealtimeClient;
  readonly #api: ApiClient;
  readonly #events: EngineEvents;
  readonly #decode: MessageDecoder;
  readonly #readSent = new Map<string, number>();
  readonly #readPending = new Map<string, number>();
  #readTimer: number | null = null;
  readonly #filling = new Set<string>();
  readonly #typingTimers = new Map<string, number>();
  readonly #cleanup: (() => void)[] = [];
  readonly userId: string;

  constructor(api: ApiClient, userId: string, events: EngineEvents, decode = decodeMessage) {
    this.#api = api;
    this.userId = userId;
    this.#events = events;
    this.#decode = decode;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    this.realtime = new RealtimeClient({
      url: `${scheme}://${location.host}/ws`,
      ticket: async () => (await api.wsTicket()).ticket,
      open: (url) => new WebSocket(url),
      outbox: openOutbox(userId),
      positions: () => this.store.positions(),
      listener: {
        status: (s) => {
          this.store.setConnection(s);
        },
        frame: (f) => {
          this.#onFrame(f);
        },
        outboxChanged: (entries) => {
          this.store.setOutbox(entries);
        },
        ack: (entry, ack) => {
          this.store.noteLastSeq(entry.conversationId, ack.seq);
          this.store.addMessages(entry.conversationId, [
            {
              id: ack.message_id,
              conversationId: entry.conversationId,
              seq: ack.seq,
              senderId: userId,
              clientMsgId: entry.clientMsgId,
              createdAt: ack.created_at,
              text: entry.body,
              encrypted: false,
            },
          ]);
          this.#maybeFill(entry.conversationId);
          // Storing a send moves the sender's read position to it on the server: no frame.
          const id = entry.conversationId;
          if (ack.seq > (this.#readSent.get(id) ?? 0)) this.#readSent.set(id, ack.seq);
          this.store.receipts(id, { [userId]: ack.seq });
          this.markRead(id);
        },
        authLost: () => {
          events.authLost();
        },
      },
    });
  }

  start(): void {
    const offline = () => {
      this.realtime.goOffline();
    };
    const online = () => {
      this.realtime.goOnline();
    };
    const visible = () => {
      this.realtime.presence(document.visibilityState === "hidden" ? "away" : "online");
      const active = this.store.getState().activeConversation;
      if (active !== null) this.markRead(active);
    };
    window.addEventListener("offline", offline);
    window.addEventListener("online", online);
    document.addEventListener("visibilitychange", visible);
    this.#cleanup.push(() => {
      window.removeEventListener("offline", offline);
      window.removeEventListener("online", online);
      document.removeEventListener("visibilitychange", visible);
    });
    if (!navigator.onLine) this.realtime.goOffline();
    if (document.visibilityState === "hidden") this.realtime.presence("away");
    void this.realtime.start();
  }

  stop(): void {
    this.#flushReads();
    this.realtime.stop();
    for (const fn of this.#cleanup.splice(0)) fn();
    for (const t of this.#typingTimers.values()) window.clearTimeout(t);
  }

  /** Show a conversation: load its latest page once, clear its unread, send read. */
  async open(id: string): Promise<void> {
    this.store.setActive(id);
    if (!this.store.conversation(id).loaded) {
      const page = await this.#api.messages(id, { limit: PAGE });
      this.store.addMessages(id, page.messages.map(this.#decode), {
        hasMoreBefore: page.has_more_before,
        lastSeq: page.last_seq,
      });
      this.realtime.resume();
      this.#maybeFill(id);
    }
    this.markRead(id);
  }

  close(id: string): void {
    if (this.store.getState().activeConversation === id) this.store.setActive(null);
  }

  async loadOlder(id: string): Promise<boolean> {
    const c = this.store.conversation(id);
    const first = c.messages[0];
    if (!c.hasMoreBefore || first === undefined) return false;
    const page = await this.#api.messages(id, { before: first.seq, limit: PAGE });
    this.store.addMessages(id, page.messages.map(this.#decode), {
      hasMoreBefore: page.has_more_before,
      lastSeq: page.last_seq,
    });
    return page.messages.length > 0;
  }

  send(id: string, text: string): void {
    void this.realtime.send(id, text);
  }

  typing(id: string): void {
    this.realtime.typing(id);
  }

  /** Mark the open conversation read up to its last message: shown at once, sent coalesced. */
  markRead(id: string): void {
    const state = this.store.getState();
    if (state.activeConversation !== id || document.visibilityState === "hidden") return;
    const c = this.store.conversation(id);
    const seq = c.messages.at(-1)?.seq ?? 0;
    if (seq <= Math.max(this.#readSent.get(id) ?? 0, this.#readPending.get(id) ?? 0)) return;
    this.store.receipts(id, { [this.userId]: seq });
    this.#readPending.set(id, seq);
    this.#readTimer ??= window.setTimeout(() => {
      this.#flushReads();
    }, READ_COALESCE_MS);
  }

  #flushReads(): void {
    if (this.#readTimer !== null) window.clearTimeout(this.#readTimer);
    this.#readTimer = null;
    for (const [id, seq] of this.#readPending) {
      if (seq <= (this.#readSent.get(id) ?? 0)) continue;
      this.#readSent.set(id, seq);
      if (!this.realtime.read(id, seq)) {
        void this.#api.markRead(id, seq).catch(() => {
          if (this.#readSent.get(id) === seq) this.#readSent.delete(id);
        });
      }
    }
    this.#readPending.clear();
  }

  /** The server told us where a member had read (initial member list). */
  seedReceipts(id: string, receipts: Readonly<Record<string, number>>): void {
    this.store.receipts(id, receipts);
    const mine = receipts[this.userId];
    if (mine !== undefined && mine > (this.#readSent.get(id) ?? 0)) this.#readSent.set(id, mine);
  }

  #onFrame(frame: ServerFrame): void {
    switch (frame.type) {
      case "message.new": {
        const m = this.#decode(frame.message);
        const id = m.conversationId;
        const known = id in this.store.getState().conversations || id in this.store.getState().unread;
        const added = this.store.addMessages(id, [m]);
        if (added.length > 0) {
          this.store.stopTyping(id, m.senderId);
          if (m.senderId !== this.userId) {
            const active = this.store.getState().activeConversation === id;
            if (!active || document.visibilityState === "hidden") this.store.incrementUnread(id);
            this.markRead(id);
          }
        }
        if (!known) this.#events.conversationsChanged();
        this.#maybeFill(id);
        break;
      }
      case "sync.gap":
        this.store.noteLastSeq(frame.conversation_id, frame.last_seq);
        this.#maybeFill(frame.conversation_id);
        break;
      case "sync.done":
        this.#events.conversationsChanged();
        break;
      case "typing": {
        if (frame.user_id === this.userId) break;
        const key = `${frame.conversation_id}:${frame.user_id}`;
        this.store.typing(frame.conversation_id, frame.user_id, Date.now() + TYPING_SHOWN_MS);
        const old = this.#typingTimers.get(key);
        if (old !== undefined) window.clearTimeout(old);
        this.#typingTimers.set(
          key,
          window.setTimeout(() => {
            this.#typingTimers.delete(key);
            this.store.stopTyping(frame.conversation_id, frame.user_id);
          }, TYPING_SHOWN_MS),
        );
        break;
      }
      case "receipt":
        this.store.receipts(frame.conversation_id, { [frame.user_id]: frame.seq });
        break;
      case "presence":
        this.store.presence(frame.user_id, { status: frame.status, lastSeen: frame.last_seen });
        break;
      case "member.joined":
      case "member.left":
        this.#events.membersChanged(frame.conversation_id);
        if (frame.user_id === this.userId) this.#events.conversationsChanged();
        break;
      case "conversation.updated":
        this.#events.conversationsChanged();
        break;
      default:
        break;
    }
  }

  /** Fetch `(lastSeq, knownLastSeq]` over HTTP when a loaded conversation has a hole. */
  #maybeFill(id: string): void {
    const c = this.store.conversation(id);
    if (!c.loaded || c.lastSeq >= c.knownLastSeq || this.#filling.has(id)) return;
    this.#filling.add(id);
    const run = async () => {
      try {
        for (let i = 0; i < 50; i++) {
          const now = this.store.conversation(id);
          if (now.lastSeq >= now.knownLastSeq) break;
          const page = await this.#api.messages(id, { after: now.lastSeq, limit: GAP_PAGE });
          this.store.addMessages(id, page.messages.map(this.#decode), { lastSeq: page.last_seq });
          if (page.messages.length === 0) break;
        }
      } catch {
        // The next frame, reconnect or open tries again.
      } finally {
        this.#filling.delete(id);
        this.markRead(id);
      }
    };
    void run();
  }
}
