/** Plain words for what the account-key flows can throw, on top of `describeError`. */
import { ApiError, describeError } from "@/api/errors";
import type { SecretKind } from "@/api/types";
import type { PopupContent } from "@/components/popup";
import { DecryptionFailed, InvalidRecoveryCode, WeakParameters } from "@/crypto/errors";

/**
 * `recovery`: a refused code reads as a wrong recovery code, not a wrong password (`own-recovery`:
 * the same for a signed-in account, where no email was typed); `reset`: as a
 * wrong (or spent, or expired) reset code from the operator; `signup`: a provider's first
 * sign-in, where the email is the provider's.
 */
export function errorWords(
  error: unknown,
  context: "password" | "recovery" | "own-recovery" | "reset" | "signup" = "password",
): PopupContent {
  if (error instanceof WeakParameters) {
    return {
      title: "This server asked for unsafe settings",
      detail: "We stopped to protect your password. Contact the server's operator.",
    };
  }
  if (error instanceof InvalidRecoveryCode) {
    return {
      title: "That recovery code has a typo",
      detail: "Check it against your saved copy: 28 letters and digits in 7 groups of 4.",
    };
  }
  const wrongRecoveryCode = {
    title: "Wrong recovery code",
    detail: "Check it against your saved copy and try again.",
  };
  if (error instanceof DecryptionFailed) {
    if (context === "own-recovery") return wrongRecoveryCode;
    return context === "recovery"
      ? { title: "Wrong email or recovery code", detail: "Check both and try again." }
      : { title: "Wrong password", detail: "That password does not unlock your keys. Try again." };
  }
  if (error instanceof ApiError) {
    if (error.code === "invalid_credentials" && context === "own-recovery") return wrongRecoveryCode;
    if (error.code === "invalid_credentials" && context === "recovery") {
      return { title: "Wrong email or recovery code", detail: "Check both and try again." };
    }
    if (error.code === "invalid_credentials" && context === "reset") {
      return {
        title: "Wrong email or reset code",
        detail:
          "Check both and try again. A reset code works once and for 24 hours: if yours is used or old, ask the server's operator for a new one.",
      };
    }
    if (error.code === "email_taken" && context === "signup") {
      return {
        title: "An account with this email exists now",
        detail:
          "It was created while you were choosing a passphrase. Sign in to it instead; you can link this sign-in service in its settings.",
      };
    }
    switch (error.code) {
      case "signup_expired":
        return {
          title: "This sign-up has expired",
          detail: "Nothing was created. Go back to sign in and start again with the same button.",
        };
      case "last_sign_in_method":
        return {
          title: "This is your only way to sign in",
          detail:
            "Without it you could not sign in to this account at all. Link another sign-in service first, then unlink this one.",
        };
      case "provider_unreachable":
        return {
          title: "Can't reach the sign-in service",
          detail: "It did not answer just now. Try again in a moment, or sign in another way.",
        };
      case "provider_unknown":
        return {
          title: "This sign-in option isn't available",
          detail: "The server doesn't offer it any more. Reload the page and choose another way to sign in.",
        };
      case "vault_version_conflict":
        return {
          title: "Your keys changed on another device",
          detail: "Another device changed them at the same moment. Try again.",
        };
      case "invalid_key_material":
        return {
          title: "The server refused the keys",
          detail: "This browser made keys the server could not check. Reload and try again.",
        };
      case "keys_already_set_up":
        return { title: "Encryption is already set up", detail: "Sign in again to continue." };
      default:
        break;
    }
  }
  return describeError(error);
}

/** The name of the secret that unlocks the vault, as a label or in a sentence. */
export function secretName(secret: SecretKind): string {
  return secret === "password" ? "password" : "chat passphrase";
}

/** A wrong password or chat passphrase in its own words; anything else as `errorWords` says it. */
export function secretErrorWords(error: unknown, secret: SecretKind): PopupContent {
  const wrong =
    error instanceof DecryptionFailed ||
    (error instanceof ApiError && error.code === "invalid_credentials");
  if (!wrong) return errorWords(error);
  return secret === "password"
    ? { title: "Wrong password", detail: "That password does not unlock your keys. Try again." }
    : {
        title: "Wrong chat passphrase",
        detail: "That passphrase does not unlock your keys. Try again.",
      };
}

/**
 * The sign-in page's words: a refused sign-in may be an account that a provider created (it has
 * no password, and the server won't say so), so the provider buttons get a mention.
 */
export function loginErrorWords(error: unknown, providerNames: readonly string[]): PopupContent {
  const words = errorWords(error);
  if (!(error instanceof ApiError && error.code === "invalid_credentials") || providerNames.length === 0) {
    return words;
  }
  const [only] = providerNames;
  const hint =
    providerNames.length === 1 && only !== undefined
      ? `If you signed up with ${only}, use “Continue with ${only}” below.`
      : `If you signed up with ${orList(providerNames)}, use its “Continue with” button below.`;
  return { title: words.title, detail: `${words.detail} ${hint}` };
}

function orList(names: readonly string[]): string {
  return names.length < 2 ? names.join("") : `${names.slice(0, -1).join(", ")} or ${names.at(-1) ?? ""}`;
}

/**
 * What went wrong on the way back from a provider (`/auth/provider?outcome=error&code=…`), for
 * the provider named `provider`. The codes are the server's stable ones; others read generically.
 */
export function providerErrorWords(code: string, provider: string): PopupContent {
  switch (code) {
    case "provider_cancelled":
      return {
        title: "Sign-in cancelled",
        detail: `You cancelled at ${provider}, so nothing changed. Try again whenever you like.`,
      };
    case "provider_unreachable":
      return {
        title: `Can't reach ${provider}`,
        detail: `${provider} did not answer just now. Try again in a moment.`,
      };
    case "provider_error":
      return {
        title: `${provider} couldn't finish the sign-in`,
        detail: `${provider} refused or failed to complete it. Try again, or sign in another way.`,
      };
    case "sign_in_state_invalid":
      return {
        title: "This sign-in link no longer works",
        detail:
          "It was already used, has expired, or was started in another browser. Start again here, in this browser.",
      };
    case "id_token_invalid":
      return {
        title: `${provider}'s answer couldn't be verified`,
        detail:
          "To keep your account safe, nothing was signed in. Try again; if it keeps happening, tell the server's operator.",
      };
    case "email_not_verified":
      return {
        title: `Your email isn't verified at ${provider}`,
        detail: `Hushroom needs an email address that ${provider} has verified. Verify it in your ${provider} account, then try again.`,
      };
    case "account_exists":
      return {
        title: "You already have an account with this email",
        detail: `Sign in with your email and password, then link ${provider} in Settings → Sign-in methods.`,
      };
    case "identity_linked_elsewhere":
      return {
        title: `This ${provider} account is linked to another Hushroom account`,
        detail: `Sign in to that account with ${provider}, or unlink ${provider} there first.`,
      };
    case "provider_unknown":
      return errorWords(new ApiError(404, "provider_unknown", ""));
    case "account_disabled":
    case "rate_limited":
      return describeError(new ApiError(400, code, ""));
    default:
      return {
        title: "The sign-in didn't complete",
        detail: `Something went wrong on the way back from ${provider}. Try again.`,
      };
  }
}
