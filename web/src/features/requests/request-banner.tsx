/**
 * "Message request": shown at the top of a conversation the signed-in user has not accepted yet.
 * Until they accept, the other side sees none of their presence, typing or read receipts
 * (docs/decisions/0006), so the banner says so; Decline leaves a DM (ignores a group request),
 * Block also keeps its sender out for good, without telling them.
 */
import { useState } from "react";

import { describeError } from "@/api/errors";
import type { ConsentActions } from "@/features/requests/use-consent";

interface BannerProps {
  readonly kind: "dm" | "group";
  /** The DM's other user (Block is offered for DMs only). */
  readonly partnerId?: string | undefined;
  readonly partnerName?: string | undefined;
  readonly actions: ConsentActions;
  /** After the conversation went away for the user (declined or blocked). */
  readonly onGone: () => void;
}

export function RequestBanner({ kind, partnerId, partnerName, actions, onGone }: BannerProps) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const who = partnerName ?? "Someone";
  const run = async (action: () => Promise<void>, gone: boolean) => {
    setBusy(true);
    setError(null);
    try {
      await action();
      if (gone) onGone();
    } catch (caught) {
      const { title, detail } = describeError(caught);
      setError(`${title}. ${detail}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="request-banner" role="region" aria-label="Message request">
      <div className="request-text">
        <strong>Message request</strong>
        <p className="small">
          {kind === "dm"
            ? `${who} wants to message you. You don't share a conversation yet.`
            : "You were added to this group by someone you don't share a conversation with."}{" "}
          Until you accept, they can't see when you're online, typing or have read their messages.
        </p>
      </div>
      <div className="request-actions">
        <button type="button" className="primary" disabled={busy} onClick={() => void run(actions.accept, false)}>
          Accept
        </button>
        <button type="button" className="ghost" disabled={busy} onClick={() => void run(actions.decline, true)}>
          Decline
        </button>
        {kind === "dm" && partnerId !== undefined && (
          <button
            type="button"
            className="ghost danger"
            disabled={busy}
            onClick={() => void run(() => actions.setBlocked(partnerId, true), true)}
          >
            Block
          </button>
        )}
      </div>
      {error !== null && (
        <p className="error small" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
