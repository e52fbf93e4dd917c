/**
 * Change password (or, for an account a provider created, its chat passphrase): the current one
 * proves itself (and unwraps the vault key here), the new one wraps the same vault key, so
 * history stays readable on every device.
 */
import { useState, type SyntheticEvent } from "react";

import type { SecretKind } from "@/api/types";
import { Popup, usePopup } from "@/components/popup";
import { secretErrorWords, secretName } from "@/features/auth/error-words";
import {
  CurrentPasswordField,
  NewPasswordFields,
  useNewPassword,
} from "@/features/auth/account-fields";
import { SubmitWithProgress, useBusy } from "@/features/auth/progress-line";
import { useSession } from "@/session/session";
import type { UnlockedKeys } from "@/session/unlocked-keys";

export function ChangePasswordSection({
  keys,
  email,
  secret,
}: {
  keys: UnlockedKeys;
  email: string;
  secret: SecretKind;
}) {
  const { api, updateKeys } = useSession();
  const { phase, run, onProgress, busy } = useBusy();
  const popup = usePopup();
  const [current, setCurrent] = useState("");
  const next = useNewPassword([email], secret);
  const name = secretName(secret);
  const title = secret === "password" ? "Change password" : "Change chat passphrase";
  const [keepOthers, setKeepOthers] = useState(false);
  const [done, setDone] = useState(false);

  const submit = async (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    setDone(false);
    if (!(await next.accepted(popup.show, `Type the new ${name} twice.`))) return;
    await run(
      "queued",
      async () => {
        const { changePassword } = await import("@/session/rekey");
        updateKeys(await changePassword(api, keys, current, next.password, keepOthers, onProgress));
        setCurrent("");
        next.clear();
        setDone(true);
      },
      (error) => {
        const words = secretErrorWords(error, secret);
        popup.show(
          words.title.startsWith("Wrong ")
            ? { title: `Wrong current ${name}`, detail: `Your ${name} was not changed. Try again.` }
            : words,
        );
      },
    );
  };

  return (
    <section className="settings-section" aria-labelledby="settings-password">
      <h2 id="settings-password">{title}</h2>
      <form onSubmit={(e) => void submit(e)} aria-busy={busy}>
        <CurrentPasswordField
          label={`Current ${name}`}
          value={current}
          onChange={(e) => {
            setCurrent(e.target.value);
          }}
          disabled={busy}
        />
        <NewPasswordFields value={next} busy={busy} label={`New ${name}`} named={false} noun={secret} />
        <label className="checkbox">
          <input
            type="checkbox"
            checked={keepOthers}
            onChange={(e) => {
              setKeepOthers(e.target.checked);
            }}
            disabled={busy}
          />
          Keep other devices signed in
        </label>
        <SubmitWithProgress label={title} busy={busy} phase={phase} />
        {done && (
          <p className="success" role="status">
            {secret === "password" ? "Password changed." : "Chat passphrase changed."} Your messages
            stay readable on every device.
          </p>
        )}
      </form>
      <Popup content={popup.content} onClose={popup.close} />
    </section>
  );
}
