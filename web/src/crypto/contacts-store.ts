/**
 * The contacts store: which contacts a user verified (compared safety numbers), sealed under a
 * key derived from the identity seed and kept on the server, so verification follows the user to
 * every browser (docs/crypto.md §6.6; mirror of `hushroom.crypto.contacts_store`).
 *
 * The plaintext is JSON (`{"v":1,"verified":{userId: hex identity key}}`, contacts sorted by the
 * UTF-8 bytes of their id, no spaces); the sealed blob binds the user id, the store name and the
 * server's version in the AAD, so the server can neither hand one user's blob to another nor
 * relabel its version.
 */

import { aesGcmOpen, aesGcmSeal, GCM_NONCE_SIZE } from "./aes-gcm.ts";
import { checkIdent, compareBytes, decode, encode, fromUtf8, utf8 } from "./encoding.ts";
import { Malformed } from "./errors.ts";
import { hkdfSha256 } from "./hashes.ts";
import { randomBytes, type RandomSource } from "./random.ts";
import { Secret } from "./secret.ts";
import { KEY_SIZE, requireSize } from "./size.ts";

export const KEY_INFO = "hushroom/v1/contacts-store";
export const STORE_LABEL = "hushroom/v1/user-store";
export const STORE_AAD_LABEL = "hushroom/v1/user-store-aad";
export const CONTACTS_STORE = "contacts";
export const FORMAT_VERSION = 1;
/** The largest sealed blob (the server refuses bigger ones): about 2,400 verified contacts. */
export const MAX_STORE_BYTES = 256 * 1024;

/** contact user id → lowercase hex of the identity key they were verified with. */
export type VerifiedMap = Readonly<Record<string, string>>;

const IDENTITY_KEY_HEX = /^[0-9a-f]{64}$/;
// A lone surrogate (from a "\ud800"-style escape); paired ones are one code point under /u.
const LONE_SURROGATE = /\p{Cs}/u;

/** `HKDF(identitySeed, salt="", info="hushroom/v1/contacts-store", 32)`. */
export function contactsStoreKey(identitySeed: Secret): Secret {
  const seed = requireSize(identitySeed.reveal(), KEY_SIZE, "identity seed");
  return new Secret(hkdfSha256(seed, new Uint8Array(0), utf8(KEY_INFO), KEY_SIZE));
}

/** `encode("hushroom/v1/user-store-aad", 1, [str userId, str store, int version])`. */
export function storeAad(userId: string, version: number, store: string = CONTACTS_STORE): Uint8Array {
  if (store !== CONTACTS_STORE) throw new Malformed("unknown store");
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new Malformed("a stored version is at least 1");
  }
  return encode(STORE_AAD_LABEL, 1, [checkIdent(userId), store, version]);
}

function checkEntry(userId: unknown, identityKey: unknown): void {
  if (typeof userId !== "string" || LONE_SURROGATE.test(userId)) {
    throw new Malformed("a contact id is not a well-formed string");
  }
  checkIdent(userId);
  if (typeof identityKey !== "string" || !IDENTITY_KEY_HEX.test(identityKey)) {
    throw new Malformed("an identity key is not 64 lowercase hex characters");
  }
}

/**
 * `{"v":1,"verified":{…}}` with the contacts sorted by the UTF-8 bytes of their id, written by
 * hand: `JSON.stringify` of an object would put integer-like ids first.
 */
export function encodeContacts(verified: VerifiedMap): Uint8Array {
  const entries = Object.entries(verified);
  for (const [userId, identityKey] of entries) checkEntry(userId, identityKey);
  entries.sort(([a], [b]) => compareBytes(utf8(a), utf8(b)));
  const body = entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(",");
  return utf8(`{"v":${String(FORMAT_VERSION)},"verified":{${body}}}`);
}

/**
 * Strict: UTF-8, standard JSON, an object with `v` = 1 and `verified` an object of contact id
 * (identifier, §3) → 64 lowercase hex characters. Unknown fields are ignored.
 */
export function decodeContacts(plaintext: Uint8Array): Record<string, string> {
  if (plaintext.length > MAX_STORE_BYTES) throw new Malformed("the contacts store is too large");
  let document: unknown;
  try {
    document = JSON.parse(fromUtf8(plaintext));
  } catch {
    throw new Malformed("the contacts store is not UTF-8 JSON");
  }
  if (typeof document !== "object" || document === null || Array.isArray(document)) {
    throw new Malformed("the contacts store is not a JSON object");
  }
  const record = document as Record<string, unknown>;
  if (record.v !== FORMAT_VERSION) throw new Malformed("unsupported contacts store format");
  const verified = record.verified;
  if (typeof verified !== "object" || verified === null || Array.isArray(verified)) {
    throw new Malformed("the contacts store has no verified map");
  }
  const entries = Object.entries(verified as Record<string, unknown>);
  for (const [userId, identityKey] of entries) checkEntry(userId, identityKey);
  // fromEntries defines own properties, so an id like "__proto__" stays an ordinary entry.
  return Object.fromEntries(entries) as Record<string, string>;
}

/** The blob to store as `version` (the server's current version + 1). */
export function sealContactsStore(
  identitySeed: Secret,
  userId: string,
  version: number,
  verified: VerifiedMap,
  random: RandomSource,
): Uint8Array {
  const aad = storeAad(userId, version);
  const plaintext = encodeContacts(verified);
  const nonce = randomBytes(random, GCM_NONCE_SIZE);
  const key = contactsStoreKey(identitySeed);
  const blob = encode(STORE_LABEL, 1, [nonce, aesGcmSeal(key.reveal(), nonce, plaintext, aad)]);
  if (blob.length > MAX_STORE_BYTES) throw new Malformed("the contacts store is too large");
  return blob;
}

/**
 * The verified map of a blob the server served as `version`. A wrong key (another identity,
 * e.g. after an account reset), another user's blob, another version or a tampered blob is
 * `DecryptionFailed`.
 */
export function openContactsStore(
  identitySeed: Secret,
  userId: string,
  version: number,
  blob: Uint8Array,
): Record<string, string> {
  const aad = storeAad(userId, version);
  if (blob.length > MAX_STORE_BYTES) throw new Malformed("the contacts store is too large");
  const record = decode(blob, STORE_LABEL, 1, 2);
  const key = contactsStoreKey(identitySeed);
  const plaintext = aesGcmOpen(key.reveal(), record.fixed(0, GCM_NONCE_SIZE), record.raw(1), aad);
  return decodeContacts(plaintext);
}
