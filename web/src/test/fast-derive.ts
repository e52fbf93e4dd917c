/**
 * Test-only: `derive` of `@/session/account-crypto` with SHA-256 standing in for Argon2id (tests
 * have no Web Worker); everything after it (HKDF, vaults, certificates) is the real thing. Its own
 * module, without app imports, so a `vi.mock` factory can load it:
 *
 *   vi.mock("@/session/account-crypto", async (importOriginal) => ({
 *     ...(await importOriginal<typeof AccountCrypto>()),
 *     derive: (await import("@/test/fast-derive")).fastDerive,
 *   }));
 */
import { sha256 } from "@noble/hashes/sha2.js";

import { b64urlEncode, concatBytes } from "@/crypto/encoding";
import { derivePasswordKeys, type KdfParams, type PasswordKeys } from "@/crypto/password";

export async function fastDerive(
  password: string,
  params: KdfParams,
): Promise<{ keys: PasswordKeys; authSecret: string }> {
  const keys = await derivePasswordKeys(password, params, (request) =>
    Promise.resolve(sha256(concatBytes(request.password, request.salt)).slice(0, request.hashLength)),
  );
  return { keys, authSecret: b64urlEncode(keys.authSecret.reveal()) };
}
