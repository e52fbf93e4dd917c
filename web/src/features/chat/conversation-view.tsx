/**
 * One conversation: messages grouped by day and sender, own on the right, a "new messages"
 * divider, history paging backwards on scroll, scroll-to-latest, receipts, typing, composer.
 * Every piece of user text is rendered as text (React escapes it); never as HTML.
 */
import { useQueryClient } from "@tanstack/react-query";
import {
  memo,
  useCallback,
  useEffect,
  useLayoutEffect,
  useMemo,
  useRef,
  useState,
  type KeyboardEvent,
} from "react";
import { Link, useNavigate, useParams } from "react-router";

import { describeError } from "@/api/errors";
import { useConversation, useConversations, useMembers, useUser } from "@/api/queries";
import { panelIn, slideIn } from "@/components/motion";
import { Popup, type PopupContent } from "@/components/popup";
import { dayKey, dayLabel, timeLabel, typingText } from "@/features/chat/format";
import { PresenceDot, PresenceText } from "@/features/chat/presence-dot";
import { UserName } from "@/features/chat/user-name";
import { useSession } from "@/session/session";
import type { ChatMessage } from "@/store/pipeline";
import { EMPTY_CONVERSATION } from "@/store/chat-store";
import { useChat, useEngine } from "@/store/react";
import type { OutboxEntry } from "@/transport/outbox";

const GROUP_GAP_MS = 5 * 60_000;
const NO_READERS: readonly string[] = [];

export function ConversationRoute() {
  const { id = "" } = useParams();
  return <ConversationView key={id} id={id} />;
}

function ConversationView({ id }: { id: string }) {
  const engine = useEngine();
  const { api } = useSession();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const conversation = useConversation(id);
  const summaries = useConversations();
  const summary = summaries.data?.find((c) => c.id === id);
  const isMember = summary !== undefined;
  const members = useMembers(id);
  const [showMembers, setShowMembers] = useState(false);
  const [popup, setPopup] = useState<PopupContent | null>(null);
  const closePopup = useCallback(() => {
    setPopup(null);
  }, []);
  const panel = useRef<HTMLElement>(null);

  // Where "new messages" starts: fixed when the conversation opens. The conversation list is
  // fetched once and goes stale while other rooms are open (its `unread` stays 0 for a room that
  // got messages meanwhile, its `last_read_seq` stays behind what this tab read), so the live
  // unread count and read position, taken before opening marks everything read, come first.
  const [atOpen] = useState(() => ({
    unread: engine.store.getState().unread[id],
    readTo: engine.store.conversation(id).receipts[engine.userId] ?? 0,
  }));
  const [firstUnreadSeq, setFirstUnreadSeq] = useState<number | null>(null);
  const lastReadAtOpen = summary?.last_read_seq;
  const unreadAtOpen = atOpen.unread ?? summary?.unread;
  if (firstUnreadSeq === null && lastReadAtOpen !== undefined && unreadAtOpen !== undefined) {
    setFirstUnreadSeq(
      unreadAtOpen > 0 ? Math.max(lastReadAtOpen, atOpen.readTo) + 1 : Number.POSITIVE_INFINITY,
    );
  }

  useEffect(() => {
    panelIn(panel.current);
  }, []);

  useEffect(() => {
    engine.open(id).catch((error: unknown) => {
      setPopup(describeError(error));
    });
    return () => {
      engine.close(id);
    };
  }, [engine, id]);

  useEffect(() => {
    if (members.data === undefined) return;
    engine.seedReceipts(
      id,
      Object.fromEntries(members.data.members.map((m) => [m.user_id, m.last_read_seq])),
    );
  }, [engine, id, members.data]);

  const join = async () => {
    try {
      await api.joinRoom(id);
      await queryClient.invalidateQueries({ queryKey: ["conversations"] });
      await queryClient.invalidateQueries({ queryKey: ["members", id] });
      engine.realtime.resume();
    } catch (error) {
      setPopup(describeError(error));
    }
  };

  const leave = async () => {
    try {
      await api.leaveRoom(id);
      engine.close(id);
      engine.store.forget(id);
      await queryClient.invalidateQueries({ queryKey: ["conversations"] });
      void navigate("/");
    } catch (error) {
      setPopup(describeError(error));
    }
  };

  const name = conversation.data?.name ?? summary?.name ?? "Conversation";
  return (
    <section className="conversation" ref={panel} aria-labelledby="conversation-title">
      <header className="conversation-header">
        <Link to="/" className="back" aria-label="Back to conversations">
          ‹
        </Link>
        <div className="title">
          <h2 id="conversation-title">{name}</h2>
          {conversation.data?.topic != null && conversation.data.topic !== "" && (
            <p className="muted small topic">{conversation.data.topic}</p>
          )}
        </div>
        <button
          type="button"
          className="ghost"
          aria-expanded={showMembers}
          aria-controls="member-panel"
          onClick={() => {
            setShowMembers((v) => !v);
          }}
        >
          {members.data === undefined ? "Members" : `Members (${String(members.data.members.length)})`}
        </button>
        {isMember && conversation.data?.kind === "room" && (
          <button type="button" className="ghost" onClick={() => void leave()}>
            Leave
          </button>
        )}
      </header>
      <div className="conversation-body">
        <div className="conversation-main">
          <MessageList id={id} firstUnreadSeq={firstUnreadSeq ?? Number.POSITIVE_INFINITY} />
          <TypingLine id={id} />
          {isMember ? (
            <Composer id={id} />
          ) : summaries.isSuccess ? (
            <div className="join-bar">
              <p>You're reading this room. Join to send messages.</p>
              <button type="button" className="primary" onClick={() => void join()}>
                Join room
              </button>
            </div>
          ) : null}
        </div>
        {showMembers && (
          <aside id="member-panel" className="members" aria-label="Members">
            <h3>Members</h3>
            <ul>
              {members.data?.members.map((m) => (
                <li key={m.user_id}>
                  <PresenceDot userId={m.user_id} />
                  <span>
                    <UserName userId={m.user_id} />
                    {m.role === "admin" && <span className="muted small"> · admin</span>}
                  </span>
                  <PresenceText userId={m.user_id} />
                </li>
              ))}
            </ul>
          </aside>
        )}
      </div>
      <Popup content={popup} onClose={closePopup} />
    </section>
  );
}

