/**
 * Per-user keys: X-Wing key pairs per generation, certified by the identity key
 * (docs/crypto.md §7; mirror of `hushroom.crypto.puk`).
 */

import { checkIdent, decode, decodeSigned, encode, encodeSigned, toHex } from "./encoding.ts";
import { ContextMismatch, Malformed } from "./errors.ts";
import type { IdentityKey, IdentityPublicKey } from "./identity.ts";
import { XWingKeyPair } from "./hpke.ts";
import { randomBytes, type RandomSource } from "./random.ts";
import { Secret } from "./secret.ts";
import { KEY_SIZE, requireSize } from "./size.ts";
import { checkXwingPublicKey, xwingPublicKey } from "./xwing.ts";

export const PUK_CERT_LABEL = "hushroom/v1/puk-cert";

/** PUK generation `generation` (≥ 1), from a 32-byte X-Wing seed. */
export class PukKeyPair extends XWingKeyPair {
  readonly generation: number;

  private constructor(generation: number, seed: Secret, publicKey: Uint8Array) {
    super(seed, publicKey);
    this.generation = generation;
  }

  static async create(generation: number, seed: Uint8Array | Secret): Promise<PukKeyPair> {
    if (!Number.isSafeInteger(generation) || generation < 1) {
      throw new Malformed("PUK generation must be >= 1");
    }
    const raw = requireSize(seed instanceof Secret ? seed.reveal() : seed, KEY_SIZE, "X-Wing seed");
    return new PukKeyPair(generation, new Secret(raw), await xwingPublicKey(raw));
  }

  static generate(generation: number, random: RandomSource): Promise<PukKeyPair> {
    return PukKeyPair.create(generation, randomBytes(random, KEY_SIZE));
  }

  override toString(): string {
    return `PukKeyPair(generation=${this.generation}, publicKey=${toHex(this.publicKey.subarray(0, 8))}…, seed=<redacted>)`;
  }
}

/** A verified PUK certificate (or one just issued). */
export interface PukCertificate {
  readonly userId: string;
  readonly generation: number;
  readonly publicKey: Uint8Array;
  readonly createdAt: number;
  readonly encoded: Uint8Array;
}

function tbsOf(
  userId: string,
  generation: number,
  publicKey: Uint8Array,
  createdAt: number,
): Uint8Array {
  return encode(PUK_CERT_LABEL, 1, [checkIdent(userId), generation, publicKey, createdAt]);
}

/** Sign `puk`'s public key with the identity key. */
export function certifyPuk(
  identity: IdentityKey,
  userId: string,
  puk: PukKeyPair,
  createdAt: number,
): PukCertificate {
  const tbs = tbsOf(userId, puk.generation, puk.publicKey, createdAt);
  const encoded = encodeSigned(tbs, identity.sign(tbs));
  return { userId, generation: puk.generation, publicKey: puk.publicKey, createdAt, encoded };
}

/** Check signature under the pinned IK, the user id and the public key. */
export function verifyPukCertificate(
  data: Uint8Array,
  identity: IdentityPublicKey,
  expectedUserId: string,
): PukCertificate {
  const [tbs, signature] = decodeSigned(data);
  identity.verify(tbs, signature);
  const record = decode(tbs, PUK_CERT_LABEL, 1, 4);
  const userId = record.ident(0);
  const generation = record.integer(1);
  const publicKey = record.raw(2);
  const createdAt = record.integer(3);
  if (userId !== expectedUserId) {
    throw new ContextMismatch("PUK certificate is for another user");
  }
  if (generation < 1) {
    throw new Malformed("PUK generation must be >= 1");
  }
  checkXwingPublicKey(publicKey);
  return { userId, generation, publicKey, createdAt, encoded: data.slice() };
}
