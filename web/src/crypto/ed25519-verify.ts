/**
 * Strict Ed25519 verification (docs/crypto.md §4.1, rules 1–6) and the public-key checks (rules
 * 3–5). Signing is in `ed25519-sign.ts`.
 */

import { ed25519 } from "@noble/curves/ed25519.js";
import { sha512 } from "@noble/hashes/sha2.js";

import { intLe, P25519 } from "./curve25519.ts";
import { concatBytes, toHex } from "./encoding.ts";
import { InvalidPublicKey, InvalidSignature } from "./errors.ts";

export const ED25519_PUBLIC_KEY_SIZE = 32;
export const ED25519_SIGNATURE_SIZE = 64;

/** Order of the Ed25519 base point, 2^252 + 27742317777372353535851937790883648493. */
export const ED25519_L =
  7237005577332262213973186563042994240857116359379907606001950938285454250989n;
/** d = −121665/121666 mod p (a literal: nothing is computed at import; a test re-derives it). */
export const ED25519_D =
  37095705934669439343138083508754565189542113879843219016388785533085940283555n;

/** The 8 canonical encodings of the small-order points (docs/crypto.md §4.1 rule 4). */
const SMALL_ORDER_ENCODINGS = [
  "0100000000000000000000000000000000000000000000000000000000000000",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0000000000000000000000000000000000000000000000000000000000000080",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
];

/** Rule 3 of §4.1: y < p, and no sign bit on the x = 0 points (y = ±1). */
function isCanonicalEdwardsEncoding(enc: Uint8Array): boolean {
  const y = intLe(enc) & ((1n << 255n) - 1n);
  const sign = (enc[31] ?? 0) >> 7;
  if (y >= P25519) return false;
  return !(sign === 1 && (y === 1n || y === P25519 - 1n));
}

/**
 * Rule 5 of §4.1: u = (y² − 1)/(d·y² + 1) is a square mod p (Euler's criterion). The
 * denominator is never 0 (d is not a square), and u is a square iff num·den is, which saves an
 * inversion.
 */
function isOnCurveEncoding(enc: Uint8Array): boolean {
  const Fp = ed25519.Point.Fp;
  const y = intLe(enc) & ((1n << 255n) - 1n);
  if (y >= P25519) return false;
  const y2 = Fp.sqr(y);
  const product = Fp.mul(Fp.sub(y2, 1n), Fp.add(Fp.mul(ED25519_D, y2), 1n));
  const euler = Fp.pow(product, (P25519 - 1n) / 2n);
  return euler === 0n || euler === 1n;
}

/** Rule 4 of §4.1: not one of the 8 small-order encodings. */
function isSmallOrderEncoding(enc: Uint8Array): boolean {
  return SMALL_ORDER_ENCODINGS.includes(toHex(enc));
}

type EdwardsPoint = ReturnType<typeof ed25519.Point.fromBytes>;

/**
 * Rule 6 of docs/crypto.md §4.1 (the cofactorless equation) computed outside this module, for
 * speed: WebCrypto Ed25519 in Chromium (BoringSSL) and Node (OpenSSL) is ~10× faster than
 * BigInt arithmetic. It only ever runs after rules 1–5 passed here. Must resolve to `true`
 * exactly when `[S]B == R + [k]A`.
 */
export type CofactorlessVerify = (
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
) => Promise<boolean>;

/**
 * Precompute a verifier's wNAF table from this many verifications on (≈30 ms once, then ~6×
 * faster). Not sooner: a key checked only a few times (each member's identity key while a big
 * group's key set is built) would pay the table without ever earning it back; a sender's device
 * key, checked once per message, reaches it within a page of history.
 */
const PRECOMPUTE_AFTER = 8;
const PRECOMPUTE_WINDOW = 6;

/**
 * Strict Ed25519 verification under one public key (docs/crypto.md §4.1, rules 1–6).
 *
 * Rule 6 is the cofactorless equation `[S]B == R + [k]A`, checked here by hand: noble's
 * `ed25519.verify` is cofactored even with `zip215: false`, which accepts signatures with a
 * torsion component that OpenSSL (the Python side) rejects. The decoded key is kept, and from
 * the second verification on its multiples are precomputed, so a certificate that verifies many
 * messages (a history resync) pays the point decoding and table once.
 */
export class Ed25519Verifier {
  readonly publicKey: Uint8Array;
  #point: EdwardsPoint | null | undefined;
  #uses = 0;

  constructor(publicKey: Uint8Array) {
    this.publicKey = publicKey.slice();
  }

