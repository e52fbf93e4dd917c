/**
 * The fields of the account forms: the email, the display name, the current password (sign in, unlock, re-entered
 * to confirm), and a new password typed twice with its live strength under it. A provider
 * account's chat passphrase uses the same fields (`noun`): it is checked like a password.
 */
import { useId, useState, type InputHTMLAttributes } from "react";

import type { PopupContent } from "@/components/popup";
import { StrengthMeter } from "@/features/auth/strength-meter";
import { newPasswordRefusal, usePasswordStrength } from "@/features/auth/use-password-strength";
import type { Strength } from "@/lib/password-strength";

/** What the new secret is called in the messages about it. */
export type SecretNoun = "password" | "passphrase";

type PasswordInputProps = Omit<
  InputHTMLAttributes<HTMLInputElement>,
  "type" | "autoComplete" | "required"
>;

/** The account's email; the rest of the input's attributes pass through. */
export function EmailField({
  autoComplete = "username",
  ...input
}: { autoComplete?: "username" | "email" } & Omit<
  InputHTMLAttributes<HTMLInputElement>,
  "name" | "type" | "autoComplete" | "required"
>) {
  return (
    <label>
      Email
      <input name="email" type="email" autoComplete={autoComplete} required {...input} />
    </label>
  );
}

/** The name other people see; controlled by the form. */
export function DisplayNameField({
  value,
  onChange,
  disabled,
}: {
  value: string;
  onChange: (value: string) => void;
  disabled: boolean;
}) {
  return (
    <label>
      Display name
      <input
        name="display_name"
        autoComplete="nickname"
        required
        maxLength={256}
        value={value}
        onChange={(e) => {
          onChange(e.target.value);
        }}
        disabled={disabled}
      />
    </label>
  );
}

/** The password the account has now; the rest of the input's attributes pass through. */
export function CurrentPasswordField({
  label = "Password",
  ...input
}: { label?: string } & PasswordInputProps) {
  return (
    <label>
      {label}
      <input type="password" autoComplete="current-password" required {...input} />
    </label>
  );
}

/** A new password and its confirmation, as the form types them. */
export interface NewPassword {
  readonly password: string;
  readonly confirm: string;
  readonly setPassword: (value: string) => void;
  readonly setConfirm: (value: string) => void;
  readonly strength: Strength;
  /** The confirmation is typed and differs. */
  readonly mismatch: boolean;
  /**
   * The check on submit: whether the password may be used; if not, `refuse` gets what the popup
   * says (too weak, or the two differ: `twice` is its detail).
   */
  readonly accepted: (refuse: (why: PopupContent) => void, twice?: string) => Promise<boolean>;
  readonly clear: () => void;
}

/** `personal`: what the strength check counts against the password (name, email). */
export function useNewPassword(personal: readonly string[], noun: SecretNoun = "password"): NewPassword {
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const strength = usePasswordStrength(password, personal);
  return {
    password,
    confirm,
    setPassword,
    setConfirm,
    strength,
    mismatch: confirm !== "" && confirm !== password,
    accepted: async (refuse, twice = `Type the same ${noun} twice.`) => {
      const weak = await newPasswordRefusal(password, personal, noun);
      if (weak !== null) {
        refuse(weak);
        return false;
      }
      if (password !== confirm) {
        refuse({ title: `The ${noun}s don't match`, detail: twice });
        return false;
      }
      return true;
    },
    clear: () => {
      setPassword("");
      setConfirm("");
    },
  };
}

/**
 * The new password, its strength meter, the confirmation and the mismatch line. `label` names
 * the first field ("Password", "New password"); the second is "Confirm …" of it. `named`: the
 * inputs carry the names `password` and `confirm`.
 */
export function NewPasswordFields({
  value,
  busy,
  label = "Password",
  named = true,
  invalid,
  noun = "password",
}: {
  value: NewPassword;
  busy: boolean;
  label?: string;
  named?: boolean;
  noun?: SecretNoun;
  /** Marks the first field invalid (e.g. too weak after a submit). */
  invalid?: boolean;
}) {
  const strengthId = useId();
  return (
    <>
      <label>
        {label}
        <input
          name={named ? "password" : undefined}
          type="password"
          autoComplete="new-password"
          required
          aria-describedby={strengthId}
          aria-invalid={invalid}
          value={value.password}
          onChange={(e) => {
            value.setPassword(e.target.value);
          }}
          disabled={busy}
        />
      </label>
      <StrengthMeter
        id={strengthId}
        password={value.password}
        strength={value.strength}
        label={noun === "password" ? "Password strength" : "Passphrase strength"}
      />
      <label>
        {`Confirm ${label.toLowerCase()}`}
        <input
          name={named ? "confirm" : undefined}
          type="password"
          autoComplete="new-password"
          required
          aria-invalid={value.mismatch}
          value={value.confirm}
          onChange={(e) => {
            value.setConfirm(e.target.value);
          }}
          disabled={busy}
        />
      </label>
      {value.mismatch && <p className="field-error">{`The ${noun}s don't match.`}</p>}
    </>
  );
}
