/**
 * The X-Wing KEM (draft-connolly-cfrg-xwing-kem: ML-KEM-768 + X25519, SHA3-256 combiner) from
 * `@hpke/hybridkem-x-wing`, the named X-Wing library. Keys are 32-byte decapsulation seeds.
 *
 * The library vendors its own X25519 (`@hpke/dhkem-x25519`), SHA-3 and ML-KEM (`mlkem`), so the
 * bundle carries a second X25519/SHA-2 next to @noble's; that is the price of using it.
 * The KEM object is built on first use, never at import.
 */

import { XWing } from "@hpke/hybridkem-x-wing";

import { DecryptionFailed, InvalidPublicKey } from "./errors.ts";
import { expectSize } from "./size.ts";
import { checkX25519PublicKey } from "./x25519.ts";

export const XWING_SEED_SIZE = 32;
export const XWING_PUBLIC_KEY_SIZE = 1216;
export const XWING_ENC_SIZE = 1120;
export const XWING_SHARED_SECRET_SIZE = 32;
/** Randomness consumed by one X-Wing encapsulation: 32 B ML-KEM `m` ‖ 32 B X25519 ephemeral. */
export const XWING_ENCAPS_RANDOMNESS_SIZE = 64;

const MLKEM768_EK_SIZE = 1184;
const MLKEM_Q = 3329;

let cachedKem: XWing | undefined;

/** The one `@hpke/hybridkem-x-wing` KEM instance (shared with `hpke.ts`), built on first use. */
export function xwingKem(): XWing {
  cachedKem ??= new XWing();
  return cachedKem;
}

/** A fresh `ArrayBuffer` holding a copy of `bytes` (what @hpke's APIs take). */
function toBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.slice().buffer;
}

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

/** §4.2: length, canonical and large-order X25519 half, reduced ML-KEM half. */
export function checkXwingPublicKey(publicKey: Uint8Array): void {
  if (publicKey.length !== XWING_PUBLIC_KEY_SIZE) {
    throw new InvalidPublicKey(`X-Wing public key must be ${XWING_PUBLIC_KEY_SIZE} bytes`);
  }
  checkX25519PublicKey(publicKey.subarray(MLKEM768_EK_SIZE));
  checkMlKem768EncapsulationKey(publicKey.subarray(0, MLKEM768_EK_SIZE));
}

/** The X-Wing public key (1216 B: ML-KEM-768 ek ‖ X25519) of a 32-byte decapsulation seed. */
export async function xwingPublicKey(seed: Uint8Array): Promise<Uint8Array> {
  expectSize(seed, XWING_SEED_SIZE, "X-Wing seed");
  const kem = xwingKem();
  const pair = await kem.generateKeyPairDerand(seed.slice());
  return new Uint8Array(await kem.serializePublicKey(pair.publicKey));
}

/** X-Wing encapsulation with explicit 64-byte randomness (`InvalidPublicKey` for a bad key). */
export async function xwingEncapsulateDerand(
  publicKey: Uint8Array,
  eseed: Uint8Array,
): Promise<{ sharedSecret: Uint8Array; ciphertext: Uint8Array }> {
  expectSize(eseed, XWING_ENCAPS_RANDOMNESS_SIZE, "X-Wing encapsulation randomness");
  if (publicKey.length !== XWING_PUBLIC_KEY_SIZE) {
    throw new InvalidPublicKey(`X-Wing public key must be ${XWING_PUBLIC_KEY_SIZE} bytes`);
  }
  const kem = xwingKem();
  let out: { sharedSecret: ArrayBuffer; enc: ArrayBuffer };
  try {
    const pk = await kem.deserializePublicKey(toBuffer(publicKey));
    out = await kem.encap({ recipientPublicKey: pk, ekm: toBuffer(eseed) });
  } catch {
    throw new InvalidPublicKey("X-Wing encapsulation refused the public key");
  }
  return { sharedSecret: new Uint8Array(out.sharedSecret), ciphertext: new Uint8Array(out.enc) };
}

/** X-Wing decapsulation; a ciphertext of the wrong size or a refused one is `DecryptionFailed`. */
export async function xwingDecapsulate(seed: Uint8Array, ciphertext: Uint8Array): Promise<Uint8Array> {
  expectSize(seed, XWING_SEED_SIZE, "X-Wing seed");
  if (ciphertext.length !== XWING_ENC_SIZE) {
    throw new DecryptionFailed(`X-Wing ciphertext must be ${XWING_ENC_SIZE} bytes`);
  }
  const kem = xwingKem();
  try {
    const sk = await kem.importKey("raw", toBuffer(seed), false);
    return new Uint8Array(await kem.decap({ recipientKey: sk, enc: toBuffer(ciphertext) }));
  } catch {
    throw new DecryptionFailed("X-Wing decapsulation failed");
  }
}
