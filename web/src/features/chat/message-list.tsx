/**
 * The message list of one conversation: day separators, the "New messages" divider, notices of
 * messages the server did not deliver (or delivered out of order), memoised bubbles with read
 * receipts, then the outbox's pending messages for this conversation.
 */
import { memo, useCallback, useMemo, useState } from "react";

import { describeError } from "@/api/errors";
import { useConversation, useMe } from "@/api/queries";
import { MessageBubble, PendingBubble, pendingKey } from "@/features/chat/message-bubble";
import { CounterNoticeRow, useCounterNotices } from "@/features/chat/message-notice";
import { buildRows, readersBySeq, type Row } from "@/features/chat/message-rows";
import { useMessageScroll } from "@/features/chat/use-message-scroll";
import { UserNames } from "@/features/chat/user-name";
import { type CounterNotice, sameNotices } from "@/session/counter-notices";
import { useSession } from "@/session/session";
import { EMPTY_CONVERSATION } from "@/store/chat-store";
import type { ChatMessage } from "@/store/pipeline";
import { useChat, useEngine } from "@/store/react";

const NO_READERS: readonly string[] = [];

export function MessageList({ id, firstUnreadSeq }: { id: string; firstUnreadSeq: number }) {
  const engine = useEngine();
  const me = engine.userId;
  const conv = useChat((s) => s.conversations[id] ?? EMPTY_CONVERSATION);
  const outbox = useChat((s) => s.outbox);
  // An own message can be listed before its ack (a resume backfill after a reconnect, while the
  // retry's duplicate ack is on its way; the server sends no echo): show it once, confirmed.
  const pending = useMemo(() => {
    const confirmed = new Set(conv.messages.filter((m) => m.senderId === me).map((m) => m.clientMsgId));
    return outbox.filter((e) => e.conversationId === id && !confirmed.has(e.clientMsgId));
  }, [outbox, id, conv.messages, me]);
  const notices = useShownNotices(useCounterNotices(id), conv.messages);
  const rows = useMemo(
    () => buildRows(conv.messages, firstUnreadSeq, me, notices),
    [conv.messages, firstUnreadSeq, me, notices],
  );
  const readers = useMemo(() => readersBySeq(conv.messages, conv.receipts, me), [conv.messages, conv.receipts, me]);
  const named = useNamedUsers(conv.messages, readers, notices);
  const pendingKeys = useMemo(() => pending.map((p) => pendingKey(p.clientMsgId)), [pending]);
  const { scroller, showLatest, onScroll, toLatest, loadOlder } = useMessageScroll(id, conv.hasMoreBefore, rows, pendingKeys);
  const onRemove = useModeration(id);

  return (
    <UserNames userIds={named}>
      <div className="messages-wrap">
        <div className="messages" ref={scroller} onScroll={onScroll} role="log" aria-live="polite" aria-label="Messages" tabIndex={0}>
          {conv.hasMoreBefore && (
            <button type="button" className="ghost load-older" onClick={loadOlder}>
              Load older messages
            </button>
          )}
          {!conv.loaded && <p className="muted center">Loading messages…</p>}
          {conv.loaded && conv.messages.length === 0 && pending.length === 0 && (
            <p className="muted center">No messages yet. Say hello!</p>
          )}
          <MessageRows rows={rows} readers={readers} me={me} onRemove={onRemove} />
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
    </UserNames>
  );
}

/**
 * The rows, apart from the list: re-rendered only when they or the receipts change (not on
 * typing, the outbox, the "Latest" button, or notices about messages not loaded yet).
 */
const MessageRows = memo(function MessageRows({
  rows,
  readers,
  me,
  onRemove,
}: {
  rows: readonly Row[];
  readers: ReadonlyMap<number, readonly string[]>;
  me: string;
  onRemove: ((message: ChatMessage) => void) | undefined;
}) {
  return rows.map((row) =>
    row.kind === "day" ? (
      <div key={row.key} className="day" role="separator">
        <span>{row.label}</span>
      </div>
    ) : row.kind === "divider" ? (
      <div key={row.key} className="new-divider" role="separator" aria-label="New messages">
        <span>New messages</span>
      </div>
    ) : row.kind === "notice" && row.notice !== undefined ? (
      <CounterNoticeRow key={row.key} notice={row.notice} />
    ) : row.message !== undefined ? (
      <MessageBubble
        key={row.key}
        message={row.message}
        own={row.message.senderId === me}
        startsGroup={row.startsGroup === true}
        readers={readers.get(row.message.seq) ?? NO_READERS}
        onRemove={onRemove}
      />
    ) : null,
  );
});


/**
 * The notices placed at loaded messages (each page's opening works out notices for the whole
 * conversation, often about messages not shown yet): the same array while those are the same.
 */
function useShownNotices(notices: readonly CounterNotice[], messages: readonly ChatMessage[]): readonly CounterNotice[] {
  const shown = useMemo(() => {
    if (notices.length === 0) return notices;
    const loaded = new Set(messages.map((m) => m.seq));
    return notices.filter((n) => loaded.has(n.seq));
  }, [notices, messages]);
  const [kept, setKept] = useState(shown);
  const same = sameNotices(kept, shown);
  if (!same) setKept(shown);
  return same ? kept : shown;
}

/**
 * Everyone the list names (senders, readers, notices), sorted: the same array while the set is
 * the same, so loading another page of the same people does not re-render every name.
 */
function useNamedUsers(
  messages: readonly ChatMessage[],
  readers: ReadonlyMap<number, readonly string[]>,
  notices: readonly CounterNotice[],
): readonly string[] {
  const key = useMemo(() => {
    const ids = new Set<string>();
    for (const m of messages) ids.add(m.senderId);
    for (const list of readers.values()) for (const u of list) ids.add(u);
    for (const n of notices) ids.add(n.senderId);
    return [...ids].sort().join("\n");
  }, [messages, readers, notices]);
  return useMemo(() => (key === "" ? [] : key.split("\n")), [key]);
}

/**
 * "Remove" for server admins in public rooms (private conversations are not moderated: the
 * server cannot read them). Marked removed here at once: an admin reading a room they did not
 * join gets no `message.removed` frame.
 */
function useModeration(id: string): ((message: ChatMessage) => void) | undefined {
  const { api } = useSession();
  const engine = useEngine();
  const me = useMe();
  const conversation = useConversation(id);
  const allowed = me.data?.is_admin === true && conversation.data?.kind === "room";
  const remove = useCallback(
    (message: ChatMessage) => {
      api.removeMessage(message.id).then(
        () => {
          engine.store.markRemoved(id, message.seq);
        },
        (error: unknown) => {
          const { title, detail } = describeError(error);
          window.alert(`${title}. ${detail}`);
        },
      );
    },
    [api, engine, id],
  );
  return allowed ? remove : undefined;
}
