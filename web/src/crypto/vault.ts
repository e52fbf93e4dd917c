/**
 * The key vault: identity seed + every PUK seed, under a vault key wrapped by the password key
 * and by the recovery key (docs/crypto.md §6; mirror of `hushroom.crypto.vault`).
 */

import { checkIdent, decode, encode } from "./encoding.ts";
import { Malformed } from "./errors.ts";
import { aesGcmOpen, aesGcmSeal, GCM_NONCE_SIZE } from "./aes-gcm.ts";
import { randomBytes, type RandomSource } from "./random.ts";
import { INSPECT, Secret } from "./secret.ts";
import { KEY_SIZE } from "./size.ts";

export type WrapKind = "password" | "recovery";
export const WRAP_KINDS: readonly WrapKind[] = ["password", "recovery"];
export const CONTENTS_LABEL = "hushroom/v1/vault-contents";
export const PUK_ENTRY_LABEL = "hushroom/v1/vault-puk";
export const VAULT_LABEL = "hushroom/v1/vault";
export const VAULT_AAD_LABEL = "hushroom/v1/vault-aad";
export const WRAP_LABEL = "hushroom/v1/vault-wrap";
export const WRAP_AAD_LABEL = "hushroom/v1/vault-wrap-aad";

/** The 32-byte vault key. */
export class VaultKey extends Secret {
  static generate(random: RandomSource): VaultKey {
    return new VaultKey(randomBytes(random, KEY_SIZE));
  }
}

export type PukSeedEntry = readonly [generation: number, seed: Secret];

/** Plaintext of the vault: the IK seed and every PUK generation's seed. */
export class VaultContents {
  readonly identitySeed: Secret;
  readonly pukSeeds: readonly PukSeedEntry[];

  private constructor(identitySeed: Secret, pukSeeds: readonly PukSeedEntry[]) {
    this.identitySeed = identitySeed;
    this.pukSeeds = pukSeeds;
    this.check();
  }

  static create(
    identitySeed: Uint8Array,
    pukSeeds: Iterable<readonly [number, Uint8Array]>,
  ): VaultContents {
    const entries = Array.from(pukSeeds, ([g, s]): PukSeedEntry => [g, new Secret(s)]);
    entries.sort((a, b) => a[0] - b[0]);
    return new VaultContents(new Secret(identitySeed), entries);
  }

  private check(): void {
    if (this.identitySeed.length !== KEY_SIZE) {
      throw new Malformed("identity seed must be 32 bytes");
    }
    const generations = this.pukSeeds.map(([g]) => g);
    const first = generations[0];
    if (
      first === undefined ||
      first < 1 ||
      generations.some((g, i) => i > 0 && g <= (generations[i - 1] ?? 0))
    ) {
      throw new Malformed("PUK generations must be unique, ascending and >= 1");
    }
    if (this.pukSeeds.some(([, seed]) => seed.length !== KEY_SIZE)) {
      throw new Malformed("PUK seeds must be 32 bytes");
    }
  }

  /** A copy with one more PUK generation (after a rotation). */
  withPuk(generation: number, seed: Uint8Array): VaultContents {
    return VaultContents.create(this.identitySeed.reveal(), [
      ...this.pukSeeds.map(([g, s]): [number, Uint8Array] => [g, s.reveal()]),
      [generation, seed],
    ]);
  }

  pukSeed(generation: number): Secret | undefined {
    return this.pukSeeds.find(([g]) => g === generation)?.[1];
  }

  get latestPukGeneration(): number {
    const last = this.pukSeeds[this.pukSeeds.length - 1];
    if (last === undefined) throw new Malformed("vault holds no PUK");
    return last[0];
  }

  encode(): Uint8Array {
    const entries = this.pukSeeds.map(([g, s]) => encode(PUK_ENTRY_LABEL, 1, [g, s.reveal()]));
    return encode(CONTENTS_LABEL, 1, [this.identitySeed.reveal(), entries]);
  }

  static decode(data: Uint8Array): VaultContents {
    const record = decode(data, CONTENTS_LABEL, 1, 2);
    const entries = record.items(1).map((item): PukSeedEntry => {
      const entry = decode(item, PUK_ENTRY_LABEL, 1, 2);
      return [entry.integer(0), new Secret(entry.fixed(1, KEY_SIZE))];
    });
    return new VaultContents(new Secret(record.fixed(0, KEY_SIZE)), entries);
  }

  toString(): string {
    const generations = this.pukSeeds.map(([g]) => g).join(", ");
    return `VaultContents(identitySeed=<redacted>, pukGenerations=[${generations}])`;
  }

  toJSON(): string {
    return this.toString();
  }

  [INSPECT](): string {
    return this.toString();
  }
}

function vaultAad(userId: string): Uint8Array {
  return encode(VAULT_AAD_LABEL, 1, [checkIdent(userId)]);
}

