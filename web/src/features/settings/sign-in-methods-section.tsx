/**
 * Sign-in methods: the password (if the account has one) and the providers linked to it. Linking
 * asks for the current password or chat passphrase first (so a stolen session alone can't attach
 * someone else's provider account), then goes to the provider; it sends the browser back to
 * `/auth/provider`, which returns here with the confirmation. Unlinking the only way to sign in
 * is refused by the server.
 */
import { useQueryClient } from "@tanstack/react-query";
import { useState, type SyntheticEvent } from "react";
import { useLocation } from "react-router";

import { useProviders, useSignInMethods } from "@/api/queries";
import type { LinkedIdentity, SecretKind, SignInProvider } from "@/api/types";
import { Popup, usePopup, type PopupContent } from "@/components/popup";
import { field } from "@/components/form";
import { CurrentPasswordField } from "@/features/auth/account-fields";
import { errorWords, secretErrorWords, secretName } from "@/features/auth/error-words";
import { ProgressLine, useBusy } from "@/features/auth/progress-line";
import { navigateAway } from "@/lib/navigate-away";
import { useSession } from "@/session/session";

function when(ms: number | null): string {
  return ms === null ? "never" : new Date(ms).toLocaleString();
}

/** The provider `/auth/provider?outcome=linked` came back with (router state), if any. */
function linkedFrom(state: unknown): string | null {
  if (typeof state !== "object" || state === null || !("linkedProvider" in state)) return null;
  return typeof state.linkedProvider === "string" ? state.linkedProvider : null;
}

export function SignInMethodsSection({ secret }: { secret: SecretKind }) {
  const methods = useSignInMethods();
  const providers = useProviders();
  const location = useLocation();
  const popup = usePopup();
  const [status, setStatus] = useState<string | null>(null);
  const identities = methods.data?.identities ?? [];
  const linkable = (providers.data ?? []).filter((p) => !identities.some((i) => i.provider === p.id));
  const justLinked = identities.find((i) => i.provider === linkedFrom(location.state));

  // A server without providers, and an account without links: nothing to show or do here.
  if (methods.isSuccess && identities.length === 0 && linkable.length === 0) return null;

  return (
    <section className="settings-section" aria-labelledby="settings-sign-in">
      <h2 id="settings-sign-in">Sign-in methods</h2>
      {justLinked !== undefined && status === null && (
        <p className="success" role="status">
          {`${justLinked.provider_name} now signs you in to this account.`}
        </p>
      )}
      {status !== null && <p role="status">{status}</p>}
      {methods.isPending ? (
        <p className="muted">Loading…</p>
      ) : methods.isError ? (
        <p className="field-error">{errorWords(methods.error).title}</p>
      ) : (
        <ul className="device-list" aria-label="Your sign-in methods">
          {methods.data.password && (
            <li className="device">
              <strong>Email and password</strong>
            </li>
          )}
          {identities.map((identity) => (
            <IdentityRow
              key={identity.provider}
              identity={identity}
              onError={popup.show}
              onUnlinked={() => {
                setStatus(`${identity.provider_name} is unlinked. It no longer signs you in.`);
              }}
            />
          ))}
        </ul>
      )}
      {linkable.map((provider) => (
        <LinkProvider key={provider.id} provider={provider} secret={secret} onError={popup.show} />
      ))}
      <p className="hint">
        A sign-in service only confirms who you are. Your messages stay encrypted with keys that
        your {secretName(secret)} unlocks, in your browser; the service never receives it, and
        neither does our server.
      </p>
      <Popup content={popup.content} onClose={popup.close} />
    </section>
  );
}

function IdentityRow({
  identity,
  onError,
  onUnlinked,
}: {
  identity: LinkedIdentity;
  onError: (content: PopupContent) => void;
  onUnlinked: () => void;
}) {
  const { api } = useSession();
  const queryClient = useQueryClient();
  const { run, busy } = useBusy();
  const name = identity.provider_name;

  const unlink = async () => {
    if (!window.confirm(`Unlink ${name}? You won't be able to sign in with ${name} any more.`)) return;
    await run(
      "sending",
      async () => {
        await api.unlinkIdentity(identity.provider);
        await queryClient.invalidateQueries({ queryKey: ["sign-in-methods"] });
        onUnlinked();
      },
      (error) => {
        onError(errorWords(error));
      },
    );
  };

  return (
    <li className="device" data-testid="sign-in-identity">
      <div className="device-head">
        <strong>{name}</strong>
        {identity.email !== null && <span className="muted">{identity.email}</span>}
      </div>
      <p className="muted device-times">
        Linked {when(identity.linked_at)} · Last used {when(identity.last_used_at)}
      </p>
      <div className="device-actions">
        <button
          type="button"
          className="danger"
          onClick={() => void unlink()}
          disabled={busy}
          aria-label={`Unlink ${name}`}
        >
          Unlink
        </button>
      </div>
    </li>
  );
}

function LinkProvider({
  provider,
  secret,
  onError,
}: {
  provider: SignInProvider;
  secret: SecretKind;
  onError: (content: PopupContent) => void;
}) {
  const { api } = useSession();
  const { phase, run, onProgress, busy } = useBusy();
  const [open, setOpen] = useState(false);
  const [leaving, setLeaving] = useState(false);

  const link = async (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    const typed = field(new FormData(event.currentTarget), "secret");
    await run(
      "queued",
      async () => {
        const { secretKeysFor } = await import("@/session/vault-secret");
        const proof = await secretKeysFor(api, typed, onProgress);
        onProgress("sending");
        const out = await api.startProvider(provider.id, { intent: "link", auth_secret: proof.authSecret });
        setLeaving(true);
        navigateAway(out.authorization_url);
      },
      (error) => {
        onError(secretErrorWords(error, secret));
      },
    );
  };

  if (!open) {
    return (
      <button
        type="button"
        className="provider-link"
        onClick={() => {
          setOpen(true);
        }}
      >
        {`Link ${provider.name}`}
      </button>
    );
  }
  return (
    <form className="inline-form" onSubmit={(e) => void link(e)} aria-busy={busy || leaving}>
      <p>
        {`To link ${provider.name}, enter your ${secretName(secret)}. ${provider.name} then asks you to sign in there.`}
      </p>
      <CurrentPasswordField
        name="secret"
        label={secret === "password" ? "Current password" : "Chat passphrase"}
        autoFocus
        disabled={busy || leaving}
      />
      <div className="device-actions">
        <button type="submit" className="primary" disabled={busy || leaving}>
          {`Continue to ${provider.name}`}
        </button>
        <button
          type="button"
          onClick={() => {
            setOpen(false);
          }}
          disabled={busy || leaving}
        >
          Cancel
        </button>
      </div>
      <ProgressLine phase={leaving ? "sending" : phase} />
    </form>
  );
}
