/**
 * SHA-256, HMAC-SHA256 and HKDF-SHA256 (RFC 5869), all from @noble/hashes: the one SHA-2 the
 * bundle ships (X-Wing's SHA-3 and X25519 come from the same family, see `xwing.ts`).
 */

import { hkdf } from "@noble/hashes/hkdf.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";

import { Malformed } from "./errors.ts";

export function sha256(data: Uint8Array): Uint8Array {
  return nobleSha256(data);
}

export function hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
  return hmac(nobleSha256, key, data);
}

/** HKDF-SHA256 (RFC 5869). An empty salt means HashLen zero bytes, as the RFC says. */
export function hkdfSha256(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  length: number,
): Uint8Array {
  if (!Number.isInteger(length) || length < 1 || length > 255 * 32) {
    throw new Malformed("invalid HKDF output length");
  }
  return hkdf(nobleSha256, ikm, salt, info, length);
}
