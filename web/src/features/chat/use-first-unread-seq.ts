/** Where the "New messages" divider goes in a conversation: fixed when the conversation opens. */
import { useState } from "react";

import { useEngine } from "@/store/react";

/**
 * The conversation list is fetched once and goes stale while other rooms are open (its `unread`
 * stays 0 for a room that got messages meanwhile, its `last_read_seq` stays behind what this tab
 * read), so the live unread count and read position, taken before opening marks everything
 * read, come first. Infinity (no divider) when nothing was unread; null until the list is known.
 */
export function useFirstUnreadSeq(
  id: string,
  summary: { readonly unread: number; readonly last_read_seq: number } | undefined,
): number | null {
  const engine = useEngine();
  const [atOpen] = useState(() => ({
    unread: engine.store.getState().unread[id],
    readTo: engine.store.conversation(id).receipts[engine.userId] ?? 0,
  }));
  const [firstUnreadSeq, setFirstUnreadSeq] = useState<number | null>(null);
  const lastReadAtOpen = summary?.last_read_seq;
  const unreadAtOpen = atOpen.unread ?? summary?.unread;
  if (firstUnreadSeq === null && lastReadAtOpen !== undefined && unreadAtOpen !== undefined) {
    setFirstUnreadSeq(
      unreadAtOpen > 0 ? Math.max(lastReadAtOpen, atOpen.readTo) + 1 : Number.POSITIVE_INFINITY,
    );
  }
  return firstUnreadSeq;
}
