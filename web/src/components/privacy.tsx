/**
 * What the server can read, said plainly: private conversations (DMs, groups) are end-to-end
 * encrypted; public rooms are not, and say so.
 */
import type { ConversationSummary } from "@/api/types";

import "./privacy.css";

type Kind = ConversationSummary["kind"];

export const E2EE_LABEL = "End-to-end encrypted";
export const PUBLIC_LABEL = "Public room — the server can read messages here";

/** A small padlock drawn inline (no emoji font needed), hidden from assistive technology. */
export function LockIcon() {
  return (
    <svg className="lock-icon" viewBox="0 0 16 16" width="12" height="12" aria-hidden="true" focusable="false">
      <path
        fill="currentColor"
        d="M8 1a3.5 3.5 0 0 0-3.5 3.5V7H4a1 1 0 0 0-1 1v6a1 1 0 0 0 1 1h8a1 1 0 0 0 1-1V8a1 1 0 0 0-1-1h-.5V4.5A3.5 3.5 0 0 0 8 1Zm-2 6V4.5a2 2 0 1 1 4 0V7H6Z"
      />
    </svg>
  );
}

export function isPrivate(kind: Kind): boolean {
  return kind === "dm" || kind === "group";
}

/** The header's badge: a lock for private conversations, a plain warning for public rooms. */
export function PrivacyBadge({ kind }: { kind: Kind }) {
  if (isPrivate(kind)) {
    return (
      <span className="privacy-badge e2ee" role="img" aria-label={E2EE_LABEL} title={E2EE_LABEL}>
        <LockIcon />
        <span aria-hidden="true" className="label-long">
          Encrypted
        </span>
      </span>
    );
  }
  return (
    <span className="privacy-badge public" role="img" aria-label={PUBLIC_LABEL} title={PUBLIC_LABEL}>
      <span aria-hidden="true">Public</span>
    </span>
  );
}

/** The line at the top of the message list. */
export function PrivacyLine({ kind }: { kind: Kind }) {
  if (isPrivate(kind)) {
    return (
      <p className="privacy-line e2ee" role="note" aria-label={E2EE_LABEL}>
        <LockIcon />{" "}
        {kind === "dm"
          ? "End-to-end encrypted. Only the two of you can read these messages — not the server."
          : "End-to-end encrypted. Only the group's members can read these messages — not the server."}
      </p>
    );
  }
  return (
    <p className="privacy-line public" role="note" aria-label={PUBLIC_LABEL}>
      {PUBLIC_LABEL}. Anyone can join and read it; don't share secrets.
    </p>
  );
}
