/**
 * The zxcvbn side of `@/lib/password-strength`, in its own chunk with the dictionaries (loaded
 * through `loadPasswordStrength`, never imported statically). The estimator is built on first
 * use, not at import.
 */
import { ZxcvbnFactory, type ZxcvbnResult } from "@zxcvbn-ts/core";
import { adjacencyGraphs, dictionary as commonDictionary } from "@zxcvbn-ts/language-common";
import { dictionary as englishDictionary, translations } from "@zxcvbn-ts/language-en";

import { LABELS, MIN_LENGTH, MIN_SCORE, type RatePassword, type Strength } from "@/lib/password-strength";

/**
 * The user's own words as zxcvbn user inputs: each input whole and split into its parts
 * ("Ana Lopez", "ana.lopez@example.com" → "ana lopez", "ana", "lopez", "ana.lopez@example.com",
 * "example", …), so a password built from a name or an email is recognised piece by piece.
 */
export function personalWords(personal: readonly string[]): string[] {
  const words = new Set<string>();
  for (const input of personal) {
    const whole = input.trim().toLowerCase();
    if (whole.length >= 3) words.add(whole);
    for (const part of whole.split(/[^\p{L}\p{N}]+/u)) {
      if (part.length >= 3) words.add(part);
    }
  }
  return [...words];
}

function usesPersonalWords(result: ZxcvbnResult): boolean {
  return result.sequence.some(
    (match) => match.pattern === "dictionary" && match.dictionaryName === "userInputs",
  );
}

function reasonFor(result: ZxcvbnResult, password: string): string {
  if (usesPersonalWords(result)) return "Don't use your name or email in it.";
  const warning = result.feedback.warning;
  if (warning !== null && warning !== "") return warning;
  if (password.length < MIN_LENGTH) return `Use at least ${String(MIN_LENGTH)} characters.`;
  return "Too easy to guess: add a few more words or characters.";
}

export function createRater(): RatePassword {
  let zxcvbn: ZxcvbnFactory | null = null;
  return (password: string, personal: readonly string[] = []): Strength => {
    zxcvbn ??= new ZxcvbnFactory({
      dictionary: { ...commonDictionary, ...englishDictionary },
      graphs: adjacencyGraphs,
      translations,
    });
    const result = zxcvbn.check(password, personalWords(personal));
    const score = result.score;
    const acceptable = score >= MIN_SCORE && password.length >= MIN_LENGTH;
    return {
      score,
      label: LABELS[score],
      reason: acceptable || password === "" ? "" : reasonFor(result, password),
      acceptable,
    };
  };
}
