/** X25519 (RFC 7748) with low-order peers refused, and the public-key check of docs/crypto.md §4.2. */

import { x25519 as nobleX25519 } from "@noble/curves/ed25519.js";

import { intLe, P25519 } from "./curve25519.ts";
import { bytesEqual } from "./encoding.ts";
import { InvalidPublicKey } from "./errors.ts";
import { expectSize } from "./size.ts";

export const X25519_KEY_SIZE = 32;

/** X25519 with the all-zero output (low-order peer key) rejected as `InvalidPublicKey`. */
export function x25519(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  expectSize(privateKey, X25519_KEY_SIZE, "X25519 private key");
  if (publicKey.length !== X25519_KEY_SIZE) {
    throw new InvalidPublicKey("X25519 public key must be 32 bytes");
  }
  let shared: Uint8Array;
  try {
    shared = nobleX25519.getSharedSecret(privateKey, publicKey);
  } catch {
    throw new InvalidPublicKey("X25519 public key has small order");
  }
  if (bytesEqual(shared, new Uint8Array(X25519_KEY_SIZE))) {
    throw new InvalidPublicKey("X25519 public key has small order");
  }
  return shared;
}

/** Canonical (u < p) and not of small order (Python's `x25519_public_key_ok`). */
export function x25519PublicKeyOk(publicKey: Uint8Array): boolean {
  try {
    checkX25519PublicKey(publicKey);
    return true;
  } catch {
    return false;
  }
}

/** §4.2: an X25519 public key must be canonical (< p) and not of small order. */
export function checkX25519PublicKey(publicKey: Uint8Array): void {
  if (publicKey.length !== X25519_KEY_SIZE) {
    throw new InvalidPublicKey("X25519 public key must be 32 bytes");
  }
  if (intLe(publicKey) >= P25519) {
    throw new InvalidPublicKey("X25519 public key is not canonical");
  }
  // Any fixed scalar will do: a small-order key gives the all-zero output for every scalar.
  x25519(new Uint8Array(X25519_KEY_SIZE).fill(0x01), publicKey);
}