  /** Rules 3–5 for A, then decoding; `null` if A is not acceptable. */
  #publicPoint(): EdwardsPoint | null {
    if (this.#point !== undefined) return this.#point;
    const a = this.publicKey;
    let point: EdwardsPoint | null = null;
    if (
      a.length === ED25519_PUBLIC_KEY_SIZE &&
      isCanonicalEdwardsEncoding(a) &&
      !isSmallOrderEncoding(a) &&
      isOnCurveEncoding(a)
    ) {
      try {
        point = ed25519.Point.fromBytes(a, false);
      } catch {
        point = null;
      }
    }
    this.#point = point;
    return point;
  }

  /** Rules 1–5 of §4.1; the decoded A and R when they hold, else `null`. */
  #checkRules1To5(signature: Uint8Array): { a: EdwardsPoint; r: Uint8Array; s: bigint } | null {
    if (this.publicKey.length !== ED25519_PUBLIC_KEY_SIZE) return null;
    if (signature.length !== ED25519_SIGNATURE_SIZE) return null;
    const r = signature.subarray(0, 32);
    const s = intLe(signature.subarray(32, 64));
    if (s >= ED25519_L) return null;
    if (!isCanonicalEdwardsEncoding(r) || isSmallOrderEncoding(r)) return null;
    const a = this.#publicPoint();
    if (a === null) return null;
    return { a, r, s };
  }

  isValid(message: Uint8Array, signature: Uint8Array): boolean {
    const checked = this.#checkRules1To5(signature);
    if (checked === null) return false;
    const { a, r: rBytes, s } = checked;
    if (++this.#uses === PRECOMPUTE_AFTER) a.precompute(PRECOMPUTE_WINDOW, false);
    try {
      const r = ed25519.Point.fromBytes(rBytes, false);
      const k = intLe(sha512(concatBytes(rBytes, this.publicKey, message))) % ED25519_L;
      return ed25519.Point.BASE.multiplyUnsafe(s).equals(r.add(a.multiplyUnsafe(k)));
    } catch {
      return false;
    }
  }

  /**
   * Rules 1–5 here, rule 6 by `cofactorless` (e.g. WebCrypto Ed25519, whose BoringSSL/OpenSSL
   * verification is the cofactorless equation) — or by hand when none is given.
   */
  async isValidAsync(
    message: Uint8Array,
    signature: Uint8Array,
    cofactorless?: CofactorlessVerify,
  ): Promise<boolean> {
    if (cofactorless === undefined) return this.isValid(message, signature);
    if (this.#checkRules1To5(signature) === null) return false;
    try {
      return await cofactorless(this.publicKey, message, signature);
    } catch {
      return false;
    }
  }

  /** Throws `InvalidSignature` unless every rule of §4.1 holds. */
  verify(message: Uint8Array, signature: Uint8Array): void {
    if (!this.isValid(message, signature)) {
      throw new InvalidSignature("signature does not verify");
    }
  }

  /** `verify` with rule 6 delegated to `cofactorless` (see `isValidAsync`). */
  async verifyAsync(
    message: Uint8Array,
    signature: Uint8Array,
    cofactorless?: CofactorlessVerify,
  ): Promise<void> {
    if (!(await this.isValidAsync(message, signature, cofactorless))) {
      throw new InvalidSignature("signature does not verify");
    }
  }
}

/** Strict verification (docs/crypto.md §4.1, rules 1–6 in order) as a boolean. */
export function ed25519IsValid(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  return new Ed25519Verifier(publicKey).isValid(message, signature);
}

/** Strict verification; throws `InvalidSignature` unless every rule of §4.1 holds. */
export function ed25519Verify(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): void {
  if (!ed25519IsValid(publicKey, message, signature)) {
    throw new InvalidSignature("signature does not verify");
  }
}

/** Boolean form of `checkEd25519PublicKey` (rules 3–5 of §4.1; Python's `ed25519_public_key_ok`). */
export function ed25519PublicKeyOk(publicKey: Uint8Array): boolean {
  if (publicKey.length !== ED25519_PUBLIC_KEY_SIZE) return false;
  if (!isCanonicalEdwardsEncoding(publicKey) || isSmallOrderEncoding(publicKey)) return false;
  if (!isOnCurveEncoding(publicKey)) return false;
  try {
    ed25519.Point.fromBytes(publicKey, false);
  } catch {
    return false;
  }
  return true;
}

/** A device or identity public key: 32 bytes, canonical, not small order, on the curve (§4.1 rules 3–5). */
export function checkEd25519PublicKey(publicKey: Uint8Array): void {
  if (!ed25519PublicKeyOk(publicKey)) {
    throw new InvalidPublicKey("Ed25519 public key is malformed, non-canonical or small order");
  }
}
