/** The signed-in user's conversations (rooms today; DMs and groups plug in here) with unread badges. */
import { useEffect } from "react";
import { NavLink } from "react-router";

import { useConversations } from "@/api/queries";
import type { ConversationSummary } from "@/api/types";
import { useChat, useEngine } from "@/store/react";

const KIND_ICON: Record<ConversationSummary["kind"], string> = { room: "#", dm: "@", group: "◆" };

export function ConversationList() {
  const engine = useEngine();
  const conversations = useConversations();
  const unread = useChat((s) => s.unread);

  useEffect(() => {
    if (conversations.data === undefined) return;
    engine.store.setUnread(Object.fromEntries(conversations.data.map((c) => [c.id, c.unread])));
  }, [engine, conversations.data]);

  const total = Object.values(unread).reduce((a, b) => a + b, 0);
  useEffect(() => {
    document.title = total > 0 ? `(${String(total)}) Hushroom` : "Hushroom";
  }, [total]);

  if (conversations.isPending) return <p className="muted pad">Loading…</p>;
  if (conversations.isError) return <p className="muted pad">Couldn't load your conversations.</p>;
  if (conversations.data.length === 0) {
    return <p className="muted pad">You haven't joined any room yet. Browse rooms to find one.</p>;
  }
  const sorted = [...conversations.data].sort((a, b) => (a.name ?? "").localeCompare(b.name ?? ""));
  return (
    <ul className="conversation-list" aria-label="Your conversations">
      {sorted.map((c) => {
        const count = unread[c.id] ?? 0;
        return (
          <li key={c.id}>
            <NavLink to={`/c/${c.id}`} className={({ isActive }) => (isActive ? "active" : "")}>
              <span className="kind" aria-hidden="true">
                {KIND_ICON[c.kind]}
              </span>
              <span className="name">{c.name ?? "Direct message"}</span>
              {count > 0 && (
                <span className="badge" aria-label={`${String(count)} unread`}>
                  {count > 99 ? "99+" : count}
                </span>
              )}
            </NavLink>
          </li>
        );
      })}
    </ul>
  );
}
