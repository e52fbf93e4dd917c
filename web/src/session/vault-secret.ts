/**
 * The secret that unlocks the vault of a signed-in session: the account's password, or the chat
 * passphrase of an account a sign-in provider created (decision 0007). Its parameters come from
 * the session (`GET /keys/vault/kdf`), never from prelogin by email: prelogin answers with a
 * made-up salt for an account that cannot sign in with a password.
 *
 * Loaded lazily with the crypto core.
 */
import type { ApiClient } from "@/api/client";
import type { SecretKind, VaultOut } from "@/api/types";
import type { PasswordKeys } from "@/crypto/password";
import { derive, kdfFromWire } from "@/session/account-crypto";
import type { Progress } from "@/session/progress";

export interface SecretKeys {
  readonly keys: PasswordKeys;
  /** Unpadded base64url, as the requests that prove the secret send it. */
  readonly authSecret: string;
  readonly kind: SecretKind;
}

/** The typed secret → Argon2id (worker) with the account's parameters. Throws `WeakParameters`
 * when the server asks for less than the minimum. */
export async function secretKeysFor(
  api: ApiClient,
  secret: string,
  onProgress?: Progress,
): Promise<SecretKeys> {
  const { kdf, secret: kind } = await api.vaultKdf();
  const { keys, authSecret } = await derive(secret, kdfFromWire(kdf), onProgress);
  return { keys, authSecret, kind };
}

/** The whole vault, its password wrapping included: `GET /keys/vault` leaves that out for a
 * session that signed in through a provider, so the secret proves itself first. */
export function vaultWithWrapping(api: ApiClient, secret: SecretKeys): Promise<VaultOut> {
  return api.unlockVault(secret.authSecret);
}
