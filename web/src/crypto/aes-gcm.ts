/** AES-256-GCM with a 96-bit nonce and a 128-bit tag (@noble/ciphers). */

import { gcm } from "@noble/ciphers/aes.js";

import { DecryptionFailed, Malformed } from "./errors.ts";
import { expectSize, KEY_SIZE } from "./size.ts";

export const GCM_NONCE_SIZE = 12;
export const GCM_TAG_SIZE = 16;

/** Returns ciphertext ‖ tag. */
export function aesGcmSeal(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Uint8Array {
  expectSize(key, KEY_SIZE, "AES-256-GCM key");
  expectSize(nonce, GCM_NONCE_SIZE, "AES-GCM nonce");
  return gcm(key, nonce, aad).encrypt(plaintext);
}

/** Opens ciphertext ‖ tag; any failure is `DecryptionFailed`. */
export function aesGcmOpen(
  key: Uint8Array,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  aad: Uint8Array,
): Uint8Array {
  expectSize(key, KEY_SIZE, "AES-256-GCM key");
  expectSize(nonce, GCM_NONCE_SIZE, "AES-GCM nonce");
  if (ciphertext.length < GCM_TAG_SIZE) {
    throw new Malformed("ciphertext shorter than the tag");
  }
  try {
    return gcm(key, nonce, aad).decrypt(ciphertext);
  } catch {
    throw new DecryptionFailed("AES-GCM authentication failed");
  }
}
