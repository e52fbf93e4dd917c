/**
 * Safety numbers: 60 digits + QR payload from two identity keys (docs/crypto.md §9; mirror of
 * `hushroom.crypto.safety_number`).
 */

import { sha512 } from "@noble/hashes/sha2.js";

import { compareBytes, encode } from "./encoding.ts";
import { Malformed } from "./errors.ts";
import type { IdentityPublicKey } from "./identity.ts";

export const LABEL = "hushroom/v1/safety-number";
export const QR_LABEL = "hushroom/v1/safety-qr";
export const ITERATIONS = 5200;
export const FINGERPRINT_BYTES = 30;

/** Iterated SHA-512 of one identity key, truncated to 30 bytes. */
export function fingerprint(key: IdentityPublicKey): Uint8Array {
  const pub = key.fingerprintInput();
  let digest = sha512(encode(LABEL, 1, [pub]));
  const buf = new Uint8Array(64 + pub.length);
  buf.set(pub, 64);
  for (let i = 0; i < ITERATIONS - 1; i++) {
    buf.set(digest, 0);
    digest = sha512(buf);
  }
  return digest.slice(0, FINGERPRINT_BYTES);
}

function digits(fp: Uint8Array): string {
  let out = "";
  for (let i = 0; i < fp.length; i += 5) {
    let n = 0;
    for (const b of fp.subarray(i, i + 5)) n = n * 256 + b;
    out += String(n % 100000).padStart(5, "0");
  }
  return out;
}

export class SafetyNumber {
  constructor(
    readonly digits: string,
    readonly qrPayload: Uint8Array,
  ) {}

  /** 12 groups of 5 digits for display. */
  groups(): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.digits.length; i += 5) out.push(this.digits.slice(i, i + 5));
    return out;
  }
}

/** Order-independent: `safetyNumber(a, b)` equals `safetyNumber(b, a)`. */
export function safetyNumber(a: IdentityPublicKey, b: IdentityPublicKey): SafetyNumber {
  const order = compareBytes(a.key, b.key);
  if (order === 0) {
    throw new Malformed("a safety number needs two different identity keys");
  }
  const [low, high] = order < 0 ? [a, b] : [b, a];
  const fpLow = fingerprint(low);
  const fpHigh = fingerprint(high);
  return new SafetyNumber(
    digits(fpLow) + digits(fpHigh),
    encode(QR_LABEL, 1, [fpLow, fpHigh]),
  );
}