interface Row {
  readonly kind: "day" | "divider" | "message";
  readonly key: string;
  readonly message?: ChatMessage;
  readonly label?: string;
  readonly startsGroup?: boolean;
}

function buildRows(messages: readonly ChatMessage[], firstUnreadSeq: number, me: string): Row[] {
  const rows: Row[] = [];
  let prev: ChatMessage | undefined;
  let dividerShown = false;
  for (const m of messages) {
    if (prev === undefined || dayKey(prev.createdAt) !== dayKey(m.createdAt)) {
      rows.push({ kind: "day", key: `day-${dayKey(m.createdAt)}`, label: dayLabel(m.createdAt) });
      prev = undefined;
    }
    if (!dividerShown && m.seq >= firstUnreadSeq && m.senderId !== me) {
      rows.push({ kind: "divider", key: "divider" });
      dividerShown = true;
      prev = undefined;
    }
    const startsGroup =
      prev === undefined || prev.senderId !== m.senderId || m.createdAt - prev.createdAt > GROUP_GAP_MS;
    rows.push({ kind: "message", key: `m-${String(m.seq)}`, message: m, startsGroup });
    prev = m;
  }
  return rows;
}

function MessageList({ id, firstUnreadSeq }: { id: string; firstUnreadSeq: number }) {
  const engine = useEngine();
  const me = engine.userId;
  const conv = useChat((s) => s.conversations[id] ?? EMPTY_CONVERSATION);
  const outbox = useChat((s) => s.outbox);
  // An own message can arrive as `message.new` just before its ack: show it once, confirmed.
  const pending = useMemo(() => {
    const confirmed = new Set(conv.messages.filter((m) => m.senderId === me).map((m) => m.clientMsgId));
    return outbox.filter((e) => e.conversationId === id && !confirmed.has(e.clientMsgId));
  }, [outbox, id, conv.messages, me]);
  const rows = useMemo(() => buildRows(conv.messages, firstUnreadSeq, me), [conv.messages, firstUnreadSeq, me]);
  const scroller = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const [showLatest, setShowLatest] = useState(false);
  const loadingOlder = useRef(false);
  const anchor = useRef<{ height: number; top: number } | null>(null);
  const seen = useRef(new Set<string>());

  // Who has read up to where: each reader is shown under the last message they have read.
  const readers = useMemo(() => {
    const bySeq = new Map<number, string[]>();
    for (const [user, seq] of Object.entries(conv.receipts)) {
      if (user === me) continue;
      // The last message they have read, not counting their own.
      let at: number | undefined;
      for (const m of conv.messages) if (m.seq <= seq && m.senderId !== user) at = m.seq;
      if (at === undefined) continue;
      const list = bySeq.get(at) ?? [];
      list.push(user);
      bySeq.set(at, list);
    }
    return bySeq;
  }, [conv.messages, conv.receipts, me]);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (el === null) return;
    if (anchor.current !== null) {
      // Older messages were prepended: keep the view where it was.
      el.scrollTop = el.scrollHeight - anchor.current.height + anchor.current.top;
      anchor.current = null;
    } else if (atBottom.current) {
      el.scrollTop = el.scrollHeight;
    }
    const fresh: Element[] = [];
    let own = false;
    for (const node of el.querySelectorAll<HTMLElement>("[data-key]")) {
      const key = node.dataset.key ?? "";
      if (!seen.current.has(key)) {
        if (seen.current.size > 0) {
          fresh.push(node);
          own = node.classList.contains("own");
        }
        seen.current.add(key);
      }
    }
    if (fresh.length > 0 && fresh.length < 10) slideIn(fresh, own);
  }, [rows, pending.length]);

  const onScroll = () => {
    const el = scroller.current;
    if (el === null) return;
    const bottom = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
    atBottom.current = bottom;
    setShowLatest(!bottom);
    if (bottom) engine.markRead(id);
    if (el.scrollTop < 120 && conv.hasMoreBefore && !loadingOlder.current) {
      loadingOlder.current = true;
      anchor.current = { height: el.scrollHeight, top: el.scrollTop };
      engine
        .loadOlder(id)
        .catch(() => {
          anchor.current = null;
        })
        .finally(() => {
          loadingOlder.current = false;
        });
    }
  };

  const toLatest = () => {
    const el = scroller.current;
    if (el === null) return;
    el.scrollTop = el.scrollHeight;
    atBottom.current = true;
    setShowLatest(false);
    engine.markRead(id);
  };

  return (
    <div className="messages-wrap">
      <div className="messages" ref={scroller} onScroll={onScroll} role="log" aria-live="polite" aria-label="Messages" tabIndex={0}>
        {conv.hasMoreBefore && (
          <button
            type="button"
            className="ghost load-older"
            onClick={() => {
              const el = scroller.current;
              if (el !== null) anchor.current = { height: el.scrollHeight, top: el.scrollTop };
              void engine.loadOlder(id);
            }}
          >
            Load older messages
          </button>
        )}
        {!conv.loaded && <p className="muted center">Loading messages…</p>}
        {conv.loaded && conv.messages.length === 0 && pending.length === 0 && (
          <p className="muted center">No messages yet. Say hello!</p>
        )}
        {rows.map((row) =>
          row.kind === "day" ? (
            <div key={row.key} className="day" role="separator">
              <span>{row.label}</span>
            </div>
          ) : row.kind === "divider" ? (
            <div key={row.key} className="new-divider" role="separator" aria-label="New messages">
              <span>New messages</span>
            </div>
          ) : row.message !== undefined ? (
            <MessageBubble
              key={row.key}
              message={row.message}
              own={row.message.senderId === me}
              startsGroup={row.startsGroup === true}
              readers={readers.get(row.message.seq) ?? NO_READERS}
            />
          ) : null,
        )}
        {pending.map((p) => (
          <PendingBubble key={p.clientMsgId} entry={p} />
        ))}
      </div>
      {showLatest && (
        <button type="button" className="to-latest" onClick={toLatest} aria-label="Scroll to latest messages">
          ↓ Latest
        </button>
      )}
    </div>
  );
}

