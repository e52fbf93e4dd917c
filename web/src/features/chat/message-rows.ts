/**
 * What the message list shows, derived from a conversation's messages: day separators, the
 * "New messages" divider, sender groups, notices of messages the server did not deliver or
 * delivered out of order (docs/crypto.md §8.5), and who has read up to which message.
 */
import { dayKey, dayLabel } from "@/features/chat/format";
import type { CounterNotice } from "@/session/message-crypto";
import type { ChatMessage } from "@/store/pipeline";

const GROUP_GAP_MS = 5 * 60_000;

export interface Row {
  readonly kind: "day" | "divider" | "notice" | "message";
  readonly key: string;
  readonly message?: ChatMessage;
  /** For a `notice` row: shown just before the message at its seq. */
  readonly notice?: CounterNotice;
  readonly label?: string;
  readonly startsGroup?: boolean;
}

export function buildRows(
  messages: readonly ChatMessage[],
  firstUnreadSeq: number,
  me: string,
  notices: readonly CounterNotice[] = [],
): Row[] {
  const rows: Row[] = [];
  let prev: ChatMessage | undefined;
  let dividerShown = false;
  const noticesAt = new Map<number, CounterNotice[]>();
  for (const n of notices) noticesAt.set(n.seq, [...(noticesAt.get(n.seq) ?? []), n]);
  for (const m of messages) {
    if (prev === undefined || dayKey(prev.createdAt) !== dayKey(m.createdAt)) {
      rows.push({ kind: "day", key: `day-${dayKey(m.createdAt)}`, label: dayLabel(m.createdAt) });
      prev = undefined;
    }
    if (!dividerShown && m.seq >= firstUnreadSeq && m.senderId !== me) {
      rows.push({ kind: "divider", key: "divider" });
      dividerShown = true;
      prev = undefined;
    }
    for (const n of noticesAt.get(m.seq) ?? []) {
      rows.push({ kind: "notice", key: `notice-${n.kind}-${n.senderDeviceId}-${String(n.seq)}`, notice: n });
      prev = undefined;
    }
    const startsGroup =
      prev === undefined || prev.senderId !== m.senderId || m.createdAt - prev.createdAt > GROUP_GAP_MS;
    rows.push({ kind: "message", key: `m-${String(m.seq)}`, message: m, startsGroup });
    prev = m;
  }
  return rows;
}

/** Who has read up to where: each reader is shown under the last message they have read. */
export function readersBySeq(
  messages: readonly ChatMessage[],
  receipts: Readonly<Record<string, number>>,
  me: string,
): Map<number, string[]> {
  const bySeq = new Map<number, string[]>();
  for (const [user, seq] of Object.entries(receipts)) {
    if (user === me) continue;
    // The last message they have read, not counting their own.
    let at: number | undefined;
    for (const m of messages) if (m.seq <= seq && m.senderId !== user) at = m.seq;
    if (at === undefined) continue;
    const list = bySeq.get(at) ?? [];
    list.push(user);
    bySeq.set(at, list);
  }
  return bySeq;
}
