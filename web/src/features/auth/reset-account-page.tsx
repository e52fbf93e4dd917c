/**
 * "Lost your recovery code too?": an account reset with a one-time code from the server's
 * operator. What a reset costs is said in plain words before anything happens, and the form
 * won't go until the person ticks that they understand; then a new identity, password and
 * recovery code (shown once), and the person is signed in.
 */
import { useId, useState, type SyntheticEvent } from "react";
import { Link } from "react-router";

import { CodeFormCard, CodeFormFields, useCodeForm } from "@/features/auth/code-form";
import { SubmitWithProgress } from "@/features/auth/progress-line";
import { useSession } from "@/session/session";

export function ResetAccountPage() {
  const { resetAccount } = useSession();
  const form = useCodeForm(resetAccount, "reset");
  const { busy, phase } = form;
  const [understood, setUnderstood] = useState(false);
  const [tried, setTried] = useState(false);
  const warningId = useId();
  const understoodError = useId();

  const submit = async (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    setTried(true);
    if (!understood) return;
    await form.submit();
  };

  return (
    <CodeFormCard
      form={form}
      title="Account reset: here is your new recovery code"
      intro="Your account has a new identity and a new password. Save this code: with it you can set a new password next time, without the operator."
    >
      <h2>Reset your account</h2>
      <div className="notice reset-warning" id={warningId} data-testid="reset-warning">
        <p>
          Without your password and your recovery code, nobody can unlock your keys — not even
          the people who run this server. A reset starts your encryption over:
        </p>
        <ul>
          <li>
            Ask the server's operator for a reset code. They give it to you; it works once, for
            24 hours.
          </li>
          <li>You get a new identity, a new password and a new recovery code.</li>
          <li>
            <strong>Your old private messages can no longer be read by anyone</strong>, by
            design. Nobody can bring them back.
          </li>
          <li>Your contacts will see that your keys changed.</li>
          <li>Every device signed in to your account is signed out.</li>
        </ul>
      </div>
      <form onSubmit={(e) => void submit(e)} aria-busy={busy} aria-describedby={warningId}>
        <CodeFormFields form={form} codeLabel="Reset code" codeInput={{ name: "reset_code" }} />
        <label className="checkbox">
          <input
            type="checkbox"
            name="understood"
            checked={understood}
            aria-invalid={tried && !understood}
            aria-describedby={tried && !understood ? understoodError : undefined}
            onChange={(e) => {
              setUnderstood(e.target.checked);
            }}
            disabled={busy}
          />
          I understand my old private history will be gone
        </label>
        {tried && !understood && (
          <p className="field-error" id={understoodError}>
            Tick the box to confirm you understand what a reset does.
          </p>
        )}
        <SubmitWithProgress label="Reset account" busy={busy} phase={phase} />
      </form>
      <p>
        Found your recovery code? <Link to="/forgot-password">Use it instead</Link>: it keeps
        your history.
      </p>
      <p>
        Remembered your password? <Link to="/login">Sign in</Link>
      </p>
    </CodeFormCard>
  );
}
