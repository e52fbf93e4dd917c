/**
 * Password → auth secret (Argon2id in the Web Worker, then HKDF), and the keys a new account
 * uploads. `createAccountKeys` is the one seam the E2EE integration fills in (identity key,
 * first PUK and the sealed vault, which binds the user id the server assigns); today it uploads
 * placeholder blobs.
 */
import type { KdfParamsWire } from "@/api/types";
import { b64urlDecode, b64urlEncode, utf8 } from "@/crypto/encoding";
import { derivePasswordKeys, KdfParams, type PasswordKeys } from "@/crypto/password";
import { Argon2Client } from "@/lib/argon2-client";
import type { Argon2Phase } from "@/lib/argon2-protocol";

let argon2: Argon2Client | null = null;

function client(): Argon2Client {
  argon2 ??= new Argon2Client();
  return argon2;
}

export const browserRandom = (n: number): Uint8Array => crypto.getRandomValues(new Uint8Array(n));

export function newKdfParams(): KdfParams {
  return KdfParams.generate(browserRandom);
}

export function kdfToWire(params: KdfParams): { salt: string; params: KdfParamsWire } {
  return {
    salt: b64urlEncode(params.salt),
    params: {
      alg: params.algorithm,
      version: params.version,
      m_kib: params.memoryKib,
      t: params.iterations,
      p: params.parallelism,
    },
  };
}

/** Parse what prelogin returned; throws `WeakParameters` for parameters below the minimum. */
export function kdfFromWire(salt: string, params: KdfParamsWire): KdfParams {
  return new KdfParams({
    salt: b64urlDecode(salt),
    memoryKib: params.m_kib,
    iterations: params.t,
    parallelism: params.p,
    version: params.version,
    algorithm: params.alg,
  }).check();
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

export interface AccountKeys {
  readonly keyBundle: string;
  readonly vault: string;
}

/**
 * Placeholder until the E2EE integration (which will take the password keys and the recovery
 * code): marked so that it can never be mistaken for keys.
 */
export function createAccountKeys(): AccountKeys {
  const placeholder = b64urlEncode(utf8('{"placeholder":true,"v":0}'));
  return { keyBundle: placeholder, vault: placeholder };
}
