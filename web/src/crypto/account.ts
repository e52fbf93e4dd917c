/**
 * An account's key material, composed from the core (docs/crypto.md §6–§7, decision 0003; mirror
 * of `hushroom.crypto.account`).
 *
 * Pure: ids, keys and the clock value come in; the records to upload and the secrets to keep come
 * out. Used for registration, for the one-time set-up of accounts created before real keys, and
 * for the re-key of a device revocation.
 */

import { certifyDevice } from "./device.ts";
import { IdentityKey } from "./identity.ts";
import type { RandomSource } from "./random.ts";
import type { Secret } from "./secret.ts";
import { certifyPuk, PukKeyPair } from "./puk.ts";
import { generateRecoveryCode, type RecoveryCode } from "./recovery.ts";
import { createVault, VaultContents, type SealedVault, type VaultKey } from "./vault.ts";

/** The device to certify with the new identity: only its public key is needed. */
export interface DeviceToCertify {
  readonly deviceId: string;
  readonly publicKey: Uint8Array;
}

/** What a new (or re-keyed) account uploads (public parts) and keeps (secrets, never uploaded). */
export interface AccountKeys {
  readonly userId: string;
  readonly identity: IdentityKey;
  readonly contents: VaultContents;
  readonly vaultKey: VaultKey;
  readonly recoveryCode: RecoveryCode;
  readonly vault: SealedVault;
  /** The certificate of the newest PUK generation (1 at creation). */
  readonly pukCertificate: Uint8Array;
  readonly deviceCertificate: Uint8Array | null;
  /** §6.5, of `recoveryCode`. */
  readonly recoveryAuth: Uint8Array;
}

/**
 * A new identity, PUK generation 1, a sealed vault wrapped under `passwordKey` and a new recovery
 * code, and (when `device` is given) that device's certificate.
 */
export async function createAccountKeys(
  userId: string,
  passwordKey: Secret,
  createdAt: number,
  device: DeviceToCertify | null,
  random: RandomSource,
): Promise<AccountKeys> {
  const identity = IdentityKey.generate(random);
  const puk = await PukKeyPair.generate(1, random);
  const contents = VaultContents.create(identity.seed.reveal(), [[1, puk.seed.reveal()]]);
  return sealed(userId, identity, contents, puk, passwordKey, createdAt, device, random);
}

/**
 * Device revocation: the next PUK generation appended, a new vault key and a new recovery code
 * (docs/crypto.md §6.4 "re-key"). The identity stays.
 */
export async function rekeyAccount(
  userId: string,
  contents: VaultContents,
  passwordKey: Secret,
  createdAt: number,
  random: RandomSource,
): Promise<AccountKeys> {
  const identity = IdentityKey.fromSeed(contents.identitySeed);
  const puk = await PukKeyPair.generate(contents.latestPukGeneration + 1, random);
  const grown = contents.withPuk(puk.generation, puk.seed.reveal());
  return sealed(userId, identity, grown, puk, passwordKey, createdAt, null, random);
}

function sealed(
  userId: string,
  identity: IdentityKey,
  contents: VaultContents,
  puk: PukKeyPair,
  passwordKey: Secret,
  createdAt: number,
  device: DeviceToCertify | null,
  random: RandomSource,
): AccountKeys {
  const code = generateRecoveryCode(random);
  const [vaultKey, vault] = createVault(contents, userId, passwordKey, code.recoveryKey(), random);
  const deviceCertificate =
    device === null
      ? null
      : certifyDevice(identity, userId, device.deviceId, device.publicKey, createdAt).encoded;
  return {
    userId,
    identity,
    contents,
    vaultKey,
    recoveryCode: code,
    vault,
    pukCertificate: certifyPuk(identity, userId, puk, createdAt).encoded,
    deviceCertificate,
    recoveryAuth: code.recoveryAuth(),
  };
}
