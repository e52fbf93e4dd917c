/**
 * The counter notices of a conversation (docs/crypto.md §8.5), in a module of their own so the
 * conversation view can compare them without loading the message crypto.
 */

/**
 * What a conversation shows about one sender device's counters (docs/crypto.md §8.5), just
 * before the message at `seq`: `missing` counters the server never delivered there (`count` of
 * them), or a run of `count` messages that arrived after a later one of the same device
 * (`reordered`).
 */
export interface CounterNotice {
  readonly kind: "missing" | "reordered";
  readonly conversationId: string;
  readonly seq: number;
  /** From the signed header. */
  readonly senderId: string;
  readonly senderDeviceId: string;
  readonly count: number;
}

/** Same notices in the same order (a render can be skipped). */
export function sameNotices(a: readonly CounterNotice[], b: readonly CounterNotice[]): boolean {
  return (
    a.length === b.length &&
    a.every((n, i) => {
      const m = b[i];
      return (
        m !== undefined &&
        n.kind === m.kind &&
        n.seq === m.seq &&
        n.count === m.count &&
        n.senderDeviceId === m.senderDeviceId &&
        n.senderId === m.senderId
      );
    })
  );
}
