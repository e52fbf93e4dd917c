/** Identity key (Ed25519) of a user (docs/crypto.md §7; mirror of `hushroom.crypto.identity`). */

import { SigningKey } from "./ed25519-sign.ts";
import { checkEd25519PublicKey, Ed25519Verifier } from "./ed25519-verify.ts";
import { randomBytes, type RandomSource } from "./random.ts";
import { Secret } from "./secret.ts";
import { KEY_SIZE, requireSize } from "./size.ts";

/** The user's long-term Ed25519 identity key (seed lives in the vault). */
export class IdentityKey extends SigningKey {
  static fromSeed(seed: Uint8Array | Secret): IdentityKey {
    const raw = seed instanceof Secret ? seed.reveal() : seed;
    return new IdentityKey(requireSize(raw, KEY_SIZE, "identity seed"));
  }

  static override generate(random: RandomSource): IdentityKey {
    return new IdentityKey(randomBytes(random, KEY_SIZE));
  }

  public(): IdentityPublicKey {
    return new IdentityPublicKey(this.publicKey);
  }
}

/** A (pinned) identity public key; construction checks it (`InvalidPublicKey`). */
export class IdentityPublicKey {
  readonly key: Uint8Array;
  readonly #verifier: Ed25519Verifier;

  constructor(key: Uint8Array) {
    checkEd25519PublicKey(key);
    this.key = key.slice();
    this.#verifier = new Ed25519Verifier(this.key);
  }

  /** Strict Ed25519 verification; throws `InvalidSignature`. */
  verify(message: Uint8Array, signature: Uint8Array): void {
    this.#verifier.verify(message, signature);
  }

  /** What the safety number is computed from: the 32-byte public key. */
  fingerprintInput(): Uint8Array {
    return this.key;
  }
}
