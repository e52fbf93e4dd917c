/**
 * Wires the HTTP client, the WebSocket client and the store: live frames into state, gap fill
 * over HTTP, history paging, sending through the outbox, read receipts.
 */
import type { ApiClient } from "@/api/client";
import type { Message, MessagePage } from "@/api/types";
import { keyring } from "@/session/unlocked-keys";
import { browserE2eeStore } from "@/storage/local-crypto-store";
import { ChatStore } from "@/store/chat-store";
import { PresenceWatch } from "@/store/presence-watch";
import { type ChatMessage, decodeMessages, decodePlain, type MessageDecoder } from "@/store/pipeline";
import type { ServerFrame } from "@/transport/frames";
import { EncryptedOutbox, IndexedDbOutbox, MemoryOutbox, type Outbox, type OutboxEntry } from "@/transport/outbox";
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
/** How long a history page read ahead may wait to be shown before it is fetched again. */
const READ_AHEAD_MS = 30_000;

/** A history page, fetched and opened. */
interface OlderPage {
  readonly page: MessagePage;
  readonly messages: ChatMessage[];
}

export interface EngineEvents {
  /** Conversation list or membership changed (refetch). */
  conversationsChanged(): void;
  membersChanged(conversationId: string): void;
  authLost(): void;
}

function openOutbox(userId: string): Outbox {
  let inner: Outbox;
  try {
    inner = typeof indexedDB === "undefined" ? new MemoryOutbox() : new IndexedDbOutbox(`hushroom-outbox-${userId}`);
  } catch {
    inner = new MemoryOutbox();
  }
  // Private messages' text is stored encrypted under the device-local key.
  return new EncryptedOutbox(inner, () => browserE2eeStore(userId).cipher());
}

/**
 * End-to-end encryption as the engine uses it (`@/session/e2ee`, loaded on first use so the
 * crypto core stays out of the start-up chunk).
 */
export interface PrivateMessaging {
  /** Open a batch of messages (envelopes decrypted, failures with a reason). */
  decode: MessageDecoder;
  /** Seal a private outbox entry: a counter (kept if it has one) and an envelope. */
  seal(entry: OutboxEntry): Promise<OutboxEntry>;
}

export interface EngineOptions {
  /** Decoder without encryption (tests); envelopes then show as locked. */
  readonly decode?: MessageDecoder;
  /** Where the encryption comes from (default: `@/session/e2ee` for the unlocked keys). */
  readonly privateMessaging?: () => Promise<PrivateMessaging>;
}

function defaultPrivateMessaging(api: ApiClient, userId: string): () => Promise<PrivateMessaging> {
  let loaded: Promise<PrivateMessaging> | null = null;
  return () => {
    loaded ??= import("@/session/e2ee").then((m) => m.privateMessagingFor(api, userId));
    loaded.catch(() => {
      loaded = null;
    });
    return loaded;
  };
}

export class ChatEngine {
  readonly store = new ChatStore();
  readonly realtime: RealtimeClient;
  readonly #api: ApiClient;
  readonly #events: EngineEvents;
  readonly #plain: MessageDecoder;
  readonly #private: () => Promise<PrivateMessaging>;
  /** Whether the keys are unlocked (envelopes of a locked browser show as locked, not failed). */
  readonly #unlocked: () => boolean;
  readonly #kinds = new Map<string, Promise<boolean>>();
  readonly #readSent = new Map<string, number>();
  readonly #readPending = new Map<string, number>();
  #readTimer: number | null = null;
  readonly #filling = new Set<string>();
  /**
   * Per conversation, the history page before the oldest one shown, fetched and opened ahead
   * while the reader is paging back (so the next page is not a round trip and a decryption
   * after the scroll that asks for it).
   */
  readonly #ahead = new Map<string, { readonly before: number; readonly at: number; readonly page: Promise<OlderPage> }>();
  readonly #typingTimers = new Map<string, number>();
  /** Envelopes received and not yet opened (`#openIncoming`), and whether it runs. */
  readonly #sealed: Message[] = [];
  #opening = false;
  readonly #cleanup: (() => void)[] = [];
  readonly userId: string;
  /** Whose presence this tab watches (room members on screen; docs/protocol.md "Presence"). */
  readonly presenceWatch = new PresenceWatch((ids) => this.realtime.watchPresence(ids));

