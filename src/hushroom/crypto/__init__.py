"""Hushroom's end-to-end encryption core (pure: bytes in, bytes out; no I/O, no clock).

Normative spec: ``docs/crypto.md``. Frozen vectors: ``spec/vectors/``. The TypeScript mirror lives
in ``web/src/crypto/``. Modules: ``primitives`` (hazmat wrappers), ``encoding``, ``errors``,
``password``, ``recovery``, ``vault``, ``identity``, ``puk``, ``device``, ``conversation_key``,
``envelope``, ``membership``, ``safety_number``. Import from the modules; this package
re-exports only errors.
"""

from hushroom.crypto.errors import (
    ContextMismatch,
    CryptoError,
    DecryptionFailed,
    InvalidPublicKey,
    InvalidRecoveryCode,
    InvalidSignature,
    KeyCommitmentMismatch,
    Malformed,
    NotAMember,
    NotAuthorized,
    ReplayDetected,
    WeakParameters,
    WrongGeneration,
)

__all__ = [
    "ContextMismatch",
    "CryptoError",
    "DecryptionFailed",
    "InvalidPublicKey",
    "InvalidRecoveryCode",
    "InvalidSignature",
    "KeyCommitmentMismatch",
    "Malformed",
    "NotAMember",
    "NotAuthorized",
    "ReplayDetected",
    "WeakParameters",
    "WrongGeneration",
]
