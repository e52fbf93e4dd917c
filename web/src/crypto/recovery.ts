/**
 * Recovery codes (docs/crypto.md §6.1; mirror of `hushroom.crypto.recovery`).
 *
 * 26 Crockford-base32 data symbols (130 random bits) + 2 check symbols such that
 * `Σ w_i·d_i ≡ 0 (mod 1021)` with weights 2…27, 32, 1: every single substitution and every
 * adjacent transposition is caught.
 */

import { fromUtf8, utf8 } from "./encoding.ts";
import { InvalidRecoveryCode } from "./errors.ts";
import { hkdfSha256 } from "./hashes.ts";
import { randomBytes, type RandomSource } from "./random.ts";
import { Secret } from "./secret.ts";

export const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
export const DATA_SYMBOLS = 26;
export const CODE_SYMBOLS = 28;
export const GROUP = 4;
export const MODULUS = 1021;
export const WEIGHTS: readonly number[] = [
  ...Array.from({ length: DATA_SYMBOLS }, (_, i) => i + 2),
  32,
  1,
];
export const INFO_RECOVERY_WRAP = "hushroom/v1/recovery-wrap";
export const INFO_RECOVERY_AUTH = "hushroom/v1/recovery-auth";
const ALIASES: Readonly<Record<string, string>> = { O: "0", I: "1", L: "1" };
const ENTROPY_BYTES = 17;

/** A parsed, checksum-valid recovery code; `reveal()` gives the 28 canonical symbols. */
export class RecoveryCode extends Secret {
  /** Printable form: 7 groups of 4 joined by `-`. */
  formatted(): string {
    const text = fromUtf8(this.reveal());
    const groups: string[] = [];
    for (let i = 0; i < CODE_SYMBOLS; i += GROUP) groups.push(text.slice(i, i + GROUP));
    return groups.join("-");
  }

  recoveryKey(): Secret {
    return deriveRecoveryKey(this);
  }

  recoveryAuth(): Uint8Array {
    return deriveRecoveryAuth(this);
  }
}

function weightedSum(values: readonly number[]): number {
  let total = 0;
  for (let i = 0; i < values.length && i < WEIGHTS.length; i++) {
    total += (WEIGHTS[i] ?? 0) * (values[i] ?? 0);
  }
  return total % MODULUS;
}

function fromValues(values: readonly number[]): RecoveryCode {
  return new RecoveryCode(utf8(values.map((v) => ALPHABET.charAt(v)).join("")));
}

/** Build a code from 17 random bytes (the top 130 bits are used). */
export function codeFromEntropy(entropy: Uint8Array): RecoveryCode {
  if (entropy.length !== ENTROPY_BYTES) {
    throw new InvalidRecoveryCode("recovery entropy must be 17 bytes");
  }
  let n = 0n;
  for (const b of entropy) n = (n << 8n) | BigInt(b);
  n >>= 6n;
  const data: number[] = [];
  for (let i = 0; i < DATA_SYMBOLS; i++) {
    data.push(Number((n >> BigInt(5 * (DATA_SYMBOLS - 1 - i))) & 31n));
  }
  const check = (MODULUS - weightedSum(data)) % MODULUS;
  return fromValues([...data, Math.floor(check / 32), check % 32]);
}

export function generateRecoveryCode(random: RandomSource): RecoveryCode {
  return codeFromEntropy(randomBytes(random, ENTROPY_BYTES));
}

/** Parse user input; throws `InvalidRecoveryCode` on any error (typo, length…). */
export function parseRecoveryCode(text: string): RecoveryCode {
  const cleaned = text.replaceAll(" ", "").replaceAll("-", "");
  // eslint-disable-next-line no-control-regex
  if (!/^[\x00-\x7f]*$/.test(cleaned)) {
    throw new InvalidRecoveryCode("recovery code has characters outside the alphabet");
  }
  const symbols = Array.from(cleaned.toUpperCase(), (c) => ALIASES[c] ?? c);
  if (symbols.length !== CODE_SYMBOLS || symbols.some((c) => !ALPHABET.includes(c))) {
    throw new InvalidRecoveryCode("recovery code must be 28 symbols of the alphabet");
  }
  const values = symbols.map((c) => ALPHABET.indexOf(c));
  if (weightedSum(values) !== 0) {
    throw new InvalidRecoveryCode("recovery code checksum does not match (typo?)");
  }
  return fromValues(values);
}

/** `HKDF(canonical code, info="hushroom/v1/recovery-wrap")`. */
export function deriveRecoveryKey(code: RecoveryCode): Secret {
  return new Secret(hkdfSha256(code.reveal(), new Uint8Array(0), utf8(INFO_RECOVERY_WRAP), 32));
}

/**
 * `HKDF(canonical code, info="hushroom/v1/recovery-auth")` (§6.5): proves the code to the server
 * (which stores its SHA-256) without revealing anything that unwraps the vault.
 */
export function deriveRecoveryAuth(code: RecoveryCode): Uint8Array {
  return hkdfSha256(code.reveal(), new Uint8Array(0), utf8(INFO_RECOVERY_AUTH), 32);
}
