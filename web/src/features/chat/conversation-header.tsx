/** A conversation's header: back link, name and topic, the member panel toggle, Leave. */
import { Link } from "react-router";

interface HeaderProps {
  readonly name: string;
  readonly topic: string | null | undefined;
  readonly memberCount: number | undefined;
  readonly showMembers: boolean;
  readonly onToggleMembers: () => void;
  /** Absent when there is nothing to leave (not a member, or a direct conversation). */
  readonly onLeave: (() => void) | undefined;
}

export function ConversationHeader({ name, topic, memberCount, showMembers, onToggleMembers, onLeave }: HeaderProps) {
  return (
    <header className="conversation-header">
      <Link to="/" className="back" aria-label="Back to conversations">
        ‹
      </Link>
      <div className="title">
        <h2 id="conversation-title">{name}</h2>
        {topic != null && topic !== "" && <p className="muted small topic">{topic}</p>}
      </div>
      <button
        type="button"
        className="ghost"
        aria-expanded={showMembers}
        aria-controls="member-panel"
        onClick={onToggleMembers}
      >
        {memberCount === undefined ? "Members" : `Members (${String(memberCount)})`}
      </button>
      {onLeave !== undefined && (
        <button type="button" className="ghost" onClick={onLeave}>
          Leave
        </button>
      )}
    </header>
  );
}