export function sealVault(
  vaultKey: VaultKey,
  contents: VaultContents,
  userId: string,
  random: RandomSource,
): Uint8Array {
  const nonce = randomBytes(random, GCM_NONCE_SIZE);
  const ciphertext = aesGcmSeal(vaultKey.reveal(), nonce, contents.encode(), vaultAad(userId));
  return encode(VAULT_LABEL, 1, [nonce, ciphertext]);
}

/** Throws `DecryptionFailed` for a wrong key or a vault of another user. */
export function openVault(vaultKey: VaultKey, sealed: Uint8Array, userId: string): VaultContents {
  const record = decode(sealed, VAULT_LABEL, 1, 2);
  const aad = vaultAad(userId);
  const plaintext = aesGcmOpen(
    vaultKey.reveal(),
    record.fixed(0, GCM_NONCE_SIZE),
    record.raw(1),
    aad,
  );
  return VaultContents.decode(plaintext);
}

function wrapAad(userId: string, kind: string): Uint8Array {
  if (!(WRAP_KINDS as readonly string[]).includes(kind)) {
    throw new Malformed("unknown vault wrapping kind");
  }
  return encode(WRAP_AAD_LABEL, 1, [checkIdent(userId), kind]);
}

/** Wrap VK under the password key (`kind="password"`) or recovery key (`"recovery"`). */
export function wrapVaultKey(
  wrappingKey: Secret,
  vaultKey: VaultKey,
  userId: string,
  kind: WrapKind,
  random: RandomSource,
): Uint8Array {
  const aad = wrapAad(userId, kind);
  const nonce = randomBytes(random, GCM_NONCE_SIZE);
  const ciphertext = aesGcmSeal(wrappingKey.reveal(), nonce, vaultKey.reveal(), aad);
  return encode(WRAP_LABEL, 1, [kind, nonce, ciphertext]);
}

/** Wrong password / recovery code → `DecryptionFailed`. */
export function unwrapVaultKey(
  wrappingKey: Secret,
  wrapped: Uint8Array,
  userId: string,
  kind: WrapKind,
): VaultKey {
  const aad = wrapAad(userId, kind);
  const record = decode(wrapped, WRAP_LABEL, 1, 3);
  if (record.text(0) !== kind) {
    throw new Malformed("vault wrapping of another kind");
  }
  const plaintext = aesGcmOpen(
    wrappingKey.reveal(),
    record.fixed(1, GCM_NONCE_SIZE),
    record.raw(2),
    aad,
  );
  if (plaintext.length !== KEY_SIZE) {
    throw new Malformed("wrapped vault key must be 32 bytes");
  }
  return new VaultKey(plaintext);
}

/** What the server stores: the sealed contents and the two wrappings of VK. */
export interface SealedVault {
  readonly sealed: Uint8Array;
  readonly passwordWrapping: Uint8Array;
  readonly recoveryWrapping: Uint8Array;
}

/**
 * New vault key; seal `contents`; wrap VK under the password and the recovery key. Also used
 * to re-key the vault on device revocation (new VK, new recovery code).
 */
export function createVault(
  contents: VaultContents,
  userId: string,
  passwordKey: Secret,
  recoveryKey: Secret,
  random: RandomSource,
): [VaultKey, SealedVault] {
  const vaultKey = VaultKey.generate(random);
  const sealed = sealVault(vaultKey, contents, userId, random);
  return [
    vaultKey,
    {
      sealed,
      passwordWrapping: wrapVaultKey(passwordKey, vaultKey, userId, "password", random),
      recoveryWrapping: wrapVaultKey(recoveryKey, vaultKey, userId, "recovery", random),
    },
  ];
}

export function unlockVault(
  vault: SealedVault,
  userId: string,
  wrappingKey: Secret,
  kind: WrapKind = "password",
): [VaultKey, VaultContents] {
  const wrapped = kind === "password" ? vault.passwordWrapping : vault.recoveryWrapping;
  const vaultKey = unwrapVaultKey(wrappingKey, wrapped, userId, kind);
  return [vaultKey, openVault(vaultKey, vault.sealed, userId)];
}

/** Password change: the same VK under the new password key; contents untouched. */
export function rewrapForNewPassword(
  passwordWrapping: Uint8Array,
  userId: string,
  oldPasswordKey: Secret,
  newPasswordKey: Secret,
  random: RandomSource,
): Uint8Array {
  const vaultKey = unwrapVaultKey(oldPasswordKey, passwordWrapping, userId, "password");
  return wrapVaultKey(newPasswordKey, vaultKey, userId, "password", random);
}

/** A (new) recovery wrapping of an unlocked vault key. */
export function addRecoveryWrapping(
  vaultKey: VaultKey,
  userId: string,
  recoveryKey: Secret,
  random: RandomSource,
): Uint8Array {
  return wrapVaultKey(recoveryKey, vaultKey, userId, "recovery", random);
}
