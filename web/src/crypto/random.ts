/**
 * Randomness is injected: whatever needs random bytes takes a `RandomSource` from the caller (the
 * browser passes `crypto.getRandomValues`, tests pass a seeded source). Nothing here reads a global.
 */

import { shake256 } from "@noble/hashes/sha3.js";

import { concatBytes } from "./encoding.ts";
import { Malformed } from "./errors.ts";

/** Returns `length` fresh uniformly random bytes. Injected; never read from a global here. */
export type RandomSource = (length: number) => Uint8Array;

/** `length` bytes from `random`, checked: a source that returns the wrong count is `Malformed`. */
export function randomBytes(random: RandomSource, length: number): Uint8Array {
  const out = random(length);
  if (out.length !== length) {
    throw new Malformed("random source returned the wrong number of bytes");
  }
  return out;
}

/**
 * Deterministic byte stream for tests and vector generation ONLY (mirror of Python's
 * `SeededRandom`): output `i` is `SHAKE256(seed ‖ u64be(i), n)`.
 */
export function seededRandom(seed: Uint8Array): RandomSource {
  const copy = seed.slice();
  let counter = 0n;
  return (n: number) => {
    const ctr = new Uint8Array(8);
    for (let i = 0; i < 8; i++) ctr[7 - i] = Number((counter >> BigInt(8 * i)) & 0xffn);
    counter += 1n;
    return shake256(concatBytes(copy, ctr), { dkLen: n });
  };
}
