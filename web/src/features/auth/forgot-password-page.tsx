/**
 * "Forgot password?": email + recovery code + new password. The code unlocks the vault here,
 * the new password and a fresh recovery code wrap it again; then the new code is shown once and
 * the person is signed in.
 */
import type { SyntheticEvent } from "react";
import { Link } from "react-router";

import { CodeFormCard, CodeFormFields, useCodeForm } from "@/features/auth/code-form";
import { SubmitWithProgress } from "@/features/auth/progress-line";
import { useSession } from "@/session/session";

export function ForgotPasswordPage() {
  const { recover } = useSession();
  const form = useCodeForm(recover, "recovery");
  const { busy, phase } = form;

  const submit = async (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    await form.submit();
  };

  return (
    <CodeFormCard
      form={form}
      title="New password set: here is your new recovery code"
      intro="The code you just used no longer works. Save this one instead."
      footer={
        <p>
          Remembered it? <Link to="/login">Sign in</Link>
        </p>
      }
    >
      <h2>Set a new password</h2>
      <p className="hint">
        Your recovery code unlocks your keys on this device; the server never sees your
        password or your private messages.
      </p>
      <form onSubmit={(e) => void submit(e)} aria-busy={busy}>
        <CodeFormFields
          form={form}
          codeLabel="Recovery code"
          codeInput={{
            name: "recovery_code",
            autoCapitalize: "characters",
            placeholder: "XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX",
          }}
        />
        <SubmitWithProgress label="Set new password" busy={busy} phase={phase} />
      </form>
      <p>
        <Link to="/reset-account">Lost your recovery code too?</Link>
      </p>
    </CodeFormCard>
  );
}
