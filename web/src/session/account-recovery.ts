/**
 * "Forgot password": the recovery code proves itself to the server (§6.5 authenticator), the
 * server hands over the sealed vault and its recovery wrapping, the code unwraps the vault key
 * here, and the vault key is wrapped again under a new password and a fresh recovery code.
 */
import type { ApiClient } from "@/api/client";
import { b64urlEncode } from "@/crypto/encoding";
import { generateRecoveryCode, parseRecoveryCode, type RecoveryCode } from "@/crypto/recovery";
import { unlockVault, wrapVaultKey } from "@/crypto/vault";
import type { PasswordKeys } from "@/crypto/password";
import { browserRandom, derive, newKdfParams, newPasswordToWire, vaultFromWire } from "@/session/account-crypto";
import type { Progress } from "@/session/progress";

export interface Recovered {
  /** The fresh code (the one typed in no longer works). */
  readonly recoveryCode: RecoveryCode;
  /** To sign in without a second Argon2id run. */
  readonly passwordKeys: PasswordKeys;
}

/** Throws `InvalidRecoveryCode` (a typo) before anything is sent. */
export async function resetPasswordWithCode(
  api: ApiClient,
  email: string,
  codeText: string,
  newPassword: string,
  onProgress?: Progress,
): Promise<Recovered> {
  const code = parseRecoveryCode(codeText);
  const recoveryAuth = b64urlEncode(code.recoveryAuth());
  const out = await api.recoveryVault(email, recoveryAuth);
  // Opening the vault checks the code really unwraps it before the password is replaced.
  const [vaultKey] = unlockVault(vaultFromWire(out), out.user_id, code.recoveryKey(), "recovery");
  const params = newKdfParams();
  const { keys, authSecret } = await derive(newPassword, params, onProgress);
  onProgress?.("sending");
  const fresh = generateRecoveryCode(browserRandom);
  await api.recoveryReset({
    email,
    recovery_auth: recoveryAuth,
    ...newPasswordToWire(params, authSecret),
    password_wrapping: b64urlEncode(
      wrapVaultKey(keys.passwordKey, vaultKey, out.user_id, "password", browserRandom),
    ),
    recovery_wrapping: b64urlEncode(
      wrapVaultKey(fresh.recoveryKey(), vaultKey, out.user_id, "recovery", browserRandom),
    ),
    new_recovery_auth: b64urlEncode(fresh.recoveryAuth()),
    vault_version: out.vault_version,
  });
  return { recoveryCode: fresh, passwordKeys: keys };
}
