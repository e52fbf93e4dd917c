/**
 * `/auth/provider`: where the server's callback sends the browser back from a sign-in provider,
 * with `outcome` (and `provider`, and for errors a stable `code`; never a token). It works in any
 * session state:
 *
 * - `signed_in`: the refresh cookie is set; the session's start-up found the session, and a
 *   provider session has no keys in this browser, so the app asks for the secret (locked).
 * - `signup`: the first sign-in; the account is created here (its own page).
 * - `linked`: back to the settings, which confirm it.
 * - `error`: plain words, back to sign in, and (where it may help) try again.
 *
 * Its own chunk: most visits to the app never come here.
 */
import { useState } from "react";
import { Link, Navigate, useSearchParams } from "react-router";

import { useProviders } from "@/api/queries";
import { usePopup, type PopupState } from "@/components/popup";
import { AuthCard } from "@/features/auth/auth-card";
import { providerErrorWords } from "@/features/auth/error-words";
import { ProviderSignupPage } from "@/features/auth/provider-signup-page";
import { StartingLine, useProviderSignIn } from "@/features/auth/provider-buttons";
import { useSession } from "@/session/session";

/** What the settings page reads to confirm a new link (router state). */
export interface LinkedNotice {
  readonly linkedProvider: string;
}

/** Codes after which the same attempt can only fail again. */
const NO_RETRY = new Set(["account_exists", "account_disabled", "provider_unknown"]);

export default function ProviderReturnPage() {
  const [params] = useSearchParams();
  const outcome = params.get("outcome");
  const provider = params.get("provider") ?? "";
  switch (outcome) {
    case "signup":
      return <ProviderSignupPage />;
    case "signed_in":
      return <SignedIn provider={provider} />;
    case "linked": {
      const notice: LinkedNotice = { linkedProvider: provider };
      return <Navigate to="/settings" replace state={notice} />;
    }
    default:
      return <ProviderError provider={provider} code={params.get("code") ?? ""} />;
  }
}

function SignedIn({ provider }: { provider: string }) {
  const { state } = useSession();
  if (state.status === "loading") {
    return (
      <AuthCard>
        <p className="muted" role="status">
          Signing you in…
        </p>
      </AuthCard>
    );
  }
  // The session's start-up found no session after all (the cookie didn't stick).
  if (state.status === "anonymous") return <ProviderError provider={provider} code="" />;
  // Locked (the secret opens the keys here) or already unlocked: the app takes it from there.
  return <Navigate to="/" replace />;
}

function ProviderError({ provider: providerId, code }: { provider: string; code: string }) {
  const { state } = useSession();
  const providers = useProviders();
  const provider = providers.data?.find((p) => p.id === providerId) ?? null;
  const words = providerErrorWords(code, provider?.name ?? "the sign-in service");
  const failure = usePopup();
  const { starting, start } = useProviderSignIn(failure.show);
  // The popup says it once; the page keeps saying it after the popup is closed.
  const [seen, setSeen] = useState(false);
  const popup: PopupState =
    failure.content !== null
      ? failure
      : {
          content: seen ? null : words,
          show: failure.show,
          close: () => {
            setSeen(true);
          },
        };
  const signedIn = state.status === "authenticated";

  return (
    <AuthCard popup={popup}>
      <h2>{words.title}</h2>
      <p>{words.detail}</p>
      <div className="auth-actions">
        {signedIn ? (
          <Link to="/settings" className="button primary">
            Back to settings
          </Link>
        ) : (
          <>
            {provider !== null && !NO_RETRY.has(code) && (
              <button
                type="button"
                className="primary"
                onClick={() => void start(provider)}
                disabled={starting !== null}
              >
                Try again
              </button>
            )}
            <Link to="/login" className="button">
              Back to sign in
            </Link>
          </>
        )}
      </div>
      <StartingLine provider={starting} />
    </AuthCard>
  );
}
