/**
 * Moderation for server admins (shown only to them): disable or enable an account, and the
 * audit log of every moderation action. Messages are removed from the message list itself;
 * private conversations are never moderated (the server cannot read them).
 */
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";

import { describeError } from "@/api/errors";
import { useUserSearch } from "@/api/queries";
import type { AuditEntry } from "@/api/types";
import { useSession } from "@/session/session";

const ACTIONS: Readonly<Record<string, string>> = {
  "message.remove": "removed a message",
  "room.delete": "deleted a room",
  "account.disable": "disabled an account",
  "account.enable": "enabled an account",
};

function describeEntry(e: AuditEntry): string {
  const who = e.actor_user_id === null ? "The operator (command line)" : `Admin ${e.actor_user_id.slice(0, 8)}`;
  const what = ACTIONS[e.action] ?? e.action;
  const name = typeof e.detail?.name === "string" ? ` “${e.detail.name}”` : "";
  return `${who} ${what}${name} (${e.target_kind} ${e.target_id.slice(0, 8)})`;
}

export function ModerationSection() {
  const { api } = useSession();
  const queryClient = useQueryClient();
  const log = useQuery({ queryKey: ["audit-log"], queryFn: () => api.auditLog() });
  const [q, setQ] = useState("");
  const found = useUserSearch(q);
  const [status, setStatus] = useState<string | null>(null);

  const act = (userId: string, name: string, disabled: boolean) => {
    setStatus(null);
    api.setAccountDisabled(userId, disabled).then(
      () => {
        setStatus(disabled ? `${name} is disabled and signed out everywhere.` : `${name} can sign in again.`);
        void queryClient.invalidateQueries({ queryKey: ["audit-log"] });
      },
      (error: unknown) => {
        const { title, detail } = describeError(error);
        setStatus(`${title}. ${detail}`);
      },
    );
  };

  return (
    <section className="settings-section" aria-labelledby="settings-moderation">
      <h2 id="settings-moderation">Moderation</h2>
      <p className="muted small">
        You are a server admin. Remove public-room messages from the message list. Direct messages and private groups
        are end-to-end encrypted: nobody on the server can read or moderate them.
      </p>
      <label>
        Find an account (name or exact email)
        <input
          type="search"
          value={q}
          onChange={(e) => {
            setQ(e.target.value);
          }}
        />
      </label>
      {(found.data ?? []).length > 0 && (
        <ul className="moderation-users">
          {(found.data ?? []).map((u) => (
            <li key={u.user_id}>
              <span>{u.display_name}</span>{" "}
              <button
                type="button"
                className="link"
                aria-label={`Disable ${u.display_name}`}
                onClick={() => {
                  if (window.confirm(`Disable ${u.display_name}? They are signed out everywhere at once.`)) {
                    act(u.user_id, u.display_name, true);
                  }
                }}
              >
                Disable
              </button>{" "}
              <button
                type="button"
                className="link"
                aria-label={`Enable ${u.display_name}`}
                onClick={() => {
                  act(u.user_id, u.display_name, false);
                }}
              >
                Enable
              </button>
            </li>
          ))}
        </ul>
      )}
      {status !== null && <p role="status">{status}</p>}
      <h3>Audit log</h3>
      {log.isError ? (
        <p className="muted">{describeError(log.error).title}</p>
      ) : log.data === undefined ? (
        <p className="muted">Loading…</p>
      ) : log.data.entries.length === 0 ? (
        <p className="muted">No moderation actions yet.</p>
      ) : (
        <ol className="audit-log">
          {log.data.entries.map((e) => (
            <li key={e.id}>
              <time dateTime={new Date(e.created_at).toISOString()}>{new Date(e.created_at).toLocaleString()}</time>{" "}
              {describeEntry(e)}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
