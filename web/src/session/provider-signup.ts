/**
 * A first sign-in through a provider (decision 0007): the provider vouched for an email, the
 * server keeps that in the sign-up cookie, and this browser now makes the account's keys exactly
 * as registration does, wrapped by a chat passphrase instead of a password. The provider never
 * sees the passphrase or anything derived from it; the server gets what registration gives it
 * (the auth secret and the sealed vault), never the vault key.
 *
 * Loaded lazily with the crypto core; the session calls it.
 */
import type { ApiClient } from "@/api/client";
import { openVault } from "@/crypto/vault";
import { vaultFromWire } from "@/session/account-crypto";
import type { Progress } from "@/session/progress";
import { createAccount, persist, unlockedFrom, type SignedIn } from "@/session/unlock";

/** The account is created and this browser unlocked; `recoveryCode` is still to be shown once. */
export interface SignedUp extends SignedIn {
  readonly recoveryCode: NonNullable<SignedIn["recoveryCode"]>;
}

export async function signUpWithProvider(
  api: ApiClient,
  displayName: string,
  passphrase: string,
  onProgress?: Progress,
): Promise<SignedUp> {
  // The client chooses both ids: the vault and the device certificate bind them (decision 0003).
  const userId = crypto.randomUUID();
  const created = await createAccount(userId, passphrase, onProgress);
  const tokens = await api.completeSignup({ user_id: userId, display_name: displayName, ...created.upload });
  // The session is the device the upload created and certified, so nothing is certified here.
  const vault = await api.vault();
  // Opening what the server stored (with the key we made) proves it kept it intact. A provider
  // session's vault comes without the password wrapping; the sealed vault is all this needs.
  const contents = openVault(created.account.vaultKey, vaultFromWire(vault).sealed, userId);
  const keys = unlockedFrom(
    userId,
    created.deviceId,
    contents,
    created.account.vaultKey,
    vault.vault_version,
    created.device,
  );
  await persist(keys);
  return { keys, tokens, recoveryCode: created.account.recoveryCode };
}
