/**
 * The locked state: signed in, but this browser's keys don't open the vault. Either the vault key
 * kept here is stale (another device re-keyed the vault after revoking a device), or the person
 * signed in through a provider, which brings a session but never keys (decision 0007). The
 * password, or a provider account's chat passphrase, opens the vault here; the recovery code is
 * the way out when it is forgotten.
 */
import { useState, type SyntheticEvent } from "react";

import { useSignInMethods } from "@/api/queries";
import type { SecretKind } from "@/api/types";
import { usePopup } from "@/components/popup";
import { field } from "@/components/form";
import { AuthCard } from "@/features/auth/auth-card";
import { secretErrorWords, secretName } from "@/features/auth/error-words";
import { CurrentPasswordField } from "@/features/auth/account-fields";
import { SubmitWithProgress, useBusy } from "@/features/auth/progress-line";
import { UnlockWithRecoveryCode } from "@/features/auth/unlock-with-recovery-code";
import { useSession, type LockReason } from "@/session/session";

/** The provider this session most likely came through: the one used last. */
function useLastProviderName(): string | null {
  const methods = useSignInMethods();
  const identities = [...(methods.data?.identities ?? [])].sort(
    (a, b) => (b.last_used_at ?? 0) - (a.last_used_at ?? 0),
  );
  return identities[0]?.provider_name ?? null;
}

export function UnlockPage({ secret, reason }: { secret: SecretKind; reason: LockReason }) {
  const { unlock, logout } = useSession();
  const { phase, run, onProgress, busy } = useBusy();
  const popup = usePopup();
  const [recovering, setRecovering] = useState(false);
  const provider = useLastProviderName();
  const name = secretName(secret);

  const submit = async (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    const typed = field(new FormData(event.currentTarget), "secret");
    await run(
      "queued",
      async () => {
        await unlock(typed, onProgress);
      },
      (error) => {
        popup.show(secretErrorWords(error, secret));
      },
    );
  };

  if (recovering) {
    return (
      <UnlockWithRecoveryCode
        secret={secret}
        onCancel={() => {
          setRecovering(false);
        }}
      />
    );
  }

  return (
    <AuthCard popup={popup}>
      <h2>Unlock your messages</h2>
      {reason === "keys_changed" ? (
        <p className="hint">
          Your keys were changed on another device. Enter your {name} to unlock them here.
        </p>
      ) : (
        <p className="hint" data-testid="provider-explainer">
          {provider ?? "The service you signed in with"} only confirms who you are. Your messages
          are encrypted with keys that your {name} unlocks, in this browser;{" "}
          {provider ?? "that service"} never receives it, and neither does our server.
        </p>
      )}
      <form onSubmit={(e) => void submit(e)} aria-busy={busy}>
        <CurrentPasswordField
          name="secret"
          label={secret === "password" ? "Password" : "Chat passphrase"}
          autoFocus
          disabled={busy}
        />
        <SubmitWithProgress label="Unlock" busy={busy} phase={phase} />
      </form>
      <button
        type="button"
        className="link"
        onClick={() => {
          setRecovering(true);
        }}
        disabled={busy}
      >
        Use your recovery code instead
      </button>
      <button type="button" className="ghost" onClick={() => void logout(false)} disabled={busy}>
        Log out
      </button>
    </AuthCard>
  );
}
