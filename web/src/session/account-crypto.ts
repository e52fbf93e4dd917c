/**
 * Password → password key and auth secret (Argon2id in the Web Worker, then HKDF), KDF
 * parameters and vaults on the wire. Loaded on first sign-in, not at start-up.
 */
import type { KdfWire, NewPasswordWire, VaultWire } from "@/api/types";
import { b64urlDecode, b64urlEncode } from "@/crypto/encoding";
import { derivePasswordKeys, KdfParams, type PasswordKeys } from "@/crypto/password";
import { Argon2Client } from "@/lib/argon2-client";
import type { Argon2Phase } from "@/lib/argon2-protocol";
import type { SealedVault } from "@/crypto/vault";

let argon2: Argon2Client | null = null;

function client(): Argon2Client {
  argon2 ??= new Argon2Client();
  return argon2;
}

export const browserRandom = (n: number): Uint8Array => crypto.getRandomValues(new Uint8Array(n));

export function newKdfParams(): KdfParams {
  return KdfParams.generate(browserRandom);
}

/** A new password's parameters and auth secret, as the requests that set one send them: `kdf` is
 * the JSON form of docs/crypto.md §5.1. */
export function newPasswordToWire(params: KdfParams, authSecret: string): NewPasswordWire {
  return { kdf: params.toJSON(), auth_secret: authSecret };
}

/** Parse the `kdf` prelogin returned; throws `WeakParameters` below the minimum, `Malformed` for
 * absurd or broken parameters. */
export function kdfFromWire(kdf: KdfWire): KdfParams {
  return KdfParams.fromJSON(kdf);
}

export async function derive(
  password: string,
  params: KdfParams,
  onProgress?: (phase: Argon2Phase) => void,
): Promise<{ keys: PasswordKeys; authSecret: string }> {
  const keys = await derivePasswordKeys(
    password,
    params,
    client().argon2id(onProgress === undefined ? {} : { onProgress }),
  );
  return { keys, authSecret: b64urlEncode(keys.authSecret.reveal()) };
}

export function vaultToWire(vault: SealedVault): VaultWire {
  return {
    sealed: b64urlEncode(vault.sealed),
    password_wrapping: b64urlEncode(vault.passwordWrapping),
    recovery_wrapping: b64urlEncode(vault.recoveryWrapping),
  };
}

/** The server's vault answer (`GET /keys/vault`, `POST /auth/recovery/vault`) as a SealedVault;
 * a missing wrapping decodes as empty (it is never unwrapped then). */
export function vaultFromWire(out: {
  sealed_vault: string;
  password_wrapping?: string;
  recovery_wrapping: string;
}): SealedVault {
  return {
    sealed: b64urlDecode(out.sealed_vault),
    passwordWrapping: b64urlDecode(out.password_wrapping ?? ""),
    recoveryWrapping: b64urlDecode(out.recovery_wrapping),
  };
}
