/** Field facts shared by the Ed25519 and X25519 checks (docs/crypto.md §4.1, §4.2). */

/** The field prime 2^255 − 19 (literals here: nothing is computed at import). */
export const P25519 =
  57896044618658097711785492504343953926634992332820282019728792003956564819949n;

/** A little-endian byte string as an unsigned integer. */
export function intLe(bytes: Uint8Array): bigint {
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i] ?? 0);
  return v;
}
