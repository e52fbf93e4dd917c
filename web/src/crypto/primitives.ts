/**
 * Thin wrappers over the crypto libraries (mirror of `hushroom.crypto.primitives`).
 *
 * Pure: no ambient randomness or clock. Whatever needs random bytes takes a `RandomSource`
 * from the caller (the browser passes `crypto.getRandomValues`, tests pass a seeded source).
 */

import { Aes256Gcm, CipherSuite, HkdfSha256 } from "@hpke/core";
import { XWing } from "@hpke/hybridkem-x-wing";
import { gcm } from "@noble/ciphers/aes.js";
import { ed25519, x25519 as nobleX25519 } from "@noble/curves/ed25519.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 as nobleSha256, sha512 } from "@noble/hashes/sha2.js";
import { shake256 } from "@noble/hashes/sha3.js";

import { bytesEqual, concatBytes, toHex } from "./encoding.ts";
import { DecryptionFailed, InvalidPublicKey, InvalidSignature, Malformed } from "./errors.ts";

/** Returns `length` fresh uniformly random bytes. Injected; never read from a global here. */
export type RandomSource = (length: number) => Uint8Array;

/** Symmetric keys, seeds and Ed25519 public keys are all 32 bytes. */
export const KEY_SIZE = 32;
export const GCM_NONCE_SIZE = 12;
export const GCM_TAG_SIZE = 16;
export const ED25519_PUBLIC_KEY_SIZE = 32;
export const ED25519_SEED_SIZE = 32;
export const ED25519_SIGNATURE_SIZE = 64;
export const X25519_KEY_SIZE = 32;
export const XWING_SEED_SIZE = 32;
export const XWING_PUBLIC_KEY_SIZE = 1216;
export const XWING_ENC_SIZE = 1120;
/** Randomness consumed by one X-Wing encapsulation: 32 B ML-KEM `m` ‖ 32 B X25519 ephemeral. */
export const XWING_ENCAPS_RANDOMNESS_SIZE = 64;

export function randomBytes(random: RandomSource, length: number): Uint8Array {
  const out = random(length);
  if (out.length !== length) {
    throw new Malformed("random source returned the wrong number of bytes");
  }
  return out;
}

function expectLength(bytes: Uint8Array, length: number, what: string): void {
  if (bytes.length !== length) {
    throw new Malformed(`${what} must be ${length} bytes, got ${bytes.length}`);
  }
}

/** Python's `require_size`: a copy of `data`, or `Malformed` if it is not `size` bytes. */
export function requireSize(data: Uint8Array, size: number, what: string): Uint8Array {
  expectLength(data, size, what);
  return data.slice();
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

export const INSPECT = Symbol.for("nodejs.util.inspect.custom");

/** Secret bytes that never show in `toString`, `JSON.stringify` or `util.inspect`. */
export class Secret {
  readonly #value: Uint8Array;

  constructor(value: Uint8Array) {
    this.#value = value.slice();
  }

  /** The secret bytes. Call only where they are used. */
  reveal(): Uint8Array {
    return this.#value;
  }

  get length(): number {
    return this.#value.length;
  }

  equals(other: Secret): boolean {
    return bytesEqual(this.#value, other.#value);
  }

  toString(): string {
    return `${this.constructor.name}(<redacted ${this.#value.length} bytes>)`;
  }

  toJSON(): string {
    return this.toString();
  }

  [INSPECT](): string {
    return this.toString();
  }
}

export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  return bytesEqual(a, b);
}

// ---------------------------------------------------------------------------- hashes, MAC, KDF

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

// ---------------------------------------------------------------------------- AES-256-GCM

export function aesGcmSeal(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Uint8Array {
  expectLength(key, KEY_SIZE, "AES-256-GCM key");
  expectLength(nonce, GCM_NONCE_SIZE, "AES-GCM nonce");
  return gcm(key, nonce, aad).encrypt(plaintext);
}

/** Opens ciphertext ‖ tag; any failure is `DecryptionFailed`. */
export function aesGcmOpen(
  key: Uint8Array,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  aad: Uint8Array,
): Uint8Array {
  expectLength(key, KEY_SIZE, "AES-256-GCM key");
  expectLength(nonce, GCM_NONCE_SIZE, "AES-GCM nonce");
  if (ciphertext.length < GCM_TAG_SIZE) {
    throw new Malformed("ciphertext shorter than the tag");
  }
  try {
    return gcm(key, nonce, aad).decrypt(ciphertext);
  } catch {
    throw new DecryptionFailed("AES-GCM authentication failed");
  }
}

// ---------------------------------------------------------------------------- Ed25519 (strict)

/** Order of the Ed25519 base point. */
const ED25519_L = (1n << 252n) + 27742317777372353535851937790883648493n;
/** The field prime 2^255 − 19. */
const P25519 = (1n << 255n) - 19n;

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

function intLe(bytes: Uint8Array): bigint {
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i] ?? 0);
  return v;
}

