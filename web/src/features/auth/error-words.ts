/** Plain words for what the account-key flows can throw, on top of `describeError`. */
import { ApiError, describeError } from "@/api/errors";
import type { PopupContent } from "@/components/popup";
import { DecryptionFailed, InvalidRecoveryCode, WeakParameters } from "@/crypto/errors";

/**
 * `recovery`: a refused code reads as a wrong recovery code, not a wrong password; `reset`: as a
 * wrong (or spent, or expired) reset code from the operator.
 */
export function errorWords(
  error: unknown,
  context: "password" | "recovery" | "reset" = "password",
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
  if (error instanceof DecryptionFailed) {
    return context === "recovery"
      ? { title: "Wrong email or recovery code", detail: "Check both and try again." }
      : { title: "Wrong password", detail: "That password does not unlock your keys. Try again." };
  }
  if (error instanceof ApiError) {
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
    switch (error.code) {
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
