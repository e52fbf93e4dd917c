/** Ed25519 signing from a 32-byte seed (RFC 8032). Verification is in `ed25519-verify.ts`. */

import { ed25519 } from "@noble/curves/ed25519.js";

import { toHex } from "./encoding.ts";
import { randomBytes, type RandomSource } from "./random.ts";
import { INSPECT, Secret } from "./secret.ts";
import { expectSize, KEY_SIZE, requireSize } from "./size.ts";

export const ED25519_SEED_SIZE = 32;

export function ed25519PublicKey(seed: Uint8Array): Uint8Array {
  expectSize(seed, ED25519_SEED_SIZE, "Ed25519 seed");
  return ed25519.getPublicKey(seed);
}

export function ed25519Sign(seed: Uint8Array, message: Uint8Array): Uint8Array {
  expectSize(seed, ED25519_SEED_SIZE, "Ed25519 seed");
  return ed25519.sign(message, seed);
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
