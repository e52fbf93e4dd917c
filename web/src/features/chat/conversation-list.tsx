/**
 * The signed-in user's conversations (rooms, DMs, groups) with unread badges. A DM is named
 * after the partner, with the partner's presence (watched while the list shows); private ones
 * carry a lock.
 */
import { useEffect } from "react";
import { NavLink } from "react-router";

import { useConversations, useDmPartners, type DmPartner } from "@/api/queries";
import type { ConversationSummary } from "@/api/types";
import { LockIcon } from "@/components/privacy";
import { PresenceDot } from "@/features/chat/presence-dot";
import { useChat, useEngine } from "@/store/react";
import { useWatchPresence } from "@/store/use-watch-presence";

const KIND_ICON: Record<ConversationSummary["kind"], string> = { room: "#", dm: "@", group: "◆" };
const KIND_WORD: Record<ConversationSummary["kind"], string> = {
  room: "public room",
  dm: "direct message, end-to-end encrypted",
  group: "group, end-to-end encrypted",
};

function displayName(c: ConversationSummary, partner: DmPartner | undefined): string {
  if (c.kind === "dm") return partner?.name ?? "…";
  if (c.name != null && c.name !== "") return c.name;
  return c.kind === "group" ? "Unnamed group" : "…";
}

export function ConversationList() {
  const engine = useEngine();
  const conversations = useConversations();
  const unread = useChat((s) => s.unread);
  const partners = useDmPartners(conversations.data, engine.userId);
  // The partners' dots need a snapshot on load (changes are pushed to DM partners, the current
  // state is not). The list is the oldest view, so the open conversation's panels come first
  // within the watch's budget; partners in the order shown.
  useWatchPresence(
    [...partners.values()].sort((a, b) => (a.name ?? "").localeCompare(b.name ?? "")).map((p) => p.userId),
  );

  useEffect(() => {
    if (conversations.data === undefined) return;
    engine.store.setUnread(Object.fromEntries(conversations.data.map((c) => [c.id, c.unread])));
  }, [engine, conversations.data]);

  const total = Object.values(unread).reduce((a, b) => a + b, 0);
  useEffect(() => {
    document.title = total > 0 ? `(${String(total)}) Hushroom` : "Hushroom";
  }, [total]);

  return <Conversations conversations={conversations} unread={unread} partners={partners} />;
}

interface ConversationsProps {
  readonly conversations: ReturnType<typeof useConversations>;
  readonly unread: Readonly<Record<string, number>>;
  readonly partners: ReadonlyMap<string, DmPartner>;
}

function Conversations({ conversations, unread, partners }: ConversationsProps) {
  if (conversations.isPending) return <p className="muted pad">Loading…</p>;
  if (conversations.isError) return <p className="muted pad">Couldn't load your conversations.</p>;
  if (conversations.data.length === 0) {
    return <p className="muted pad">No conversations yet. Start a message, create a group, or browse rooms.</p>;
  }
  const named = conversations.data.map((c) => ({ c, name: displayName(c, partners.get(c.id)) }));
  named.sort((a, b) => a.name.localeCompare(b.name));
  return (
    <ul className="conversation-list" aria-label="Your conversations">
      {named.map(({ c, name }) => {
        const count = unread[c.id] ?? 0;
        const partner = partners.get(c.id);
        return (
          <li key={c.id}>
            <NavLink
              to={`/c/${c.id}`}
              className={({ isActive }) => (isActive ? "active" : "")}
              title={`${name} — ${KIND_WORD[c.kind]}`}
            >
              {c.kind === "dm" && partner !== undefined ? (
                <span className="kind">
                  <PresenceDot userId={partner.userId} />
                </span>
              ) : (
                <span className="kind" aria-hidden="true">
                  {KIND_ICON[c.kind]}
                </span>
              )}
              <span className="name">{name}</span>
              {c.kind !== "room" && (
                <span className="muted small" role="img" aria-label="end-to-end encrypted">
                  <LockIcon />
                </span>
              )}
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
