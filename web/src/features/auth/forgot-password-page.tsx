/**
 * "Forgot password?": email + recovery code + new password. The code unlocks the vault here,
 * the new password and a fresh recovery code wrap it again; then the new code is shown once and
 * the person is signed in.
 */
import { useState, type SyntheticEvent } from "react";
import { Link, useNavigate } from "react-router";

import { usePopup } from "@/components/popup";
import { AuthCard } from "@/features/auth/auth-card";
import { errorWords } from "@/features/auth/error-words";
import { EmailField, NewPasswordFields, useNewPassword } from "@/features/auth/account-fields";
import { ProgressLine, SubmitWithProgress, useBusy } from "@/features/auth/progress-line";
import { RecoveryCodeStep } from "@/features/auth/recovery-code-step";
import { useSession, type PendingCode } from "@/session/session";

export function ForgotPasswordPage() {
  const { recover } = useSession();
  const navigate = useNavigate();
  const { phase, run, onProgress, busy } = useBusy();
  const popup = usePopup();
  const [email, setEmail] = useState("");
  const [code, setCode] = useState("");
  const newPassword = useNewPassword([email]);
  const [pending, setPending] = useState<PendingCode | null>(null);

  const submit = async (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (!(await newPassword.accepted(popup.show))) return;
    await run(
      "queued",
      async () => {
        setPending(await recover(email.trim(), code, newPassword.password, onProgress));
      },
      (error) => {
        popup.show(errorWords(error, "recovery"));
      },
    );
  };

  const finish = async () => {
    if (pending === null) return;
    await run(
      "sending",
      async () => {
        await pending.finish(onProgress);
        void navigate("/", { replace: true });
      },
      (error) => {
        popup.show(errorWords(error));
      },
    );
  };

  return (
    <AuthCard popup={popup}>
      {pending !== null ? (
        <>
          <RecoveryCodeStep
            code={pending.recoveryCode}
            title="New password set: here is your new recovery code"
            intro="The code you just used no longer works. Save this one instead."
            continueLabel="Continue to Hushroom"
            busy={busy}
            onConfirmed={() => void finish()}
          />
          <ProgressLine phase={phase} />
        </>
      ) : (
        <>
          <h2>Set a new password</h2>
          <p className="hint">
            Your recovery code unlocks your keys on this device; the server never sees your
            password or your private messages.
          </p>
          <form onSubmit={(e) => void submit(e)} aria-busy={busy}>
            <EmailField
              value={email}
              onChange={(e) => {
                setEmail(e.target.value);
              }}
              disabled={busy}
            />
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
            <NewPasswordFields value={newPassword} busy={busy} label="New password" />
            <SubmitWithProgress label="Set new password" busy={busy} phase={phase} />
          </form>
        </>
      )}
      <p>
        Remembered it? <Link to="/login">Sign in</Link>
      </p>
    </AuthCard>
  );
}