interface BubbleProps {
  message: ChatMessage;
  own: boolean;
  startsGroup: boolean;
  readers: readonly string[];
}

/**
 * Bubbles re-render only when their own message, grouping or readers change: a send, an ack or
 * a receipt touches one row, not the whole list (the store keeps unchanged messages as the same
 * objects; `readers` is rebuilt on every receipt, so it is compared by content).
 */
function sameBubble(a: BubbleProps, b: BubbleProps): boolean {
  return (
    a.message === b.message &&
    a.own === b.own &&
    a.startsGroup === b.startsGroup &&
    a.readers.length === b.readers.length &&
    a.readers.every((user, i) => user === b.readers[i])
  );
}

export const MessageBubble = memo(function MessageBubble({ message, own, startsGroup, readers }: BubbleProps) {
  return (
    <div className={`msg ${own ? "own" : "other"} ${startsGroup ? "group-start" : ""}`} data-key={`m-${String(message.seq)}`} data-seq={message.seq}>
      {startsGroup && !own && (
        <div className="sender">
          <UserName userId={message.senderId} />
        </div>
      )}
      <div className="bubble">
        <p className="text">{message.text}</p>
        <span className="meta">
          <time dateTime={new Date(message.createdAt).toISOString()}>{timeLabel(message.createdAt)}</time>
          {own && <span className="state"> · Sent</span>}
        </span>
      </div>
      {readers.length > 0 && (
        <div className="receipt small muted">
          Seen by{" "}
          {readers.map((u, i) => (
            <span key={u}>
              {i > 0 ? ", " : ""}
              <UserName userId={u} />
            </span>
          ))}
        </div>
      )}
    </div>
  );
}, sameBubble);

