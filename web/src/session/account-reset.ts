/**
 * Account reset, when both the password and the recovery code are lost (docs/protocol.md
 * "Accounts and sessions", `POST /auth/reset-account`): the operator's one-time reset code stands
 * in for both. Nothing of the old keys can be opened, so everything is new: a new identity, PUK
 * generation 1, a vault under a new password and a new recovery code, and this browser as the
 * account's only device. Old private history stays unreadable by design; contacts see the key
 * change.
 *
 * The vault and the certificates bind the user id, which the email alone does not tell the
 * browser: the reset code first names the account (`/reset-account/start`), then the keys are
 * made for that id and uploaded.
 */
import type { ApiClient } from "@/api/client";
import type { Progress } from "@/session/progress";
import { createAccount, signInLater, type Registered } from "@/session/unlock";

/** The reset is done; `finish` signs in as the new device once the code was confirmed. */
export type AccountReset = Registered;

/** The code as the operator's terminal showed it, without the spaces a copy may bring along. */
export function cleanResetCode(text: string): string {
  return text.replaceAll(/\s/g, "");
}

export async function resetAccount(
  api: ApiClient,
  email: string,
  resetCode: string,
  newPassword: string,
  onProgress?: Progress,
): Promise<AccountReset> {
  const code = cleanResetCode(resetCode);
  // A wrong or spent code fails here, before the seconds of Argon2id.
  onProgress?.("sending");
  const { user_id: userId } = await api.resetAccountStart(email, code);
  const created = await createAccount(userId, newPassword, onProgress);
  await api.resetAccount({ email, reset_code: code, ...created.upload });
  return signInLater(api, email, created);
}
