import { lastSeenLabel } from "@/features/chat/format";
import { useChat } from "@/store/react";

export function PresenceDot({ userId }: { userId: string }) {
  const p = useChat((s) => s.presence[userId]);
  const status = p?.status ?? "unknown";
  const label = status === "online" ? "online" : status === "away" ? "away" : lastSeenLabel(p?.lastSeen ?? null);
  return <span className={`dot ${status}`} role="img" aria-label={label} title={label} />;
}

export function PresenceText({ userId }: { userId: string }) {
  const p = useChat((s) => s.presence[userId]);
  if (p === undefined) return null;
  const text = p.status === "online" ? "online" : p.status === "away" ? "away" : lastSeenLabel(p.lastSeen);
  return <span className="muted small">{text}</span>;
}
