/** Byte-length checks shared by the primitives (Python's `require_size`). */

import { Malformed } from "./errors.ts";

/** Symmetric keys, seeds and Ed25519 public keys are all 32 bytes. */
export const KEY_SIZE = 32;

/** Throws `Malformed` unless `bytes` is exactly `length` bytes. */
export function expectSize(bytes: Uint8Array, length: number, what: string): void {
  if (bytes.length !== length) {
    throw new Malformed(`${what} must be ${length} bytes, got ${bytes.length}`);
  }
}

/** Python's `require_size`: a copy of `data`, or `Malformed` if it is not `size` bytes. */
export function requireSize(data: Uint8Array, size: number, what: string): Uint8Array {
  expectSize(data, size, what);
  return data.slice();
}