/** Rule 3 of §4.1: y < p, and no sign bit on the x = 0 points (y = ±1). */
function isCanonicalEdwardsEncoding(enc: Uint8Array): boolean {
  const y = intLe(enc) & ((1n << 255n) - 1n);
  const sign = (enc[31] ?? 0) >> 7;
  if (y >= P25519) return false;
  return !(sign === 1 && (y === 1n || y === P25519 - 1n));
}

const Fp = ed25519.Point.Fp;
/** d = −121665/121666 mod p. */
const ED25519_D = Fp.neg(Fp.div(121665n, 121666n));

/**
 * Rule 5 of §4.1: u = (y² − 1)/(d·y² + 1) is a square mod p (Euler's criterion). The
 * denominator is never 0 (d is not a square), and u is a square iff num·den is, which saves an
 * inversion.
 */
function isOnCurveEncoding(enc: Uint8Array): boolean {
  const y = intLe(enc) & ((1n << 255n) - 1n);
  if (y >= P25519) return false;
  const y2 = Fp.sqr(y);
  const product = Fp.mul(Fp.sub(y2, 1n), Fp.add(Fp.mul(ED25519_D, y2), 1n));
  const euler = Fp.pow(product, (P25519 - 1n) / 2n);
  return euler === 0n || euler === 1n;
}

/** Rule 4 of §4.1: not one of the 8 small-order encodings. */
function isSmallOrderEncoding(enc: Uint8Array): boolean {
  const hex = toHex(enc);
  return SMALL_ORDER_ENCODINGS.includes(hex);
}

export function ed25519PublicKey(seed: Uint8Array): Uint8Array {
  expectLength(seed, ED25519_SEED_SIZE, "Ed25519 seed");
  return ed25519.getPublicKey(seed);
}

