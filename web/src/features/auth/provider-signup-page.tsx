/**
 * A provider's first sign-in (`/auth/provider?outcome=signup`): no account has this email yet.
 * The person picks a display name and a chat passphrase; this browser makes the account's keys
 * as registration does, wrapped by the passphrase, and shows the recovery code once. The
 * provider vouched for the email, so it is shown, not typed.
 */
import { useQuery } from "@tanstack/react-query";
import { useState, type SyntheticEvent } from "react";
import { Link, useNavigate } from "react-router";

import type { PendingSignup } from "@/api/types";
import { usePopup } from "@/components/popup";
import { DisplayNameField, EmailField, NewPasswordFields, useNewPassword } from "@/features/auth/account-fields";
import { AuthCard } from "@/features/auth/auth-card";
import { errorWords } from "@/features/auth/error-words";
import { ProgressLine, SubmitWithProgress, useBusy } from "@/features/auth/progress-line";
import { RecoveryCodeStep } from "@/features/auth/recovery-code-step";
import { useSession, type PendingCode } from "@/session/session";

export function ProviderSignupPage() {
  const { api } = useSession();
  // Once: the sign-up cookie is spent when the account is created.
  const pending = useQuery({
    queryKey: ["pending-signup"],
    queryFn: () => api.pendingSignup(),
    retry: false,
    staleTime: Infinity,
    refetchOnWindowFocus: false,
  });
  if (pending.isPending) {
    return (
      <AuthCard>
        <p className="muted" role="status">
          Loading…
        </p>
      </AuthCard>
    );
  }
  if (pending.isError) {
    const words = errorWords(pending.error, "signup");
    return (
      <AuthCard>
        <h2>{words.title}</h2>
        <p>{words.detail}</p>
        <Link to="/login" className="button primary">
          Back to sign in
        </Link>
      </AuthCard>
    );
  }
  return <SignupForm pending={pending.data} />;
}

function SignupForm({ pending: signup }: { pending: PendingSignup }) {
  const { signUp } = useSession();
  const navigate = useNavigate();
  const { phase, run, onProgress, busy } = useBusy();
  const popup = usePopup();
  const [displayName, setDisplayName] = useState(signup.display_name);
  const passphrase = useNewPassword([displayName, signup.email], "passphrase");
  const [tried, setTried] = useState(false);
  const [created, setCreated] = useState<PendingCode | null>(null);
  const provider = signup.provider_name;

  const submit = async (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    setTried(true);
    if (!(await passphrase.accepted(popup.show))) return;
    await run(
      "queued",
      async () => {
        setCreated(await signUp(displayName.trim(), passphrase.password, onProgress));
      },
      (error) => {
        popup.show(errorWords(error, "signup"));
      },
    );
  };

  const finish = async () => {
    if (created === null) return;
    await run(
      "sending",
      async () => {
        await created.finish();
        void navigate("/", { replace: true });
      },
      (error) => {
        popup.show(errorWords(error));
      },
    );
  };

  return (
    <AuthCard popup={popup}>
      {created !== null ? (
        <>
          <RecoveryCodeStep
            code={created.recoveryCode}
            title="Account created: save your recovery code"
            intro="If you forget your chat passphrase, this code sets a new one."
            continueLabel="Continue to Hushroom"
            secret="chat passphrase"
            busy={busy}
            onConfirmed={() => void finish()}
          />
          <ProgressLine phase={phase} />
        </>
      ) : (
        <>
          <h2>Create your Hushroom account</h2>
          <p>{`You signed in with ${provider}. One more step: a chat passphrase for your messages.`}</p>
          <form onSubmit={(e) => void submit(e)} aria-busy={busy}>
            <EmailField autoComplete="email" value={signup.email} readOnly />
            <DisplayNameField value={displayName} onChange={setDisplayName} disabled={busy} />
            <NewPasswordFields
              value={passphrase}
              busy={busy}
              label="Chat passphrase"
              noun="passphrase"
              invalid={tried && !passphrase.strength.acceptable}
            />
            <p className="hint" data-testid="provider-explainer">
              {provider} only confirms who you are. Your messages are encrypted with keys that your
              chat passphrase unlocks, in this browser; {provider} never receives it, and neither
              does our server. You'll type it when you sign in on a new device. If you forget it
              and lose your recovery code (shown next), private history can't be recovered — by
              design.
            </p>
            <SubmitWithProgress label="Create account" busy={busy} phase={phase} />
          </form>
          <p>
            Changed your mind? <Link to="/login">Back to sign in</Link>
          </p>
        </>
      )}
    </AuthCard>
  );
}
