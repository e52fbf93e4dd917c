/**
 * Getting this browser to unlocked keys (decision 0003): registration, sign-in (with the
 * one-time set-up for accounts created before real keys, and the certificate of a new
 * browser's device key), a reload (restored from IndexedDB), and unlocking with the password or
 * chat passphrase when this browser's keys can't open the vault: another device re-keyed it, or
 * a sign-in through a provider brought a session but no keys (decision 0007).
 *
 * Loaded lazily with the crypto core; the session calls it.
 */
import type { ApiClient } from "@/api/client";
import { ApiError } from "@/api/errors";
import type { LoginOut, NewAccountKeysWire, SecretKind, VaultOut } from "@/api/types";
import { createAccountKeys, type AccountKeys } from "@/crypto/account";
import { certifyDevice } from "@/crypto/device";
import { b64urlEncode } from "@/crypto/encoding";
import { DecryptionFailed } from "@/crypto/errors";
import { IdentityKey } from "@/crypto/identity";
import type { PasswordKeys } from "@/crypto/password";
import type { RecoveryCode } from "@/crypto/recovery";
import { openVault, unlockVault, VaultKey, type VaultContents } from "@/crypto/vault";
import { WebCryptoDeviceKey } from "@/lib/webcrypto-device-key";
import {
  browserRandom,
  derive,
  kdfFromWire,
  newKdfParams,
  newPasswordToWire,
  vaultFromWire,
  vaultToWire,
} from "@/session/account-crypto";
import { deviceName } from "@/session/device-name";
import type { Progress } from "@/session/progress";
import type { UnlockedKeys } from "@/session/unlocked-keys";
import { secretKeysFor, vaultWithWrapping } from "@/session/vault-secret";
import { browserUnlockedState as store } from "@/storage/unlocked-state-store";

/** Keys that opened, and (after a set-up) the recovery code to show once before entering. */
export interface SignedIn {
  readonly keys: UnlockedKeys;
  readonly tokens: LoginOut;
  readonly recoveryCode: RecoveryCode | null;
}

export function unlockedFrom(
  userId: string,
  deviceId: string,
  contents: VaultContents,
  vaultKey: VaultKey,
  vaultVersion: number,
  device: WebCryptoDeviceKey,
): UnlockedKeys {
  return {
    userId,
    deviceId,
    identity: IdentityKey.fromSeed(contents.identitySeed),
    contents,
    vaultKey,
    vaultVersion,
    device,
  };
}

/** Keep the keys across reloads (see `unlocked-state-store`). */
export async function persist(keys: UnlockedKeys): Promise<void> {
  await store.save({
    userId: keys.userId,
    deviceId: keys.deviceId,
    deviceKeyPair: keys.device.keyPair,
    vaultKey: keys.vaultKey.reveal(),
  });
}

export async function forget(): Promise<void> {
  await store.clear();
}

/**
 * User Timing entries for the vault-unlock benchmark (web/bench/vault-unlock.bench.ts), visible in
 * the browser's performance timeline: `hushroom:argon2id` (the worker's Argon2id and the HKDF),
 * `hushroom:vault-open` (unwrap the vault key, open the vault) and `hushroom:unlock` (from the
 * password's prelogin to keys stored). Marks only; nothing waits on them.
 */
const UNLOCK_START = "hushroom:unlock-start";

function measureSince(name: string, startMark: string): void {
  try {
    performance.measure(name, startMark);
  } catch {
    // The start mark is missing (keys derived elsewhere): nothing to measure.
  }
}

/** Password → Argon2id (worker) with the account's parameters from prelogin. */
export async function passwordKeysFor(
  api: ApiClient,
  email: string,
  password: string,
  onProgress?: Progress,
): Promise<PasswordKeys> {
  performance.mark(UNLOCK_START);
  const pre = await api.prelogin(email);
  const params = kdfFromWire(pre.kdf);
  performance.mark("hushroom:argon2id-start");
  const { keys } = await derive(password, params, onProgress);
  measureSince("hushroom:argon2id", "hushroom:argon2id-start");
  return keys;
}

/** New keys uploaded (registration, account reset); `finish` signs in as their device once the
 * code was confirmed. */
export interface Registered {
  readonly recoveryCode: RecoveryCode;
  readonly finish: () => Promise<SignedIn>;
}

/** A new account's keys under a new password, with this browser's new device certified. */
export interface CreatedAccount {
  readonly account: AccountKeys;
  readonly deviceId: string;
  readonly device: WebCryptoDeviceKey;
  readonly authSecret: string;
  /** The keys as registration and account reset upload them. */
  readonly upload: NewAccountKeysWire;
}

