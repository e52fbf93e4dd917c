/**
 * The locked page's way out when the password or chat passphrase is forgotten: the recovery code
 * opens the vault here and a new secret wraps it again, as "Forgot password?" does. That ends
 * every session, this one too: after the new recovery code was seen, the person signs in again
 * (one click on the sign-in page for a provider) and unlocks with the new secret.
 */
import { useState, type SyntheticEvent } from "react";
import { useNavigate } from "react-router";

import type { SecretKind } from "@/api/types";
import { usePopup } from "@/components/popup";
import { NewPasswordFields, useNewPassword } from "@/features/auth/account-fields";
import type { SecretResetNotice } from "@/features/auth/auth-pages";
import { AuthCard } from "@/features/auth/auth-card";
import { errorWords, secretName } from "@/features/auth/error-words";
import { SubmitWithProgress, useBusy } from "@/features/auth/progress-line";
import { RecoveryCodeStep } from "@/features/auth/recovery-code-step";
import { useSession, type PendingCode } from "@/session/session";

export function UnlockWithRecoveryCode({
  secret,
  onCancel,
}: {
  secret: SecretKind;
  onCancel: () => void;
}) {
  const { recoverLocked } = useSession();
  const navigate = useNavigate();
  const { phase, run, onProgress, busy } = useBusy();
  const popup = usePopup();
  const [code, setCode] = useState("");
  const newSecret = useNewPassword([], secret);
  const [pending, setPending] = useState<PendingCode | null>(null);
  const name = secretName(secret);
  const newLabel = secret === "password" ? "New password" : "New chat passphrase";

  const submit = async (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (!(await newSecret.accepted(popup.show))) return;
    await run(
      "queued",
      async () => {
        setPending(await recoverLocked(code, newSecret.password, onProgress));
      },
      (error) => {
        popup.show(errorWords(error, "own-recovery"));
      },
    );
  };

  const finish = () => {
    if (pending === null) return;
    const notice: SecretResetNotice = { secretReset: secret };
    // To the sign-in page first: signing out here would send the locked page there anyway,
    // without the notice.
    void navigate("/login", { replace: true, state: notice });
    void pending.finish();
  };

  return (
    <AuthCard popup={popup}>
      {pending !== null ? (
        <RecoveryCodeStep
          code={pending.recoveryCode}
          title={`New ${name} set: here is your new recovery code`}
          intro="The code you just used no longer works. Save this one instead. You were signed out everywhere, here too: sign in again next."
          continueLabel="Continue to sign in"
          secret={name}
          onConfirmed={finish}
        />
      ) : (
        <>
          <h2>{`Set a new ${name}`}</h2>
          <p className="hint">
            Your recovery code unlocks your keys in this browser; nobody else sees it. A new {name}{" "}
            then protects them, and you sign in again everywhere.
          </p>
          <form onSubmit={(e) => void submit(e)} aria-busy={busy}>
            <label>
              Recovery code
              <input
                name="recovery_code"
                autoComplete="off"
                spellCheck={false}
                autoCapitalize="characters"
                placeholder="XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX"
                required
                value={code}
                onChange={(e) => {
                  setCode(e.target.value);
                }}
                disabled={busy}
              />
            </label>
            <NewPasswordFields
              value={newSecret}
              busy={busy}
              label={newLabel}
              named={false}
              noun={secret}
            />
            <SubmitWithProgress label={`Set new ${name}`} busy={busy} phase={phase} />
          </form>
          <button type="button" className="ghost" onClick={onCancel} disabled={busy}>
            {`Back to unlocking with your ${name}`}
          </button>
        </>
      )}
    </AuthCard>
  );
}
