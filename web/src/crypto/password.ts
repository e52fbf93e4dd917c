/**
 * Password → master (Argon2id) → password key and auth secret (docs/crypto.md §5; mirror of
 * `hushroom.crypto.password`).
 *
 * Pure: the Argon2id implementation is injected (`Argon2id`), so the browser runs it in a Web
 * Worker (`@/lib/argon2-client`) and Node runs hash-wasm directly (`@/lib/argon2-hash-wasm`).
 */

import { b64urlDecode, b64urlEncode, utf8 } from "./encoding.ts";
import { Malformed, WeakParameters } from "./errors.ts";
import { hkdfSha256 } from "./hashes.ts";
import { randomBytes, type RandomSource } from "./random.ts";
import { Secret } from "./secret.ts";

export const KDF_VERSION = 1;
export const ALGORITHM = "argon2id";
export const MIN_MEMORY_KIB = 65536;
export const MIN_ITERATIONS = 3;
export const MIN_PARALLELISM = 1;
export const MIN_SALT_BYTES = 16;
export const MAX_MEMORY_KIB = 1048576;
export const MAX_ITERATIONS = 10;
export const MAX_PARALLELISM = 4;
export const MAX_SALT_BYTES = 64;
export const INFO_VAULT_WRAP = "hushroom/v1/vault-wrap";
export const INFO_AUTH = "hushroom/v1/auth";
export const MASTER_BYTES = 32;

/** Raw Argon2id (version 0x13, no secret, no associated data). */
export interface Argon2idRequest {
  readonly password: Uint8Array;
  readonly salt: Uint8Array;
  readonly memoryKib: number;
  readonly iterations: number;
  readonly parallelism: number;
  readonly hashLength: number;
}

export type Argon2id = (request: Argon2idRequest) => Promise<Uint8Array>;

/** JSON form sent at prelogin: `{"v":1,"alg":"argon2id","m":65536,"t":3,"p":1,"salt":"…"}`. */
export interface KdfParamsJson {
  v: number;
  alg: string;
  m: number;
  t: number;
  p: number;
  salt: string;
}

/** Versioned Argon2id parameters, stored server-side and sent at prelogin. */
export class KdfParams {
  readonly salt: Uint8Array;
  readonly memoryKib: number;
  readonly iterations: number;
  readonly parallelism: number;
  readonly version: number;
  readonly algorithm: string;

  constructor(init: {
    salt: Uint8Array;
    memoryKib?: number;
    iterations?: number;
    parallelism?: number;
    version?: number;
    algorithm?: string;
  }) {
    this.salt = init.salt.slice();
    this.memoryKib = init.memoryKib ?? MIN_MEMORY_KIB;
    this.iterations = init.iterations ?? MIN_ITERATIONS;
    this.parallelism = init.parallelism ?? MIN_PARALLELISM;
    this.version = init.version ?? KDF_VERSION;
    this.algorithm = init.algorithm ?? ALGORITHM;
  }

  static generate(random: RandomSource): KdfParams {
    return new KdfParams({ salt: randomBytes(random, MIN_SALT_BYTES) });
  }

  /** Throws `WeakParameters` below the minimum, `Malformed` above the maximum. */
  check(): this {
    if (this.version !== KDF_VERSION || this.algorithm !== ALGORITHM) {
      throw new WeakParameters("unsupported password KDF");
    }
    if (
      this.memoryKib < MIN_MEMORY_KIB ||
      this.iterations < MIN_ITERATIONS ||
      this.parallelism < MIN_PARALLELISM ||
      this.salt.length < MIN_SALT_BYTES
    ) {
      throw new WeakParameters("password KDF parameters below the minimum");
    }
    if (
      this.memoryKib > MAX_MEMORY_KIB ||
      this.iterations > MAX_ITERATIONS ||
      this.parallelism > MAX_PARALLELISM ||
      this.salt.length > MAX_SALT_BYTES
    ) {
      throw new Malformed("password KDF parameters above the maximum");
    }
    return this;
  }

  toJSON(): KdfParamsJson {
    return {
      v: this.version,
      alg: this.algorithm,
      m: this.memoryKib,
      t: this.iterations,
      p: this.parallelism,
      salt: b64urlEncode(this.salt),
    };
  }

  /** Parse and check (refuses weak parameters). */
  static fromJSON(data: unknown): KdfParams {
    if (typeof data !== "object" || data === null) {
      throw new Malformed("missing KDF parameter");
    }
    const record = data as Record<string, unknown>;
    const keys = ["v", "alg", "m", "t", "p", "salt"] as const;
    if (!keys.every((k) => k in record)) {
      throw new Malformed("missing KDF parameter");
    }
    const { v, alg, m, t, p, salt } = record;
    if (
      !Number.isSafeInteger(v) ||
      !Number.isSafeInteger(m) ||
      !Number.isSafeInteger(t) ||
      !Number.isSafeInteger(p) ||
      typeof alg !== "string" ||
      typeof salt !== "string"
    ) {
      throw new Malformed("KDF parameters have wrong types");
    }
    return new KdfParams({
      salt: b64urlDecode(salt),
      memoryKib: m as number,
      iterations: t as number,
      parallelism: p as number,
      version: v as number,
      algorithm: alg,
    }).check();
  }
}

/** Outputs of `derivePasswordKeys`; only `authSecret` goes to the server. */
export interface PasswordKeys {
  readonly passwordKey: Secret;
  readonly authSecret: Secret;
}

export function normalizePassword(password: string): Uint8Array {
  if (password.length === 0) {
    throw new Malformed("empty password");
  }
  return utf8(password.normalize("NFC"));
}

export async function deriveMaster(
  password: string,
  params: KdfParams,
  argon2id: Argon2id,
): Promise<Secret> {
  params.check();
  const master = await argon2id({
    password: normalizePassword(password),
    salt: params.salt,
    memoryKib: params.memoryKib,
    iterations: params.iterations,
    parallelism: params.parallelism,
    hashLength: MASTER_BYTES,
  });
  if (master.length !== MASTER_BYTES) {
    throw new Malformed("Argon2id returned the wrong length");
  }
  return new Secret(master);
}

/** Password keys from an already computed Argon2id master (the HKDF half of §5.2). */
export function passwordKeysFromMaster(master: Secret): PasswordKeys {
  const empty = new Uint8Array(0);
  return {
    passwordKey: new Secret(hkdfSha256(master.reveal(), empty, utf8(INFO_VAULT_WRAP), 32)),
    authSecret: new Secret(hkdfSha256(master.reveal(), empty, utf8(INFO_AUTH), 32)),
  };
}

/** `master = Argon2id(...)`; `passwordKey`/`authSecret` = HKDF(master, info=…). */
export async function derivePasswordKeys(
  password: string,
  params: KdfParams,
  argon2id: Argon2id,
): Promise<PasswordKeys> {
  return passwordKeysFromMaster(await deriveMaster(password, params, argon2id));
}
