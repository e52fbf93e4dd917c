/**
 * A notice between messages of a private conversation, where the signed counters of a sender's
 * device show that the server did not deliver some of its messages, or delivered them out of
 * order (docs/crypto.md §8.5, `CounterLedger`). Said plainly, without alarm: an honest server
 * produces one only when the sender's own client gave up on a message (see message-crypto.ts).
 */
import { useSyncExternalStore } from "react";

import { useConversation } from "@/api/queries";
import { UserName } from "@/features/chat/user-name";
import type { CounterNotice } from "@/session/message-crypto";
import { useE2ee } from "@/session/use-e2ee";

import "@/features/chat/message-notice.css";

const NONE: readonly CounterNotice[] = [];
const noop = () => () => undefined;

/** The conversation's notices (none for a public room, or before the encryption is loaded). */
export function useCounterNotices(id: string): readonly CounterNotice[] {
  const kind = useConversation(id).data?.kind;
  const crypto = useE2ee(kind === "dm" || kind === "group")?.crypto ?? null;
  return useSyncExternalStore(
    crypto?.subscribe ?? noop,
    () => crypto?.notices(id) ?? NONE,
    () => NONE,
  );
}

export function CounterNoticeRow({ notice }: { notice: CounterNotice }) {
  const from = <UserName userId={notice.senderId} />;
  return (
    <p
      className="counter-notice small"
      role="note"
      data-testid={notice.kind === "missing" ? "missing-messages-notice" : "reordered-messages-notice"}
      data-seq={notice.seq}
    >
      {notice.kind === "missing" ? (
        <>
          {notice.count === 1 ? "1 message" : `${String(notice.count)} messages`} from {from} could not be delivered by
          the server
        </>
      ) : (
        <>Messages from {from} arrived out of order</>
      )}
    </p>
  );
}
