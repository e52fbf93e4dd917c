/**
 * One message: a confirmed bubble (memoised, so a send, an ack or a receipt re-renders one row)
 * and a pending one from the outbox (sending, or not sent with Retry and Delete).
 * User text is rendered as text (React escapes it); never as HTML.
 */
import { memo } from "react";

import { timeLabel } from "@/features/chat/format";
import { UserName } from "@/features/chat/user-name";
import { type ChatMessage, REMOVED_TEXT } from "@/store/pipeline";
import { useEngine } from "@/store/react";
import type { OutboxEntry } from "@/transport/outbox";

interface BubbleProps {
  message: ChatMessage;
  own: boolean;
  startsGroup: boolean;
  readers: readonly string[];
  /** Set for a server admin on a public-room message: offers "Remove". */
  onRemove?: ((message: ChatMessage) => void) | undefined;
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
    a.onRemove === b.onRemove &&
    a.readers.length === b.readers.length &&
    a.readers.every((user, i) => user === b.readers[i])
  );
}

export const MessageBubble = memo(function MessageBubble({ message, own, startsGroup, readers, onRemove }: BubbleProps) {
  return (
    <div className={`msg ${own ? "own" : "other"} ${startsGroup ? "group-start" : ""}`} data-key={`m-${String(message.seq)}`} data-seq={message.seq}>
      {startsGroup && !own && (
        <div className="sender">
          <UserName userId={message.senderId} />
        </div>
      )}
      <div className={message.failure === undefined ? "bubble" : "bubble undecryptable"}>
        {message.removed === true ? (
          // Muted and italic, but still read out: a gap in the talk deserves an explanation.
          <p className="text muted removed" data-testid="message-removed" role="note">
            <em>{REMOVED_TEXT}</em>
          </p>
        ) : message.failure === undefined ? (
          <p className="text">{message.text}</p>
        ) : (
          <p className="text" data-testid="message-failure" role="note">
            <span aria-hidden="true">⚠ </span>
            {message.failure}
          </p>
        )}
        <span className="meta">
          <time dateTime={new Date(message.createdAt).toISOString()}>{timeLabel(message.createdAt)}</time>
          {own && <span className="state"> · Sent</span>}
          {onRemove !== undefined && message.removed !== true && (
            <>
              {" · "}
              <button
                type="button"
                className="link"
                aria-label="Remove this message for everyone (moderator)"
                onClick={() => {
                  if (window.confirm("Remove this message for everyone? Its text will be gone for good.")) onRemove(message);
                }}
              >
                Remove
              </button>
            </>
          )}
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

/** A pending bubble's `data-key` (a confirmed one's is its row key, `m-<seq>`). */
export function pendingKey(clientMsgId: string): string {
  return `p-${clientMsgId}`;
}

export function PendingBubble({ entry }: { entry: OutboxEntry }) {
  const engine = useEngine();
  return (
    <div className="msg own pending" data-key={pendingKey(entry.clientMsgId)}>
      <div className="bubble">
        <p className="text">{entry.body}</p>
        <span className="meta">
          {entry.failed ? (
            <>
              <span className="state failed">Not sent</span>
              {entry.reason !== undefined && <span className="state failed reason"> · {entry.reason}</span>}{" "}
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
