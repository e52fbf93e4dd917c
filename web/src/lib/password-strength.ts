/**
 * Password strength, rated by zxcvbn (@zxcvbn-ts/core with the common and English dictionaries).
 * It is the only guard of the vault against offline guessing, so a score below `MIN_SCORE`
 * ("safely unguessable" against a slow hash) is refused, with a reason.
 *
 * The dictionaries are large: they load on first use (`loadPasswordStrength`, started by
 * `usePasswordStrength` when a new-password form mounts), in their own chunk, never at start-up.
 */

export const MIN_SCORE = 3;
export const MIN_LENGTH = 10;

export const LABELS = ["Very weak", "Weak", "Fair", "Good", "Strong"] as const;

export interface Strength {
  readonly score: 0 | 1 | 2 | 3 | 4;
  readonly label: string;
  /** Why it is refused or how to improve; empty when strong enough. */
  readonly reason: string;
  readonly acceptable: boolean;
}

/** Rates `password`; `personal` (name, email) counts as easy to guess. */
export type RatePassword = (password: string, personal?: readonly string[]) => Strength;

/** What the meter shows until the dictionaries have loaded: never acceptable. */
export const CHECKING: Strength = { score: 0, label: "Checking…", reason: "", acceptable: false };

let loading: Promise<RatePassword> | null = null;

/** The zxcvbn rater, loaded once (a failed load is retried on the next call). */
export function loadPasswordStrength(): Promise<RatePassword> {
  loading ??= import("@/lib/password-strength-zxcvbn").then(
    (module) => module.createRater(),
    (error: unknown) => {
      loading = null;
      throw error;
    },
  );
  return loading;
}

/** Rates a password, loading the dictionaries first if needed (the check before a submit). */
export async function passwordStrength(
  password: string,
  personal: readonly string[] = [],
): Promise<Strength> {
  const rate = await loadPasswordStrength();
  return rate(password, personal);
}
