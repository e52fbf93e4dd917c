/**
 * HPKE base mode (RFC 9180) with X-Wing / HKDF-SHA256 / AES-256-GCM, single shot, empty AAD, all
 * context in `info` (docs/crypto.md §4.3): @hpke/core's key schedule and AEAD (on WebCrypto) with
 * `@hpke/hybridkem-x-wing` as the KEM (the instance `xwing.ts` uses). The cipher suite is built on
 * first use, not at import.
 */

import { Aes256Gcm, CipherSuite, HkdfSha256 } from "@hpke/core";

import { GCM_TAG_SIZE } from "./aes-gcm.ts";
import { concatBytes, toHex } from "./encoding.ts";
import { DecryptionFailed, InvalidPublicKey, Malformed } from "./errors.ts";
import { randomBytes, type RandomSource } from "./random.ts";
import { INSPECT, Secret } from "./secret.ts";
import { expectSize, requireSize } from "./size.ts";
import {
  checkXwingPublicKey,
  XWING_ENC_SIZE,
  XWING_ENCAPS_RANDOMNESS_SIZE,
  XWING_PUBLIC_KEY_SIZE,
  XWING_SEED_SIZE,
  xwingKem,
  xwingPublicKey,
} from "./xwing.ts";

function buffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.slice().buffer;
}

let cachedSuite: CipherSuite | undefined;

/** The one cipher suite, built on first use. */
function suite(): CipherSuite {
  cachedSuite ??= new CipherSuite({ kem: xwingKem(), kdf: new HkdfSha256(), aead: new Aes256Gcm() });
  return cachedSuite;
}

/** Seals `plaintext` to an X-Wing public key. Returns `enc(1120) ‖ ct`. */
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
  expectSize(ekm, XWING_ENCAPS_RANDOMNESS_SIZE, "X-Wing encapsulation randomness");
  if (recipientPublicKey.length !== XWING_PUBLIC_KEY_SIZE) {
    throw new InvalidPublicKey(`X-Wing public key must be ${XWING_PUBLIC_KEY_SIZE} bytes`);
  }
  const hpke = suite();
  let pk: CryptoKey;
  try {
    pk = await hpke.kem.deserializePublicKey(buffer(recipientPublicKey));
  } catch {
    throw new InvalidPublicKey("X-Wing refused the public key");
  }
  const sealed = await hpke.seal(
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
  expectSize(recipientSeed, XWING_SEED_SIZE, "X-Wing seed");
  if (sealed.length < XWING_ENC_SIZE + GCM_TAG_SIZE) {
    throw new Malformed("sealed box too short");
  }
  try {
    const hpke = suite();
    const sk = await hpke.kem.importKey("raw", buffer(recipientSeed), false);
    const pt = await hpke.open(
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
