/**
 * Client state of the chat: messages per conversation keyed by seq (deduplicated), the outbox
 * view, typing, presence, receipts, unread counts and the connection status. A small external
 * store read with `useSyncExternalStore`; every change replaces the touched objects, so
 * selectors can return them as they are.
 */
import { type ChatMessage, removedMessage } from "@/store/pipeline";
import type { ConnectionStatus } from "@/transport/realtime";
import type { OutboxEntry } from "@/transport/outbox";

export interface ConversationState {
  /** Ascending seq, no duplicates. */
  readonly messages: readonly ChatMessage[];
  /** Highest seq such that everything from the first loaded one up to it is here. */
  readonly lastSeq: number;
  /** The server's latest seq we know of. */
  readonly knownLastSeq: number;
  readonly hasMoreBefore: boolean;
  readonly loaded: boolean;
  /** user id → time (ms) until which they are shown as typing */
  readonly typing: Readonly<Record<string, number>>;
  /** user id → last seq read */
  readonly receipts: Readonly<Record<string, number>>;
}

export interface Presence {
  readonly status: string;
  readonly lastSeen: number | null;
}

export interface ChatState {
  readonly conversations: Readonly<Record<string, ConversationState>>;
  readonly unread: Readonly<Record<string, number>>;
  readonly presence: Readonly<Record<string, Presence>>;
  readonly outbox: readonly OutboxEntry[];
  readonly connection: ConnectionStatus;
  readonly activeConversation: string | null;
}

export const EMPTY_CONVERSATION: ConversationState = {
  messages: [],
  lastSeq: 0,
  knownLastSeq: 0,
  hasMoreBefore: false,
  loaded: false,
  typing: {},
  receipts: {},
};