function PendingBubble({ entry }: { entry: OutboxEntry }) {
  const engine = useEngine();
  return (
    <div className="msg own pending" data-key={`p-${entry.clientMsgId}`}>
      <div className="bubble">
        <p className="text">{entry.body}</p>
        <span className="meta">
          {entry.failed ? (
            <>
              <span className="state failed">Not sent</span>{" "}
              <button type="button" className="link" onClick={() => void engine.realtime.retry(entry.clientMsgId)}>
                Retry
              </button>{" "}
              <button type="button" className="link" onClick={() => void engine.realtime.discard(entry.clientMsgId)}>
                Delete
              </button>
            </>
          ) : (
            <span className="state">Sending…</span>
          )}
        </span>
      </div>
    </div>
  );
}

function TypingName({ userId }: { userId: string }) {
  return useUser(userId).data?.display_name ?? "Someone";
}

function TypingLine({ id }: { id: string }) {
  const typing = useChat((s) => s.conversations[id]?.typing);
  const users = Object.keys(typing ?? {});
  return (
    <div className="typing small muted" aria-live="polite">
      {users.length > 0 && <TypingNames users={users} />}
    </div>
  );
}

function TypingNames({ users }: { users: string[] }) {
  // Names resolve asynchronously; render them through the same text helper.
  const names = users.map((u) => <TypingName key={u} userId={u} />);
  if (users.length > 2) return <>{typingText(users)}</>;
  if (users.length === 2) {
    return (
      <>
        {names[0]} and {names[1]} are typing…
      </>
    );
  }
  return <>{names[0]} is typing…</>;
}

function draftKey(id: string): string {
  return `hushroom-draft-${id}`;
}

function Composer({ id }: { id: string }) {
  const engine = useEngine();
  const [text, setText] = useState(() => sessionStorage.getItem(draftKey(id)) ?? "");
  const area = useRef<HTMLTextAreaElement>(null);

  useEffect(() => {
    if (text === "") sessionStorage.removeItem(draftKey(id));
    else sessionStorage.setItem(draftKey(id), text);
  }, [id, text]);

  const send = () => {
    const body = text.trim();
    if (body === "") return;
    engine.send(id, body);
    setText("");
    area.current?.focus();
  };

  const onKey = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      send();
    }
  };

  return (
    <form
      className="composer"
      onSubmit={(e) => {
        e.preventDefault();
        send();
      }}
    >
      <textarea
        ref={area}
        aria-label="Message"
        placeholder="Write a message…"
        title="Enter sends, Shift+Enter adds a new line"
        rows={1}
        value={text}
        maxLength={8000}
        onChange={(e) => {
          setText(e.target.value);
          if (e.target.value !== "") engine.typing(id);
        }}
        onKeyDown={onKey}
      />
      <button type="submit" className="primary" disabled={text.trim() === ""}>
        Send
      </button>
    </form>
  );
}
