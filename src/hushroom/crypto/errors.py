"""Typed errors of the crypto core.

Messages never contain key material or plaintext. Vector files name these classes (``error``).
"""

from __future__ import annotations


class CryptoError(Exception):
    """Base class of every error raised by :mod:`hushroom.crypto`."""


class Malformed(CryptoError):
    """Bytes that do not decode to the expected structure, or values out of range."""


class InvalidSignature(CryptoError):
    """An Ed25519 signature failed strict verification."""


class InvalidPublicKey(CryptoError):
    """A public key is malformed, non-canonical or of small order."""


class ContextMismatch(CryptoError):
    """A validly signed object is about another conversation, user or device."""


class WrongGeneration(CryptoError):
    """The object uses a key generation the receiver did not ask for or does not hold."""


class NotAMember(CryptoError):
    """A user is not in, or should not be in, a key set's member list."""


class DecryptionFailed(CryptoError):
    """AEAD or HPKE authentication failed (wrong key, tampered ciphertext or context)."""


class KeyCommitmentMismatch(CryptoError):
    """An opened conversation key does not match the signed key commitment."""


class WeakParameters(CryptoError):
    """Password-hashing parameters below the minimum the client accepts."""


class InvalidRecoveryCode(CryptoError):
    """A recovery code with wrong length, characters or checksum."""


class ReplayDetected(CryptoError):
    """An envelope counter was already seen for this device and conversation."""


class NotAuthorized(CryptoError):
    """A membership-log entry signed by a device or user without the right to make it."""


ERROR_TYPES: dict[str, type[CryptoError]] = {
    cls.__name__: cls
    for cls in (
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
    )
}