export class ChatStore {
  #state: ChatState = {
    conversations: {},
    unread: {},
    presence: {},
    outbox: [],
    connection: "connecting",
    activeConversation: null,
  };
  readonly #listeners = new Set<() => void>();

  getState = (): ChatState => this.#state;

  subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  #set(next: ChatState): void {
    this.#state = next;
    for (const listener of this.#listeners) listener();
  }

  conversation(id: string): ConversationState {
    return this.#state.conversations[id] ?? EMPTY_CONVERSATION;
  }

  #patchConversation(id: string, patch: (c: ConversationState) => ConversationState): void {
    const next = patch(this.conversation(id));
    this.#set({ ...this.#state, conversations: { ...this.#state.conversations, [id]: next } });
  }

  setConnection(status: ConnectionStatus): void {
    if (status !== this.#state.connection) this.#set({ ...this.#state, connection: status });
  }

  setOutbox(entries: readonly OutboxEntry[]): void {
    this.#set({ ...this.#state, outbox: entries });
  }

  setActive(id: string | null): void {
    if (id === this.#state.activeConversation) return;
    const unread = id === null ? this.#state.unread : { ...this.#state.unread, [id]: 0 };
    this.#set({ ...this.#state, activeConversation: id, unread });
  }

  setUnread(counts: Readonly<Record<string, number>>): void {
    const active = this.#state.activeConversation;
    const unread = { ...counts };
    if (active !== null) unread[active] = 0;
    this.#set({ ...this.#state, unread });
  }

  clearUnread(id: string): void {
    if ((this.#state.unread[id] ?? 0) === 0) return;
    this.#set({ ...this.#state, unread: { ...this.#state.unread, [id]: 0 } });
  }

  /**
   * Merge messages (from history, resume, live or gap fill). Returns how many were new.
   * `page` describes an HTTP page: `hasMoreBefore` only for the latest page or an older one.
   */
  addMessages(
    id: string,
    incoming: readonly ChatMessage[],
    page?: { hasMoreBefore?: boolean; lastSeq: number },
  ): ChatMessage[] {
    const current = this.conversation(id);
    const bySeq = new Map(current.messages.map((m) => [m.seq, m]));
    const added: ChatMessage[] = [];
    let replaced = false;
    for (const m of incoming) {
      const had = bySeq.get(m.seq);
      if (had === undefined) {
        bySeq.set(m.seq, m);
        added.push(m);
      } else if (had.failure !== undefined && m.failure === undefined) {
        // Opened now (keys arrived, the network came back): the text replaces the reason.
        bySeq.set(m.seq, m);
        replaced = true;
      } else if (m.removed === true && had.removed !== true) {
        // A page fetched after a moderator removed it (the live frame was missed).
        bySeq.set(m.seq, m);
        replaced = true;
      }
    }
    if (added.length === 0 && !replaced && page === undefined) return added;
    const messages = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
    let lastSeq = current.lastSeq;
    const first = messages[0];
    if (first !== undefined) {
      lastSeq = Math.max(lastSeq, first.seq - 1);
      const present = new Set(messages.map((m) => m.seq));
      while (present.has(lastSeq + 1)) lastSeq += 1;
    }
    const knownLastSeq = Math.max(
      current.knownLastSeq,
      page?.lastSeq ?? 0,
      messages.at(-1)?.seq ?? 0,
    );
    const hasMoreBefore = page?.hasMoreBefore ?? current.hasMoreBefore;
    this.#patchConversation(id, (c) => ({
      ...c,
      messages,
      lastSeq,
      knownLastSeq,
      hasMoreBefore,
      loaded: c.loaded || page !== undefined,
    }));
    return added;
  }

  /** A server admin removed the message at `seq`: it keeps its place, its text goes. */
  markRemoved(id: string, seq: number): void {
    const c = this.conversation(id);
    const at = c.messages.findIndex((m) => m.seq === seq);
    const had = c.messages[at];
    if (had === undefined || had.removed === true) return;
    const messages = [...c.messages];
    messages[at] = removedMessage({
      id: had.id,
      conversation_id: had.conversationId,
      seq: had.seq,
      sender_id: had.senderId,
      client_msg_id: had.clientMsgId,
      created_at: had.createdAt,
    });
    this.#patchConversation(id, (conv) => ({ ...conv, messages }));
  }

  /** Note a seq we learned exists (a gap to fill). */
  noteLastSeq(id: string, seq: number): void {
    if (seq > this.conversation(id).knownLastSeq) {
      this.#patchConversation(id, (c) => ({ ...c, knownLastSeq: seq }));
    }
  }

  incrementUnread(id: string): void {
    if (id === this.#state.activeConversation) return;
    this.#set({
      ...this.#state,
      unread: { ...this.#state.unread, [id]: (this.#state.unread[id] ?? 0) + 1 },
    });
  }

  typing(id: string, userId: string, until: number): void {
    this.#patchConversation(id, (c) => ({ ...c, typing: { ...c.typing, [userId]: until } }));
  }

  stopTyping(id: string, userId: string): void {
    const c = this.conversation(id);
    if (!(userId in c.typing)) return;
    const typing = Object.fromEntries(Object.entries(c.typing).filter(([u]) => u !== userId));
    this.#patchConversation(id, (conv) => ({ ...conv, typing }));
  }

  receipts(id: string, receipts: Readonly<Record<string, number>>): void {
    this.#patchConversation(id, (c) => {
      const merged: Record<string, number> = { ...c.receipts };
      for (const [user, seq] of Object.entries(receipts)) {
        merged[user] = Math.max(merged[user] ?? 0, seq);
      }
      return { ...c, receipts: merged };
    });
  }

  presence(userId: string, presence: Presence): void {
    this.#set({ ...this.#state, presence: { ...this.#state.presence, [userId]: presence } });
  }

  /** Positions for `resume`: the conversations we hold messages of. */
  positions(): Record<string, number> {
    const positions: Record<string, number> = {};
    for (const [id, c] of Object.entries(this.#state.conversations)) {
      if (c.loaded) positions[id] = c.lastSeq;
    }
    return positions;
  }

  forget(id: string): void {
    const conversations = Object.fromEntries(
      Object.entries(this.#state.conversations).filter(([c]) => c !== id),
    );
    this.#set({ ...this.#state, conversations });
  }
}