export function ed25519Sign(seed: Uint8Array, message: Uint8Array): Uint8Array {
  expectLength(seed, ED25519_SEED_SIZE, "Ed25519 seed");
  return ed25519.sign(message, seed);
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

/** Precompute a verifier's wNAF table from this many verifications on (≈30 ms once, then ~6× faster). */
const PRECOMPUTE_AFTER = 2;
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

/**
 * Something that signs with an Ed25519 key: a `SigningKey` from a seed, or (in the browser) a
 * non-extractable WebCrypto key behind the same shape.
 */
export interface MessageSigner {
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

/** Ed25519 signing key from a 32-byte seed; printing shows only the public key. */
export class SigningKey implements MessageSigner {
  readonly #seed: Secret;
  readonly publicKey: Uint8Array;

  constructor(seed: Uint8Array) {
    this.#seed = new Secret(requireSize(seed, KEY_SIZE, "Ed25519 seed"));
    this.publicKey = ed25519.getPublicKey(this.#seed.reveal());
  }

  static generate(random: RandomSource): SigningKey {
    return new SigningKey(randomBytes(random, KEY_SIZE));
  }

  get seed(): Secret {
    return this.#seed;
  }

  sign(message: Uint8Array): Uint8Array {
    return ed25519.sign(message, this.#seed.reveal());
  }

  toString(): string {
    return `${this.constructor.name}(publicKey=${toHex(this.publicKey)}, seed=<redacted>)`;
  }

  toJSON(): string {
    return this.toString();
  }

  [INSPECT](): string {
    return this.toString();
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

// ---------------------------------------------------------------------------- X25519

/** X25519 with the all-zero output (low-order peer key) rejected as `InvalidPublicKey`. */
export function x25519(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  expectLength(privateKey, X25519_KEY_SIZE, "X25519 private key");
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

const X25519_PROBE_SCALAR = new Uint8Array(32).fill(0x01);

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
  x25519(X25519_PROBE_SCALAR, publicKey);
}

// ---------------------------------------------------------------------------- X-Wing HPKE

const MLKEM768_EK_SIZE = 1184;
const MLKEM_Q = 3329;

/** FIPS 203 encapsulation-key check: every decoded 12-bit coefficient is < q. */
function checkMlKem768EncapsulationKey(ek: Uint8Array): void {
  const polyBytes = MLKEM768_EK_SIZE - 32;
  for (let i = 0; i < polyBytes; i += 3) {
    const b0 = ek[i] ?? 0;
    const b1 = ek[i + 1] ?? 0;
    const b2 = ek[i + 2] ?? 0;
    const c0 = b0 | ((b1 & 0x0f) << 8);
    const c1 = (b1 >> 4) | (b2 << 4);
    if (c0 >= MLKEM_Q || c1 >= MLKEM_Q) {
      throw new InvalidPublicKey("ML-KEM-768 encapsulation key is not reduced");
    }
  }
}

const xwing = new XWing();
const suite = new CipherSuite({ kem: xwing, kdf: new HkdfSha256(), aead: new Aes256Gcm() });

function buffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.slice().buffer;
}

/** The X-Wing public key (1216 B: ML-KEM-768 ek ‖ X25519) of a 32-byte decapsulation seed. */
export async function xwingPublicKey(seed: Uint8Array): Promise<Uint8Array> {
  expectLength(seed, XWING_SEED_SIZE, "X-Wing seed");
  const pair = await xwing.generateKeyPairDerand(seed.slice());
  return new Uint8Array(await xwing.serializePublicKey(pair.publicKey));
}

/** X-Wing encapsulation with explicit 64-byte randomness (KATs only). */
export async function xwingEncapsulateDerand(
  publicKey: Uint8Array,
  eseed: Uint8Array,
): Promise<{ sharedSecret: Uint8Array; ciphertext: Uint8Array }> {
  expectLength(eseed, XWING_ENCAPS_RANDOMNESS_SIZE, "X-Wing encapsulation randomness");
  const pk = await xwing.deserializePublicKey(buffer(publicKey));
  const out = await xwing.encap({ recipientPublicKey: pk, ekm: buffer(eseed) });
  return { sharedSecret: new Uint8Array(out.sharedSecret), ciphertext: new Uint8Array(out.enc) };
}

export async function xwingDecapsulate(seed: Uint8Array, ciphertext: Uint8Array): Promise<Uint8Array> {
  expectLength(seed, XWING_SEED_SIZE, "X-Wing seed");
  const sk = await xwing.importKey("raw", buffer(seed), false);
  return new Uint8Array(await xwing.decap({ recipientKey: sk, enc: buffer(ciphertext) }));
}

/** §4.2: length, canonical and large-order X25519 half, reduced ML-KEM half. */
export function checkXwingPublicKey(publicKey: Uint8Array): void {
  if (publicKey.length !== XWING_PUBLIC_KEY_SIZE) {
    throw new InvalidPublicKey(`X-Wing public key must be ${XWING_PUBLIC_KEY_SIZE} bytes`);
  }
  checkX25519PublicKey(publicKey.subarray(MLKEM768_EK_SIZE));
  checkMlKem768EncapsulationKey(publicKey.subarray(0, MLKEM768_EK_SIZE));
}

/**
 * HPKE base mode, X-Wing / HKDF-SHA256 / AES-256-GCM, single shot, empty AAD, all context in
 * `info` (§4.3). Returns `enc(1120) ‖ ct`.
 */
export async function hpkeSeal(
  recipientPublicKey: Uint8Array,
  info: Uint8Array,
  plaintext: Uint8Array,
  random: RandomSource,
): Promise<Uint8Array> {
  checkXwingPublicKey(recipientPublicKey);
  const ekm = randomBytes(random, XWING_ENCAPS_RANDOMNESS_SIZE);
  return hpkeSealDerand(recipientPublicKey, info, plaintext, ekm);
}

/** `hpkeSeal` with explicit encapsulation randomness (for known-answer tests). */
export async function hpkeSealDerand(
  recipientPublicKey: Uint8Array,
  info: Uint8Array,
  plaintext: Uint8Array,
  ekm: Uint8Array,
): Promise<Uint8Array> {
  expectLength(ekm, XWING_ENCAPS_RANDOMNESS_SIZE, "X-Wing encapsulation randomness");
  const pk = await xwing.deserializePublicKey(buffer(recipientPublicKey));
  const sealed = await suite.seal(
    { recipientPublicKey: pk, info: buffer(info), ekm: buffer(ekm) },
    buffer(plaintext),
  );
  return concatBytes(new Uint8Array(sealed.enc), new Uint8Array(sealed.ct));
}

/** Opens `enc ‖ ct`; any failure (short input, wrong key, tampering, other info) is DecryptionFailed. */
export async function hpkeOpen(
  recipientSeed: Uint8Array,
  sealed: Uint8Array,
  info: Uint8Array,
): Promise<Uint8Array> {
  expectLength(recipientSeed, XWING_SEED_SIZE, "X-Wing seed");
  if (sealed.length < XWING_ENC_SIZE + GCM_TAG_SIZE) {
    throw new Malformed("sealed box too short");
  }
  try {
    const sk = await xwing.importKey("raw", buffer(recipientSeed), false);
    const pt = await suite.open(
      {
        recipientKey: sk,
        enc: buffer(sealed.subarray(0, XWING_ENC_SIZE)),
        info: buffer(info),
      },
      buffer(sealed.subarray(XWING_ENC_SIZE)),
    );
    return new Uint8Array(pt);
  } catch {
    throw new DecryptionFailed("HPKE open failed");
  }
}

/** X-Wing key pair from a 32-byte seed (create with `XWingKeyPair.fromSeed`); hides the seed. */
export class XWingKeyPair {
  readonly #seed: Secret;
  readonly publicKey: Uint8Array;

  protected constructor(seed: Secret, publicKey: Uint8Array) {
    this.#seed = seed;
    this.publicKey = publicKey;
  }

  static async fromSeed(seed: Uint8Array): Promise<XWingKeyPair> {
    const secret = new Secret(requireSize(seed, XWING_SEED_SIZE, "X-Wing seed"));
    return new XWingKeyPair(secret, await xwingPublicKey(secret.reveal()));
  }

  get seed(): Secret {
    return this.#seed;
  }

  /** HPKE base-mode open, empty AAD; throws `DecryptionFailed`. */
  open(sealed: Uint8Array, info: Uint8Array): Promise<Uint8Array> {
    return hpkeOpen(this.#seed.reveal(), sealed, info);
  }

  toString(): string {
    return `${this.constructor.name}(publicKey=${toHex(this.publicKey.subarray(0, 8))}…, seed=<redacted>)`;
  }

  toJSON(): string {
    return this.toString();
  }

  [INSPECT](): string {
    return this.toString();
  }
}
