/** A RandomSource that returns the given byte strings in order (test-only). */
export function scriptedRandom(...chunks: Uint8Array[]): (n: number) => Uint8Array {
  const queue = [...chunks];
  return (n: number) => {
    const next = queue.shift();
    if (next === undefined) return new Uint8Array(n).fill(0x5a);
    if (next.length !== n) throw new Error(`scripted random: wanted ${n} bytes, have ${next.length}`);
    return next;
  };
}
