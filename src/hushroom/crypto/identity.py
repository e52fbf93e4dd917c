"""Identity key (Ed25519) of a user (docs/crypto.md §7)."""

from __future__ import annotations

from dataclasses import dataclass

from hushroom.crypto.primitives import (
    KEY_SIZE,
    RandomSource,
    Secret,
    SigningKey,
    check_ed25519_public_key,
    ed25519_verify,
    require_size,
    system_random,
)


class IdentityKey(SigningKey):
    """The user's long-term Ed25519 identity key (seed lives in the vault)."""

    __slots__ = ()

    @classmethod
    def from_seed(cls, seed: bytes | Secret) -> IdentityKey:
        raw = seed.reveal() if isinstance(seed, Secret) else seed
        return cls(require_size(raw, KEY_SIZE, "identity seed"))

    @classmethod
    def generate(cls, random: RandomSource = system_random) -> IdentityKey:
        return cls(random(KEY_SIZE))

    def public(self) -> IdentityPublicKey:
        return IdentityPublicKey(self.public_key)

    def __repr__(self) -> str:
        return f"IdentityKey(public_key={self.public_key.hex()}, seed=<redacted>)"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class IdentityPublicKey:
    """A (pinned) identity public key; construction checks it (:class:`InvalidPublicKey`)."""

    key: bytes

    def __post_init__(self) -> None:
        check_ed25519_public_key(self.key)

    def verify(self, message: bytes, signature: bytes) -> None:
        """Strict Ed25519 verification; raises :class:`InvalidSignature`."""
        ed25519_verify(self.key, message, signature)

    def fingerprint_input(self) -> bytes:
        """What the safety number is computed from: the 32-byte public key."""
        return self.key
