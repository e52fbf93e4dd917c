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

/**
 * One formatter for every bubble, and each minute's label made once: `toLocaleTimeString`
 * builds a new `Intl.DateTimeFormat` per call (a third of a millisecond: a third of a second for
 * 1,000 history messages), and messages come in bursts within the same minute.
 */
let timeFormat: Intl.DateTimeFormat | null = null;
const timeLabels = new Map<number, string>();

export function timeLabel(ms: number): string {
  // Time zones are offset by whole minutes: one label per minute since the epoch.
  const minute = Math.floor(ms / 60_000);
  let label = timeLabels.get(minute);
  if (label === undefined) {
    timeFormat ??= new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
    label = timeFormat.format(ms);
    if (timeLabels.size >= 2000) timeLabels.clear();
    timeLabels.set(minute, label);
  }
  return label;
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
