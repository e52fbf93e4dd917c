/**
 * Presence as this feature shows it (a dot, and words): what the server shares about people you
 * talk to. People you don't share a conversation with yet have no shared status.
 */
import { useChat } from "@/store/react";

function lastSeen(ms: number | null, now = Date.now()): string {
  if (ms === null) return "offline";
  const minutes = Math.round((now - ms) / 60_000);
  if (minutes < 1) return "last seen just now";
  if (minutes < 60) return `last seen ${String(minutes)} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `last seen ${String(hours)} h ago`;
  return `last seen ${new Date(ms).toLocaleDateString()}`;
}

export function usePresenceWords(userId: string): { status: string; words: string } {
  const p = useChat((s) => s.presence[userId]);
  if (p === undefined) return { status: "unknown", words: "status not shared yet" };
  if (p.status === "online" || p.status === "away") return { status: p.status, words: p.status };
  return { status: "offline", words: lastSeen(p.lastSeen) };
}

export function Presence({ userId }: { userId: string }) {
  const { status, words } = usePresenceWords(userId);
  return <span className={`dot ${status}`} role="img" aria-label={words} title={words} />;
}

export function PresenceWords({ userId }: { userId: string }) {
  const { status, words } = usePresenceWords(userId);
  if (status === "unknown") return null;
  return <span className="muted small">{words}</span>;
}
