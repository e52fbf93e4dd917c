"""Per-user keys: X-Wing key pairs per generation, certified by the identity key (§7)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from hushroom.crypto.encoding import (
    check_ident,
    decode,
    decode_signed,
    encode,
    encode_signed,
)
from hushroom.crypto.errors import ContextMismatch, Malformed
from hushroom.crypto.identity import IdentityKey, IdentityPublicKey
from hushroom.crypto.primitives import (
    KEY_SIZE,
    RandomSource,
    Secret,
    XWingKeyPair,
    check_xwing_public_key,
    system_random,
)

PUK_CERT_LABEL: Final = "hushroom/v1/puk-cert"


class PukKeyPair(XWingKeyPair):
    """PUK generation ``generation`` (≥ 1), from a 32-byte X-Wing seed."""

    __slots__ = ("generation",)

    def __init__(self, generation: int, seed: bytes | Secret) -> None:
        if generation < 1:
            raise Malformed("PUK generation must be >= 1")
        super().__init__(seed.reveal() if isinstance(seed, Secret) else seed)
        self.generation = generation

    @classmethod
    def generate(cls, generation: int, random: RandomSource = system_random) -> PukKeyPair:
        return cls(generation, random(KEY_SIZE))

    def __repr__(self) -> str:
        return (
            f"PukKeyPair(generation={self.generation}, "
            f"public_key={self.public_key[:8].hex()}…, seed=<redacted>)"
        )

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class PukCertificate:
    """A verified PUK certificate (or one just issued)."""

    user_id: str
    generation: int
    public_key: bytes
    created_at: int
    encoded: bytes

    def __repr__(self) -> str:
        return (
            f"PukCertificate(user_id={self.user_id!r}, generation={self.generation}, "
            f"public_key={self.public_key[:8].hex()}…)"
        )


def _tbs(user_id: str, generation: int, public_key: bytes, created_at: int) -> bytes:
    return encode(PUK_CERT_LABEL, 1, [check_ident(user_id), generation, public_key, created_at])


def certify_puk(
    identity: IdentityKey, user_id: str, puk: PukKeyPair, created_at: int
) -> PukCertificate:
    """Sign ``puk``'s public key with the identity key."""
    tbs = _tbs(user_id, puk.generation, puk.public_key, created_at)
    encoded = encode_signed(tbs, identity.sign(tbs))
    return PukCertificate(user_id, puk.generation, puk.public_key, created_at, encoded)


def verify_puk_certificate(
    data: bytes, identity: IdentityPublicKey, expected_user_id: str
) -> PukCertificate:
    """Check signature under the pinned IK, the user id and the public key."""
    tbs, signature = decode_signed(data)
    identity.verify(tbs, signature)
    record = decode(tbs, PUK_CERT_LABEL, 1, 4)
    user_id = record.ident(0)
    generation = record.integer(1)
    public_key = record.raw(2)
    created_at = record.integer(3)
    if user_id != expected_user_id:
        raise ContextMismatch("PUK certificate is for another user")
    if generation < 1:
        raise Malformed("PUK generation must be >= 1")
    check_xwing_public_key(public_key)
    return PukCertificate(user_id, generation, public_key, created_at, bytes(data))
