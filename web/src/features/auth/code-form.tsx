/**
 * What "forgot password" (recovery code) and "reset account" (the operator's reset code) share:
 * email + a code + a new password, then a new recovery code shown once before the person is
 * signed in.
 */
import { useState, type InputHTMLAttributes, type ReactNode } from "react";
import { useNavigate } from "react-router";

import { ApiError } from "@/api/errors";
import { usePopup } from "@/components/popup";
import type { SecretResetNotice } from "@/features/auth/auth-pages";
import { AuthCard } from "@/features/auth/auth-card";
import { EmailField, NewPasswordFields, useNewPassword } from "@/features/auth/account-fields";
import { errorWords } from "@/features/auth/error-words";
import { ProgressLine, useBusy } from "@/features/auth/progress-line";
import { RecoveryCodeStep } from "@/features/auth/recovery-code-step";
import type { Progress } from "@/session/progress";
import type { PendingCode } from "@/session/session";

/** The session call that spends the code (`recover`, `resetAccount`). */
type SpendCode = (
  email: string,
  code: string,
  newPassword: string,
  onProgress?: Progress,
) => Promise<PendingCode>;

/** The form's state; `submit` checks the new password, then spends the code. */
export function useCodeForm(spend: SpendCode, context: "recovery" | "reset") {
  const navigate = useNavigate();
  const { phase, run, onProgress, busy } = useBusy();
  const popup = usePopup();
  const [email, setEmail] = useState("");
  const [code, setCode] = useState("");
  const newPassword = useNewPassword([email]);
  const [pending, setPending] = useState<PendingCode | null>(null);

  const submit = async () => {
    if (!(await newPassword.accepted(popup.show))) return;
    await run(
      "queued",
      async () => {
        setPending(await spend(email.trim(), code, newPassword.password, onProgress));
      },
      (error) => {
        popup.show(errorWords(error, context));
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
        if (context === "recovery" && error instanceof ApiError && error.code === "invalid_credentials") {
          // The new secret is set, but it can't sign in: the account was made through a provider
          // and this was its chat passphrase. The sign-in page says so and has the provider's button.
          const notice: SecretResetNotice = { secretReset: "passphrase" };
          void navigate("/login", { replace: true, state: notice });
          return;
        }
        popup.show(errorWords(error));
      },
    );
  };

  return { phase, busy, popup, email, setEmail, code, setCode, newPassword, pending, submit, finish };
}

export type CodeForm = ReturnType<typeof useCodeForm>;

/**
 * Email, the code (`codeLabel`; the rest of `codeInput` passes through to its input) and the new
 * password typed twice.
 */
export function CodeFormFields({
  form,
  codeLabel,
  codeInput,
}: {
  form: CodeForm;
  codeLabel: string;
  codeInput: Omit<
    InputHTMLAttributes<HTMLInputElement>,
    "value" | "onChange" | "disabled" | "required" | "autoComplete" | "spellCheck"
  >;
}) {
  return (
    <>
      <EmailField
        value={form.email}
        onChange={(e) => {
          form.setEmail(e.target.value);
        }}
        disabled={form.busy}
      />
      <label>
        {codeLabel}
        <input
          autoComplete="off"
          spellCheck={false}
          required
          {...codeInput}
          value={form.code}
          onChange={(e) => {
            form.setCode(e.target.value);
          }}
          disabled={form.busy}
        />
      </label>
      <NewPasswordFields value={form.newPassword} busy={form.busy} label="New password" />
    </>
  );
}

/**
 * The page's card: the form (`children`) until the code is spent, then the new recovery code,
 * shown once (`title`, `intro`); confirming it signs in. `footer` stays under both.
 */
export function CodeFormCard({
  form,
  title,
  intro,
  children,
  footer,
}: {
  form: CodeForm;
  title: string;
  intro: string;
  children: ReactNode;
  footer?: ReactNode;
}) {
  return (
    <AuthCard popup={form.popup}>
      {form.pending !== null ? (
        <>
          <RecoveryCodeStep
            code={form.pending.recoveryCode}
            title={title}
            intro={intro}
            continueLabel="Continue to Hushroom"
            busy={form.busy}
            onConfirmed={() => void form.finish()}
          />
          <ProgressLine phase={form.phase} />
        </>
      ) : (
        children
      )}
      {footer}
    </AuthCard>
  );
}
