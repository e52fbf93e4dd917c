/**
 * The locked state: signed in, but the vault key kept in this browser no longer opens the vault
 * (another device re-keyed it after revoking a device). The password opens it again.
 */
import type { SyntheticEvent } from "react";

import { usePopup } from "@/components/popup";
import { field } from "@/components/form";
import { AuthCard } from "@/features/auth/auth-card";
import { errorWords } from "@/features/auth/error-words";
import { CurrentPasswordField } from "@/features/auth/account-fields";
import { SubmitWithProgress, useBusy } from "@/features/auth/progress-line";
import { useSession } from "@/session/session";

export function UnlockPage() {
  const { unlock, logout } = useSession();
  const { phase, run, onProgress, busy } = useBusy();
  const popup = usePopup();

  const submit = async (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    const password = field(new FormData(event.currentTarget), "password");
    await run(
      "queued",
      async () => {
        await unlock(password, onProgress);
      },
      (error) => {
        popup.show(errorWords(error));
      },
    );
  };

  return (
    <AuthCard popup={popup}>
      <h2>Unlock your keys</h2>
      <p className="hint">
        Your keys were changed on another device. Enter your password to unlock them here.
      </p>
      <form onSubmit={(e) => void submit(e)} aria-busy={busy}>
        <CurrentPasswordField name="password" disabled={busy} />
        <SubmitWithProgress label="Unlock" busy={busy} phase={phase} />
      </form>
      <button type="button" className="ghost" onClick={() => void logout(false)}>
        Log out
      </button>
    </AuthCard>
  );
}
