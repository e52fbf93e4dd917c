/** Dates and times for the conversation view, in the user's locale. */

export function dayKey(ms: number): string {
  const d = new Date(ms);
  return `${String(d.getFullYear())}-${String(d.getMonth())}-${String(d.getDate())}`;
}

export function dayLabel(ms: number, now = Date.now()): string {
  const key = dayKey(ms);
  if (key === dayKey(now)) return "Today";
  if (key === dayKey(now - 86_400_000)) return "Yesterday";
  return new Date(ms).toLocaleDateString(undefined, {
    weekday: "long",
    month: "long",
    day: "numeric",
    year: new Date(ms).getFullYear() === new Date(now).getFullYear() ? undefined : "numeric",
  });
}

export function timeLabel(ms: number): string {
  return new Date(ms).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

export function lastSeenLabel(ms: number | null, now = Date.now()): string {
  if (ms === null) return "offline";
  const minutes = Math.round((now - ms) / 60_000);
  if (minutes < 1) return "last seen just now";
  if (minutes < 60) return `last seen ${String(minutes)} min ago`;
  if (dayKey(ms) === dayKey(now)) return `last seen today at ${timeLabel(ms)}`;
  return `last seen ${new Date(ms).toLocaleDateString()}`;
}

export function typingText(names: readonly string[]): string {
  if (names.length === 0) return "";
  if (names.length === 1) return `${names[0] ?? ""} is typing…`;
  if (names.length === 2) return `${names[0] ?? ""} and ${names[1] ?? ""} are typing…`;
  return "Several people are typing…";
}
