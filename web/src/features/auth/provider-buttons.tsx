/**
 * "Continue with Google" (one button per provider the server offers) under the sign-in and
 * registration forms. The provider only confirms who signs in: the keys stay behind the
 * account's password or chat passphrase, which never goes to the provider. Nothing shows when
 * the server offers no provider, or the list can't be loaded (the form above still works).
 */
import { useState } from "react";

import { ApiError } from "@/api/errors";
import { useProviders } from "@/api/queries";
import type { SignInProvider } from "@/api/types";
import type { PopupContent } from "@/components/popup";
import { errorWords, providerErrorWords } from "@/features/auth/error-words";
import { navigateAway } from "@/lib/navigate-away";
import { deviceName } from "@/session/device-name";
import { useSession } from "@/session/session";

/** Starting a provider's sign-in: the server's binding cookie, then off to the provider's page. */
export function useProviderSignIn(onError: (content: PopupContent) => void) {
  const { api } = useSession();
  const [starting, setStarting] = useState<SignInProvider | null>(null);
  const start = async (provider: SignInProvider) => {
    setStarting(provider);
    try {
      const out = await api.startProvider(provider.id, { intent: "sign_in", device_name: deviceName() });
      // Stays busy: the page is on its way out.
      navigateAway(out.authorization_url);
    } catch (error) {
      setStarting(null);
      onError(
        error instanceof ApiError && error.code === "provider_unreachable"
          ? providerErrorWords(error.code, provider.name)
          : errorWords(error),
      );
    }
  };
  return { starting, start };
}

/** The "Opening Google…" line while the provider's page loads. */
export function StartingLine({ provider }: { provider: SignInProvider | null }) {
  return (
    <p className="progress" role="status" aria-live="polite">
      {provider !== null && (
        <>
          <span className="spinner" aria-hidden="true" /> Opening {provider.name}…
        </>
      )}
    </p>
  );
}

export function ProviderButtons({
  onError,
  disabled = false,
}: {
  onError: (content: PopupContent) => void;
  /** The form above is busy. */
  disabled?: boolean;
}) {
  const providers = useProviders();
  const { starting, start } = useProviderSignIn(onError);
  const list = providers.data ?? [];
  if (list.length === 0) return null;
  return (
    <div className="provider-sign-in">
      <p className="or-separator">
        <span>or</span>
      </p>
      <div className="provider-buttons">
        {list.map((provider) => (
          <button
            key={provider.id}
            type="button"
            onClick={() => void start(provider)}
            disabled={disabled || starting !== null}
            aria-busy={starting?.id === provider.id}
          >
            {`Continue with ${provider.name}`}
          </button>
        ))}
      </div>
      <StartingLine provider={starting} />
    </div>
  );
}
