/**
 * Sign in and registration. Argon2id runs in a worker; the page shows progress, never freezes.
 * A new account (or an old one's first login with real keys) shows its recovery code once.
 * Under both forms: the sign-in providers the server offers ("Continue with Google").
 */
import { useState, type SyntheticEvent } from "react";
import { Link, useLocation, useNavigate } from "react-router";

import { useProviders } from "@/api/queries";
import type { SecretKind } from "@/api/types";
import { usePopup } from "@/components/popup";
import { AuthCard } from "@/features/auth/auth-card";
import { errorWords, loginErrorWords } from "@/features/auth/error-words";
import {
  CurrentPasswordField,
  DisplayNameField,
  EmailField,
  NewPasswordFields,
  useNewPassword,
} from "@/features/auth/account-fields";
import { ProgressLine, SubmitWithProgress, useBusy } from "@/features/auth/progress-line";
import { ProviderButtons } from "@/features/auth/provider-buttons";
import { RecoveryCodeStep } from "@/features/auth/recovery-code-step";
import { field } from "@/components/form";
import { useSession, type Entry, type PendingCode } from "@/session/session";

/** What the page says after the locked page's recovery code set a new secret (router state). */
export interface SecretResetNotice {
  readonly secretReset: SecretKind;
}

function secretResetFrom(state: unknown): SecretKind | null {
  if (typeof state !== "object" || state === null || !("secretReset" in state)) return null;
  const secret = state.secretReset;
  return secret === "password" || secret === "passphrase" ? secret : null;
}

export function LoginPage() {
  const { login, state } = useSession();
  const navigate = useNavigate();
  const location = useLocation();
  const { phase, run, onProgress, busy } = useBusy();
  const popup = usePopup();
  const providers = useProviders();
  const [setUp, setSetUp] = useState<Entry | null>(null);
  const secretReset = secretResetFrom(location.state);
  const showError = (error: unknown) => {
    popup.show(loginErrorWords(error, (providers.data ?? []).map((p) => p.name)));
  };

  const submit = async (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const email = field(form, "email").trim();
    const password = field(form, "password");
    await run(
      "queued",
      async () => {
        const entry = await login(email, password, onProgress);
        if (entry.recoveryCode === null) {
          entry.enter();
          void navigate("/", { replace: true });
        } else {
          setSetUp(entry);
        }
      },
      showError,
    );
  };

  if (setUp?.recoveryCode != null) {
    return (
      <AuthCard>
        <RecoveryCodeStep
          code={setUp.recoveryCode}
          title="Encryption is set up"
          intro="Your account now has its own keys for private messages. This is their recovery code."
          onConfirmed={() => {
            setUp.enter();
            void navigate("/", { replace: true });
          }}
        />
      </AuthCard>
    );
  }

  return (
    <AuthCard popup={popup}>
      <h2>Sign in</h2>
      {secretReset === "passphrase" ? (
        <p className="notice" role="status">
          Your new chat passphrase is set, and you were signed out everywhere. Continue with the
          service you sign in with, then unlock your messages with the new passphrase.
        </p>
      ) : secretReset === "password" ? (
        <p className="notice" role="status">
          Your new password is set, and you were signed out everywhere. Sign in with it again.
        </p>
      ) : (
        state.status === "anonymous" &&
        state.expired && (
          <p className="notice" role="status">
            Your session ended. Sign in again — your drafts are kept.
          </p>
        )
      )}
      <form onSubmit={(e) => void submit(e)} aria-busy={busy}>
        <EmailField disabled={busy} />
        <CurrentPasswordField name="password" disabled={busy} />
        <SubmitWithProgress label="Sign in" busy={busy} phase={phase} />
      </form>
      <ProviderButtons onError={popup.show} disabled={busy} />
      <p>
        <Link to="/forgot-password">Forgot password?</Link>
      </p>
      <p>
        New here? <Link to="/register">Create an account</Link>
      </p>
    </AuthCard>
  );
}

export function RegisterPage() {
  const { register } = useSession();
  const navigate = useNavigate();
  const { phase, run, onProgress, busy } = useBusy();
  const popup = usePopup();
  const [displayName, setDisplayName] = useState("");
  const [email, setEmail] = useState("");
  const newPassword = useNewPassword([displayName, email]);
  const [tried, setTried] = useState(false);
  const [pending, setPending] = useState<PendingCode | null>(null);
  const showError = (error: unknown) => {
    popup.show(errorWords(error));
  };

  const submit = async (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    setTried(true);
    if (!(await newPassword.accepted(popup.show))) return;
    await run(
      "queued",
      async () => {
        setPending(await register(displayName.trim(), email.trim(), newPassword.password, onProgress));
      },
      showError,
    );
  };

  const finish = async () => {
    if (pending === null) return;
    await run(
      "sending",
      async () => {
        await pending.finish();
        void navigate("/", { replace: true });
      },
      showError,
    );
  };

  return (
    <AuthCard popup={popup}>
      <h2>Create your account</h2>
      {pending !== null ? (
        <>
          <RecoveryCodeStep
            code={pending.recoveryCode}
            title="Account created: save your recovery code"
            continueLabel="Continue to Hushroom"
            busy={busy}
            onConfirmed={() => void finish()}
          />
          <ProgressLine phase={phase} />
        </>
      ) : (
        <form onSubmit={(e) => void submit(e)} aria-busy={busy} noValidate={false}>
          <DisplayNameField value={displayName} onChange={setDisplayName} disabled={busy} />
          <EmailField
            autoComplete="email"
            value={email}
            onChange={(e) => {
              setEmail(e.target.value);
            }}
            disabled={busy}
          />
          <NewPasswordFields
            value={newPassword}
            busy={busy}
            invalid={tried && !newPassword.strength.acceptable}
          />
          <p className="hint">
            Your password unlocks your private messages. If you forget it (and lose your recovery
            code), private history can't be recovered — by design.
          </p>
          <SubmitWithProgress label="Create account" busy={busy} phase={phase} />
        </form>
      )}
      {pending === null && <ProviderButtons onError={popup.show} disabled={busy} />}
      <p>
        Already have an account? <Link to="/login">Sign in</Link>
      </p>
    </AuthCard>
  );
}
