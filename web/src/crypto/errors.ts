/**
 * Typed errors of the crypto core (mirror of `hushroom.crypto.errors`, docs/crypto.md §10).
 *
 * The class names are part of the contract: vector files name the expected error, and both
 * implementations must raise the same one. Messages never contain key material or plaintext.
 */

export class CryptoError extends Error {
  constructor(message?: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bytes that do not decode to the expected structure, or values out of range. */
export class Malformed extends CryptoError {}

/** An Ed25519 signature failed strict verification. */
export class InvalidSignature extends CryptoError {}

/** A public key is malformed, non-canonical or of small order. */
export class InvalidPublicKey extends CryptoError {}

/** A validly signed object is about another conversation, user or device. */
export class ContextMismatch extends CryptoError {}

/** The object uses a key generation the receiver did not ask for or does not hold. */
export class WrongGeneration extends CryptoError {}

/** A user is not in, or should not be in, a key set's member list. */
export class NotAMember extends CryptoError {}

/** AEAD or HPKE authentication failed (wrong key, tampered ciphertext or context). */
export class DecryptionFailed extends CryptoError {}

/** An opened conversation key does not match the signed key commitment. */
export class KeyCommitmentMismatch extends CryptoError {}

/** Password-hashing parameters below the minimum the client accepts. */
export class WeakParameters extends CryptoError {}

/** A recovery code with wrong length, characters or checksum. */
export class InvalidRecoveryCode extends CryptoError {}

/** An envelope counter was already seen for this device and conversation. */
export class ReplayDetected extends CryptoError {}

/** A membership-log entry signed by a device or user without the right to make it. */
export class NotAuthorized extends CryptoError {}

export const ERROR_TYPES = {
  CryptoError,
  Malformed,
  InvalidSignature,
  InvalidPublicKey,
  ContextMismatch,
  WrongGeneration,
  NotAMember,
  DecryptionFailed,
  KeyCommitmentMismatch,
  WeakParameters,
  InvalidRecoveryCode,
  ReplayDetected,
  NotAuthorized,
} as const;

export type ErrorName = keyof typeof ERROR_TYPES;
