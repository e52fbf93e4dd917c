/**
 * Device keys and device certificates signed by the identity key (docs/crypto.md §7; mirror of
 * `hushroom.crypto.device`).
 *
 * In the browser the device key is a non-extractable WebCrypto key; it enters the core as a
 * `MessageSigner` (same shape as `DeviceKey`), so nothing here needs its private bytes.
 */

import { checkIdent, decode, decodeSigned, encode, encodeSigned } from "./encoding.ts";
import { ContextMismatch } from "./errors.ts";
import type { IdentityKey, IdentityPublicKey } from "./identity.ts";
import { SigningKey } from "./ed25519-sign.ts";
import {
  checkEd25519PublicKey,
  type CofactorlessVerify,
  Ed25519Verifier,
} from "./ed25519-verify.ts";
import { randomBytes, type RandomSource } from "./random.ts";
import { KEY_SIZE } from "./size.ts";

export const DEVICE_CERT_LABEL = "hushroom/v1/device-cert";

/** A device's Ed25519 signing key from a seed (Python SDK, tests, Node). */
export class DeviceKey extends SigningKey {
  static override generate(random: RandomSource): DeviceKey {
    return new DeviceKey(randomBytes(random, KEY_SIZE));
  }
}

/** A verified device certificate (or one just issued). */
export class DeviceCertificate {
  readonly userId: string;
  readonly deviceId: string;
  readonly publicKey: Uint8Array;
  readonly createdAt: number;
  readonly encoded: Uint8Array;
  #verifier: Ed25519Verifier | undefined;

  constructor(
    userId: string,
    deviceId: string,
    publicKey: Uint8Array,
    createdAt: number,
    encoded: Uint8Array,
  ) {
    this.userId = userId;
    this.deviceId = deviceId;
    this.publicKey = publicKey;
    this.createdAt = createdAt;
    this.encoded = encoded;
  }

  /** Strict Ed25519 verification under the certified device key (decoded key kept). */
  verify(message: Uint8Array, signature: Uint8Array): void {
    this.#verifier ??= new Ed25519Verifier(this.publicKey);
    this.#verifier.verify(message, signature);
  }

  /** `verify` with rule 6 delegated to `cofactorless` (e.g. WebCrypto); see `Ed25519Verifier`. */
  async verifyAsync(
    message: Uint8Array,
    signature: Uint8Array,
    cofactorless?: CofactorlessVerify,
  ): Promise<void> {
    this.#verifier ??= new Ed25519Verifier(this.publicKey);
    await this.#verifier.verifyAsync(message, signature, cofactorless);
  }
}

export function certifyDevice(
  identity: IdentityKey,
  userId: string,
  deviceId: string,
  devicePublicKey: Uint8Array,
  createdAt: number,
): DeviceCertificate {
  checkEd25519PublicKey(devicePublicKey);
  const tbs = encode(DEVICE_CERT_LABEL, 1, [
    checkIdent(userId),
    checkIdent(deviceId),
    devicePublicKey,
    createdAt,
  ]);
  const encoded = encodeSigned(tbs, identity.sign(tbs));
  return new DeviceCertificate(userId, deviceId, devicePublicKey.slice(), createdAt, encoded);
}

/** Check signature under the pinned IK, the user (and device) id and the device key. */
export function verifyDeviceCertificate(
  data: Uint8Array,
  identity: IdentityPublicKey,
  expectedUserId: string,
  expectedDeviceId?: string,
): DeviceCertificate {
  const [tbs, signature] = decodeSigned(data);
  identity.verify(tbs, signature);
  const record = decode(tbs, DEVICE_CERT_LABEL, 1, 4);
  const userId = record.ident(0);
  const deviceId = record.ident(1);
  const publicKey = record.raw(2);
  const createdAt = record.integer(3);
  if (userId !== expectedUserId) {
    throw new ContextMismatch("device certificate is for another user");
  }
  if (expectedDeviceId !== undefined && deviceId !== expectedDeviceId) {
    throw new ContextMismatch("device certificate is for another device");
  }
  checkEd25519PublicKey(publicKey);
  return new DeviceCertificate(userId, deviceId, publicKey, createdAt, data.slice());
}
