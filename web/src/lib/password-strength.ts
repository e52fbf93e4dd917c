/**
 * A small zxcvbn-style strength estimate: length × character pool, minus what guessers try
 * first (common passwords, runs, repeats, keyboard rows, the user's own name or email).
 * Score 0–4; registration refuses anything below `MIN_SCORE`, with a reason.
 */

export const MIN_SCORE = 3;
export const MIN_LENGTH = 10;

const COMMON = [
  "password", "passw0rd", "123456", "12345678", "123456789", "1234567890", "qwerty", "qwertyuiop",
  "letmein", "welcome", "iloveyou", "admin", "monkey", "dragon", "football", "baseball",
  "sunshine", "princess", "trustno1", "abc123", "111111", "000000", "secret", "hushroom",
  "master", "shadow", "superman", "michael", "login", "starwars", "whatever", "hello",
];

const KEYBOARD_ROWS = ["qwertyuiop", "asdfghjkl", "zxcvbnm", "1234567890", "abcdefghijklmnopqrstuvwxyz"];

export interface Strength {
  readonly score: 0 | 1 | 2 | 3 | 4;
  readonly bits: number;
  readonly label: string;
  /** Why it is refused or how to improve; empty when strong enough. */
  readonly reason: string;
  readonly acceptable: boolean;
}

const LABELS = ["Very weak", "Weak", "Fair", "Good", "Strong"] as const;

function pool(password: string): number {
  let size = 0;
  if (/[a-z]/.test(password)) size += 26;
  if (/[A-Z]/.test(password)) size += 26;
  if (/[0-9]/.test(password)) size += 10;
  if (/[^a-zA-Z0-9]/.test(password)) size += 33;
  return Math.max(size, 1);
}

/** Length of the text after collapsing repeats and runs (what a guesser really has to try). */
function effectiveLength(lower: string): number {
  let length = 0;
  for (let i = 0; i < lower.length; i++) {
    const c = lower.charCodeAt(i);
    const prev = i > 0 ? lower.charCodeAt(i - 1) : -10;
    const prev2 = i > 1 ? lower.charCodeAt(i - 2) : -10;
    const repeat = c === prev;
    const run = Math.abs(c - prev) === 1 && c - prev === prev - prev2;
    length += repeat || run ? 0.25 : 1;
  }
  for (const row of KEYBOARD_ROWS) {
    for (let n = row.length; n >= 4; n--) {
      for (let start = 0; start + n <= row.length; start++) {
        if (lower.includes(row.slice(start, start + n))) {
          length -= n * 0.7;
          return Math.max(length, 1);
        }
      }
    }
  }
  return Math.max(length, 1);
}

export function passwordStrength(password: string, personal: readonly string[] = []): Strength {
  const lower = password.toLowerCase();
  let reason = "";
  let bits = effectiveLength(lower) * Math.log2(pool(password));
  const common = COMMON.find((w) => lower.includes(w));
  if (common !== undefined) {
    bits -= common.length * Math.log2(pool(password)) * 0.85;
    reason = "It contains a very common password.";
  }
  const words = personal
    .flatMap((p) => p.toLowerCase().split(/[^a-z0-9]+/))
    .filter((w) => w.length >= 3);
  const own = words.find((w) => lower.includes(w));
  if (own !== undefined) {
    bits -= own.length * Math.log2(pool(password)) * 0.85;
    reason ||= "Don't use your name or email in it.";
  }
  if (password.length < MIN_LENGTH) {
    reason ||= `Use at least ${String(MIN_LENGTH)} characters.`;
  }
  bits = Math.max(0, bits);
  const score = (bits < 28 ? 0 : bits < 40 ? 1 : bits < 60 ? 2 : bits < 80 ? 3 : 4);
  const acceptable = score >= MIN_SCORE && password.length >= MIN_LENGTH;
  if (!acceptable && reason === "") {
    reason = "Too easy to guess: add a few more words or characters.";
  }
  return { score, bits: Math.round(bits), label: LABELS[score], reason: acceptable ? "" : reason, acceptable };
}