/** Argon2id of the new password (worker) and the device key at once, then the keys for `userId`. */
export async function createAccount(
  userId: string,
  password: string,
  onProgress?: Progress,
): Promise<CreatedAccount> {
  const params = newKdfParams();
  const [{ keys: passwordKeys, authSecret }, device] = await Promise.all([
    derive(password, params, onProgress),
    WebCryptoDeviceKey.generate(),
  ]);
  onProgress?.("sending");
  const deviceId = crypto.randomUUID();
  const account = await newAccountKeys(userId, deviceId, passwordKeys, device);
  return {
    account,
    deviceId,
    device,
    authSecret,
    upload: {
      ...newPasswordToWire(params, authSecret),
      identity_key: b64urlEncode(account.identity.publicKey),
      puk_certificate: b64urlEncode(account.pukCertificate),
      device: { device_id: deviceId, name: deviceName(), certificate: b64urlEncode(certificate(account)) },
      vault: vaultToWire(account.vault),
      recovery_auth: b64urlEncode(account.recoveryAuth),
    },
  };
}

/**
 * After the upload: the recovery code to show once, and signing in as the device the upload
 * created (the server knows its id and certificate already, so nothing is certified here).
 */
export function signInLater(api: ApiClient, email: string, created: CreatedAccount): Registered {
  const { account, authSecret, deviceId, device } = created;
  return {
    recoveryCode: account.recoveryCode,
    finish: async () => {
      const userId = account.userId;
      const tokens = await api.login(email, authSecret, deviceName(), deviceId);
      const vault = await api.vault();
      // Opening what the server stored (with the key we made) proves it kept it intact.
      const contents = openVault(account.vaultKey, vaultFromWire(vault).sealed, userId);
      const keys = unlockedFrom(userId, deviceId, contents, account.vaultKey, vault.vault_version, device);
      await persist(keys);
      return { keys, tokens, recoveryCode: null };
    },
  };
}

export async function registerAccount(
  api: ApiClient,
  displayName: string,
  email: string,
  password: string,
  onProgress?: Progress,
): Promise<Registered> {
  // The client chooses both ids: the vault and the device certificate bind them (decision 0003).
  const userId = crypto.randomUUID();
  const created = await createAccount(userId, password, onProgress);
  await api.register({ user_id: userId, display_name: displayName, email, ...created.upload });
  return signInLater(api, email, created);
}

/** A new account's keys, wrapped with the password and with this browser's device certified. */
function newAccountKeys(
  userId: string,
  deviceId: string,
  passwordKeys: PasswordKeys,
  device: WebCryptoDeviceKey,
): Promise<AccountKeys> {
  return createAccountKeys(
    userId,
    passwordKeys.passwordKey,
    Date.now(),
    { deviceId, publicKey: device.publicKey },
    browserRandom,
  );
}

function certificate(account: AccountKeys): Uint8Array {
  if (account.deviceCertificate === null) throw new Error("no device certificate");
  return account.deviceCertificate;
}

/**
 * Sign in on any browser with already derived password keys: log in, then set up keys (first
 * login of an account from before real keys) or fetch and unlock the vault and certify this
 * browser's new device key.
 */
export async function signInWithKeys(
  api: ApiClient,
  email: string,
  passwordKeys: PasswordKeys,
  onProgress?: Progress,
): Promise<SignedIn> {
  onProgress?.("sending");
  const authSecret = b64urlEncode(passwordKeys.authSecret.reveal());
  const tokens = await api.login(email, authSecret, deviceName());
  const userId = tokens.user_id;
  const deviceId = tokens.device_id;
  const device = await WebCryptoDeviceKey.generate();
  if (tokens.keys === "setup_required") {
    const account = await newAccountKeys(userId, deviceId, passwordKeys, device);
    await api.setupKeys({
      identity_key: b64urlEncode(account.identity.publicKey),
      puk_certificate: b64urlEncode(account.pukCertificate),
      device_certificate: b64urlEncode(certificate(account)),
      vault: vaultToWire(account.vault),
      recovery_auth: b64urlEncode(account.recoveryAuth),
    });
    const vault = await api.vault();
    const keys = unlockedFrom(userId, deviceId, account.contents, account.vaultKey, vault.vault_version, device);
    await persist(keys);
    return { keys, tokens, recoveryCode: account.recoveryCode };
  }
  const vault = await api.vault();
  performance.mark("hushroom:vault-open-start");
  const [vaultKey, contents] = unlockVault(vaultFromWire(vault), userId, passwordKeys.passwordKey);
  measureSince("hushroom:vault-open", "hushroom:vault-open-start");
  const keys = unlockedFrom(userId, deviceId, contents, vaultKey, vault.vault_version, device);
  if (!tokens.device_certified) {
    const cert = certifyDevice(keys.identity, userId, deviceId, device.publicKey, Date.now());
    await api.certifyDevice(deviceId, b64urlEncode(cert.encoded));
  }
  await persist(keys);
  measureSince("hushroom:unlock", UNLOCK_START);
  return { keys, tokens, recoveryCode: null };
}

