/**
 * Changes to the vault from the settings page: a new password or chat passphrase (the same vault
 * key re-wrapped) and a device revocation (a re-key: new vault key, next PUK generation, new
 * recovery code). Both are compare-and-swap on `vault_version` (decision 0003): on
 * `vault_version_conflict` another re-key won, so reload the vault and try once more on top of it.
 *
 * The current secret is derived with the session's own parameters (`vault-secret`), and the
 * vault comes from `POST /keys/vault/unlock`: a session that signed in through a provider gets
 * no password wrapping from `GET /keys/vault`.
 */
import type { ApiClient } from "@/api/client";
import { ApiError } from "@/api/errors";
import { rekeyAccount } from "@/crypto/account";
import { b64urlEncode } from "@/crypto/encoding";
import type { RecoveryCode } from "@/crypto/recovery";
import { rewrapForNewPassword, unlockVault } from "@/crypto/vault";
import { browserRandom, derive, newKdfParams, newPasswordToWire, vaultFromWire, vaultToWire } from "@/session/account-crypto";
import type { Progress } from "@/session/progress";
import type { UnlockedKeys } from "@/session/unlocked-keys";
import { persist, unlockedFrom } from "@/session/unlock";
import { secretKeysFor, vaultWithWrapping } from "@/session/vault-secret";

async function withOneRetry<T>(attempt: () => Promise<T>): Promise<T> {
  try {
    return await attempt();
  } catch (error) {
    if (error instanceof ApiError && error.code === "vault_version_conflict") return attempt();
    throw error;
  }
}

export async function changePassword(
  api: ApiClient,
  keys: UnlockedKeys,
  currentPassword: string,
  newPassword: string,
  keepOtherSessions: boolean,
  onProgress?: Progress,
): Promise<UnlockedKeys> {
  const current = await secretKeysFor(api, currentPassword, onProgress);
  const params = newKdfParams();
  const next = await derive(newPassword, params, onProgress);
  onProgress?.("sending");
  await withOneRetry(async () => {
    const vault = await vaultWithWrapping(api, current);
    // Unwrapping with the typed current password checks the wrapping really opens with it.
    const passwordWrapping = rewrapForNewPassword(
      vaultFromWire(vault).passwordWrapping,
      keys.userId,
      current.keys.passwordKey,
      next.keys.passwordKey,
      browserRandom,
    );
    await api.changePassword({
      current_auth_secret: current.authSecret,
      ...newPasswordToWire(params, next.authSecret),
      password_wrapping: b64urlEncode(passwordWrapping),
      vault_version: vault.vault_version,
      keep_other_sessions: keepOtherSessions,
    });
  });
  const vault = await api.vault();
  return { ...keys, vaultVersion: vault.vault_version };
}

export interface Revoked {
  readonly keys: UnlockedKeys;
  readonly recoveryCode: RecoveryCode;
}

export async function revokeDevice(
  api: ApiClient,
  keys: UnlockedKeys,
  password: string,
  deviceId: string,
  onProgress?: Progress,
): Promise<Revoked> {
  const secret = await secretKeysFor(api, password, onProgress);
  const passwordKey = secret.keys.passwordKey;
  onProgress?.("sending");
  return withOneRetry(async () => {
    const vault = await vaultWithWrapping(api, secret);
    // Re-key on top of the vault as stored now (another device may have added a generation).
    const [, contents] = unlockVault(vaultFromWire(vault), keys.userId, passwordKey);
    const next = await rekeyAccount(keys.userId, contents, passwordKey, Date.now(), browserRandom);
    const out = await api.revokeDevice(deviceId, {
      auth_secret: secret.authSecret,
      vault_version: vault.vault_version,
      vault: vaultToWire(next.vault),
      recovery_auth: b64urlEncode(next.recoveryAuth),
      puk_certificate: b64urlEncode(next.pukCertificate),
    });
    const updated = unlockedFrom(
      keys.userId,
      keys.deviceId,
      next.contents,
      next.vaultKey,
      out.vault_version,
      keys.device,
    );
    await persist(updated);
    return { keys: updated, recoveryCode: next.recoveryCode };
  });
}
