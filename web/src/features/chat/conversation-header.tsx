/**
 * A conversation's header: back link, name (a DM: the partner's, with their presence) and topic,
 * what the server can read (a lock for end-to-end encrypted conversations, a plain warning for
 * public rooms), the member panel or group info toggle, Leave (rooms).
 */
import { Link } from "react-router";

import type { ConversationSummary } from "@/api/types";
import { PresenceDot, PresenceText } from "@/features/chat/presence-dot";
import { PrivacyBadge } from "@/components/privacy";
import { useWatchPresence } from "@/store/use-watch-presence";

interface HeaderProps {
  readonly name: string;
  readonly topic: string | null | undefined;
  /** Undefined while the conversation loads. */
  readonly kind: ConversationSummary["kind"] | undefined;
  /** A DM's other user, for the presence beside the name. */
  readonly partnerId?: string | undefined;
  readonly memberCount: number | undefined;
  readonly showMembers: boolean;
  readonly onToggleMembers: () => void;
  /** Absent when there is nothing to leave (not a member, or a direct conversation). */
  readonly onLeave: (() => void) | undefined;
}

export function ConversationHeader({
  name,
  topic,
  kind,
  partnerId,
  memberCount,
  showMembers,
  onToggleMembers,
  onLeave,
}: HeaderProps) {
  // Pushed once both accepted; watching also brings the partner's state when the DM opens.
  useWatchPresence(partnerId === undefined ? undefined : [partnerId]);
  const group = kind === "group";
  const toggle = group
    ? "Group info"
    : memberCount === undefined
      ? "Members"
      : `Members (${String(memberCount)})`;
  return (
    <header className="conversation-header">
      <Link to="/" className="back" aria-label="Back to conversations">
        ‹
      </Link>
      <div className="title">
        <div className="title-line">
          {partnerId !== undefined && <PresenceDot userId={partnerId} />}
          <h2 id="conversation-title">{name}</h2>
          {kind !== undefined && <PrivacyBadge kind={kind} />}
        </div>
        {partnerId !== undefined && (
          <p className="muted small topic">
            <PresenceText userId={partnerId} />
          </p>
        )}
        {topic != null && topic !== "" && <p className="muted small topic">{topic}</p>}
      </div>
      {kind !== "dm" && (
        <button
          type="button"
          className="ghost"
          aria-expanded={showMembers}
          aria-controls={group ? "group-panel" : "member-panel"}
          onClick={onToggleMembers}
        >
          {group && memberCount !== undefined ? `${toggle} (${String(memberCount)})` : toggle}
        </button>
      )}
      {onLeave !== undefined && (
        <button type="button" className="ghost" onClick={onLeave}>
          Leave
        </button>
      )}
    </header>
  );
}