/** Why the session is locked: what the page asking for the secret tells the person. */
export type LockReason =
  /** This browser's stored vault key no longer opens the vault (another device re-keyed it). */
  | "keys_changed"
  /** A sign-in through a provider: a session, but no keys in this browser yet. */
  | "new_device";

export type Restored =
  | { readonly kind: "unlocked"; readonly keys: UnlockedKeys }
  /** Signed in, but the password or chat passphrase (`secret`) has to open the vault here. */
  | { readonly kind: "locked"; readonly secret: SecretKind; readonly reason: LockReason }
  /** Nothing usable stored for this session's device: sign in again. */
  | { readonly kind: "none" };

async function locked(api: ApiClient, reason: LockReason): Promise<Restored> {
  const { secret } = await api.vaultKdf();
  return { kind: "locked", secret, reason };
}

/**
 * A session without this browser's keys. A password sign-in always brings them, so that one
 * signs in again. A provider sign-in never does: the server leaves the password wrapping out of
 * its vault, and the password or passphrase opens the vault here (decision 0007).
 */
async function keyless(api: ApiClient): Promise<Restored> {
  let vault: VaultOut;
  try {
    vault = await api.vault();
  } catch (error) {
    // An account without keys yet (set up at its next password sign-in): sign in again.
    if (error instanceof ApiError && error.status < 500) return { kind: "none" };
    throw error;
  }
  return vault.password_wrapping === undefined ? locked(api, "new_device") : { kind: "none" };
}

/** After a reload: the session came back through the refresh cookie; now the keys. */
export async function restore(api: ApiClient, userId: string, deviceId: string): Promise<Restored> {
  const stored = await store.load().catch(() => null);
  if (stored?.userId !== userId || stored.deviceId !== deviceId) return keyless(api);
  if (stored.vaultKey === null) return locked(api, "keys_changed");
  const device = await WebCryptoDeviceKey.fromKeyPair(stored.deviceKeyPair);
  const vault = await api.vault();
  const vaultKey = new VaultKey(stored.vaultKey);
  try {
    const contents = openVault(vaultKey, vaultFromWire(vault).sealed, userId);
    return {
      kind: "unlocked",
      keys: unlockedFrom(userId, deviceId, contents, vaultKey, vault.vault_version, device),
    };
  } catch (error) {
    if (error instanceof DecryptionFailed) return locked(api, "keys_changed");
    throw error;
  }
}

/**
 * The locked state: the password or chat passphrase opens the vault. The device key stays when
 * this browser has the session's device; after a provider sign-in it has none yet, so a new one
 * is made and certified here, as a password sign-in on a new browser does.
 */
export async function unlockWithSecret(
  api: ApiClient,
  userId: string,
  deviceId: string,
  secret: string,
  onProgress?: Progress,
): Promise<UnlockedKeys> {
  const secretKeys = await secretKeysFor(api, secret, onProgress);
  onProgress?.("sending");
  const vault = await vaultWithWrapping(api, secretKeys);
  const [vaultKey, contents] = unlockVault(vaultFromWire(vault), userId, secretKeys.keys.passwordKey);
  const stored = await store.load().catch(() => null);
  const known = stored?.userId === userId && stored.deviceId === deviceId;
  const device = known
    ? await WebCryptoDeviceKey.fromKeyPair(stored.deviceKeyPair)
    : await WebCryptoDeviceKey.generate();
  const keys = unlockedFrom(userId, deviceId, contents, vaultKey, vault.vault_version, device);
  if (!known) {
    const cert = certifyDevice(keys.identity, userId, deviceId, device.publicKey, Date.now());
    await api.certifyDevice(deviceId, b64urlEncode(cert.encoded));
  }
  await persist(keys);
  return keys;
}