  constructor(api: ApiClient, userId: string, events: EngineEvents, options: EngineOptions = {}) {
    this.#api = api;
    this.userId = userId;
    this.#events = events;
    this.#plain = options.decode ?? decodeMessages;
    this.#private = options.privateMessaging ?? defaultPrivateMessaging(api, userId);
    this.#unlocked = options.privateMessaging === undefined ? () => keyring.current() !== null : () => true;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    this.realtime = new RealtimeClient({
      url: `${scheme}://${location.host}/ws`,
      ticket: async () => (await api.wsTicket()).ticket,
      open: (url) => new WebSocket(url),
      outbox: openOutbox(userId),
      positions: () => this.store.positions(),
      seal: async (entry) => (await this.#private()).seal(entry),
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
              encrypted: entry.private === true,
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
      this.store.addMessages(id, await this.#decode(page.messages), {
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
    this.#ahead.delete(id);
  }

  /**
   * The page before the oldest message shown. Once the reader pages back, the page before that
   * one is read ahead (fetched and opened) for the next call.
   */
  async loadOlder(id: string): Promise<boolean> {
    const c = this.store.conversation(id);
    const first = c.messages[0];
    if (!c.hasMoreBefore || first === undefined) return false;
    const { page, messages } = await this.#olderPage(id, first.seq);
    this.store.addMessages(id, messages, {
      hasMoreBefore: page.has_more_before,
      lastSeq: page.last_seq,
    });
    const oldest = this.store.conversation(id).messages[0];
    if (page.has_more_before && page.messages.length > 0 && oldest !== undefined && oldest.seq < first.seq) {
      const ahead = this.#fetchOlder(id, oldest.seq);
      ahead.catch(() => {
        // Fetched again when asked for.
        if (this.#ahead.get(id)?.page === ahead) this.#ahead.delete(id);
      });
      this.#ahead.set(id, { before: oldest.seq, at: Date.now(), page: ahead });
    }
    return page.messages.length > 0;
  }

  /** The page before `before`: the one read ahead when it is that page and recent, else fetched. */
  async #olderPage(id: string, before: number): Promise<OlderPage> {
    const ahead = this.#ahead.get(id);
    this.#ahead.delete(id);
    if (ahead !== undefined && ahead.before === before && Date.now() - ahead.at < READ_AHEAD_MS) {
      try {
        return await ahead.page;
      } catch {
        // Fetched again below.
      }
    }
    return this.#fetchOlder(id, before);
  }

  async #fetchOlder(id: string, before: number): Promise<OlderPage> {
    const page = await this.#api.messages(id, { before, limit: PAGE });
    return { page, messages: await this.#decode(page.messages) };
  }

  /** `kind` when the caller knows it (saves a lookup; a DM or group is never sent as text). */
  send(id: string, text: string, kind?: "room" | "dm" | "group"): void {
    if (kind !== undefined && !this.#kinds.has(id)) this.#kinds.set(id, Promise.resolve(kind !== "room"));
    void this.#send(id, text);
  }

  async #send(id: string, text: string): Promise<void> {
    let priv: boolean;
    try {
      priv = await this.isPrivate(id);
    } catch {
      // Unknown kind (offline): a DM or group never gets plaintext, so assume private.
      priv = true;
    }
    await this.realtime.send(id, text, priv ? { private: true } : {});
  }

  /** DMs and groups carry envelopes only; public rooms carry text. */
  isPrivate(id: string): Promise<boolean> {
    let kind = this.#kinds.get(id);
    if (kind === undefined) {
      kind = this.#api.conversation(id).then((c) => c.kind !== "room");
      this.#kinds.set(id, kind);
      kind.catch(() => this.#kinds.delete(id));
    }
    return kind;
  }

  /** Opens envelopes when the batch has any (and keys are unlocked); plain text otherwise. */
  async #decode(messages: readonly Message[]): Promise<ChatMessage[]> {
    const plain = messages.every((m) => m.body != null || m.removed === true);
    if (plain || !this.#unlocked()) return this.#plain(messages);
    let messaging: PrivateMessaging;
    try {
      messaging = await this.#private();
    } catch {
      return this.#plain(messages);
    }
    return messaging.decode(messages);
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
      case "message.new":
        if (frame.message.body != null || frame.message.removed === true) {
          // Public text is shown in the same task.
          this.#onNewMessages(frame.message.conversation_id, [decodePlain(frame.message)]);
        } else {
          this.#sealed.push(frame.message);
          if (!this.#opening) void this.#openIncoming();
        }
        break;
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
      case "ready":
        this.presenceWatch.reconnected();
        break;
      case "presence.snapshot":
        for (const p of frame.presences) {
          // A change pushed once the watch was registered may arrive first: the newer wins.
          const known = this.store.getState().presence[p.user_id];
          if (known !== undefined && (known.lastSeen ?? 0) > (p.last_seen ?? 0)) continue;
          this.store.presence(p.user_id, { status: p.status, lastSeen: p.last_seen });
        }
        break;
      case "member.joined":
      case "member.left":
        this.#events.membersChanged(frame.conversation_id);
        if (frame.user_id === this.userId) this.#events.conversationsChanged();
        break;
      case "conversation.updated":
        this.#events.conversationsChanged();
        break;
      case "message.removed":
        // A page read ahead may hold it still with its text.
        this.#ahead.delete(frame.conversation_id);
        this.store.markRemoved(frame.conversation_id, frame.seq);
        break;
      case "conversation.removed":
        this.#ahead.delete(frame.conversation_id);
        this.store.forget(frame.conversation_id);
        this.#events.conversationsChanged();
        break;
      default:
        break;
    }
  }

  /**
   * Envelopes from the socket, opened in batches: those that arrive while a batch is being
   * opened go into the next one, so a resume of hundreds of messages costs a few batch
   * decryptions rather than hundreds of single ones, and a lone live message is not delayed.
   */
  async #openIncoming(): Promise<void> {
    this.#opening = true;
    try {
      while (this.#sealed.length > 0) {
        // One turn of the event loop first: frames already received but not yet dispatched
        // (the browser hands a socket's messages over one task at a time) join this batch.
        await new Promise((resolve) => setTimeout(resolve, 0));
        const batch = this.#sealed.splice(0);
        const byConversation = new Map<string, Message[]>();
        for (const m of batch) {
          const list = byConversation.get(m.conversation_id);
          if (list === undefined) byConversation.set(m.conversation_id, [m]);
          else list.push(m);
        }
        for (const [id, sealed] of byConversation) this.#onNewMessages(id, await this.#decode(sealed));
      }
    } finally {
      this.#opening = false;
    }
  }

  #onNewMessages(id: string, messages: readonly ChatMessage[]): void {
    const known = id in this.store.getState().conversations || id in this.store.getState().unread;
    if (messages.length === 0) return;
    const added = this.store.addMessages(id, messages);
    let fromOthers = false;
    for (const m of added) {
      this.store.stopTyping(id, m.senderId);
      if (m.senderId === this.userId) continue;
      fromOthers = true;
      const active = this.store.getState().activeConversation === id;
      if (!active || document.visibilityState === "hidden") this.store.incrementUnread(id);
    }
    if (fromOthers) this.markRead(id);
    if (!known) this.#events.conversationsChanged();
    this.#maybeFill(id);
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
          this.store.addMessages(id, await this.#decode(page.messages), { lastSeq: page.last_seq });
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
