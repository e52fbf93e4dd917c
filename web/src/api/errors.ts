/** Errors of the API layer, and the plain words a person sees for each. */

export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfterS: number | null = null,
  ) {
    super(message);
  }
}

/** The server could not be reached at all (offline, DNS, refused, CORS). */
export class NetworkError extends Error {
  override readonly name = "NetworkError";
}

/**
 * A wait in the words a person uses: "3 seconds", "about a minute", "about 15 minutes",
 * "about 2 hours", "about 3 days". Never "884 seconds".
 */
export function describeWait(seconds: number): string {
  const s = Math.max(1, Math.ceil(seconds));
  if (s < 60) return s === 1 ? "1 second" : `${String(s)} seconds`;
  const minutes = Math.round(s / 60);
  if (minutes < 60) return minutes === 1 ? "about a minute" : `about ${String(minutes)} minutes`;
  const hours = Math.round(s / 3600);
  if (hours < 24) return hours === 1 ? "about an hour" : `about ${String(hours)} hours`;
  const days = Math.round(s / 86_400);
  return days === 1 ? "about a day" : `about ${String(days)} days`;
}

/** Words for a person: never reveals whether an email is registered. */
export function describeError(error: unknown): { title: string; detail: string } {
  if (error instanceof NetworkError) {
    return {
      title: "Can't reach the server",
      detail: "Check your connection and try again. Nothing was lost.",
    };
  }
  if (error instanceof ApiError) {
    switch (error.code) {
      case "invalid_credentials":
        return {
          title: "Wrong email or password",
          detail: "Check both and try again.",
        };
      case "rate_limited": {
        const wait =
          error.retryAfterS !== null && error.retryAfterS > 0
            ? ` Try again in ${describeWait(error.retryAfterS)}.`
            : " Wait a little and try again.";
        // Sign-ins, sign-ups, searches, new rooms and sends all have limits (docs/security.md).
        return {
          title: "Too many attempts",
          detail: `To keep accounts safe, the server limits how often this can be done.${wait}`,
        };
      }
      case "email_taken":
        return {
          title: "That email can't be used",
          detail: "Try signing in instead, or use another email.",
        };
      case "service_unavailable":
        return {
          title: "The server is busy",
          detail: "It should be back in a moment. Try again soon.",
        };
      case "account_disabled":
        return {
          title: "This account is disabled",
          detail: "The server's administrators disabled it. Contact them if you think this is a mistake.",
        };
      case "unauthenticated":
      case "token_invalid":
        return { title: "You were signed out", detail: "Please sign in again." };
      case "room_name_taken":
        return {
          title: "That room name is taken",
          detail: "Find the room under Browse rooms and join it, or pick another name.",
        };
      case "not_a_member":
        // Rooms, DMs and groups share this code: a removed group member sees it too.
        return {
          title: "You're not a member of this conversation",
          detail: "You may have left it or been removed. A public room can be joined again under Browse rooms.",
        };
      case "validation_failed":
        return { title: "Something doesn't look right", detail: error.message };
      default:
        if (error.status >= 500) {
          return {
            title: "Something went wrong on the server",
            detail: "It's not your fault. Try again in a moment.",
          };
        }
        return { title: "That didn't work", detail: error.message };
    }
  }
  return { title: "Something went wrong", detail: "Try again in a moment." };
}
