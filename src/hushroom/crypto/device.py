"""Device keys and device certificates signed by the identity key (docs/crypto.md §7)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from hushroom.crypto.encoding import check_ident, decode, decode_signed, encode, encode_signed
from hushroom.crypto.errors import ContextMismatch
from hushroom.crypto.identity import IdentityKey, IdentityPublicKey
from hushroom.crypto.primitives import (
    KEY_SIZE,
    RandomSource,
    SigningKey,
    check_ed25519_public_key,
    ed25519_verify,
    system_random,
)

DEVICE_CERT_LABEL: Final = "hushroom/v1/device-cert"


class DeviceKey(SigningKey):
    """A device's Ed25519 signing key (in the browser: a non-extractable WebCrypto key)."""

    __slots__ = ()

    @classmethod
    def generate(cls, random: RandomSource = system_random) -> DeviceKey:
        return cls(random(KEY_SIZE))

    def __repr__(self) -> str:
        return f"DeviceKey(public_key={self.public_key.hex()}, seed=<redacted>)"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class DeviceCertificate:
    """A verified device certificate (or one just issued)."""

    user_id: str
    device_id: str
    public_key: bytes
    created_at: int
    encoded: bytes

    def verify(self, message: bytes, signature: bytes) -> None:
        """Strict Ed25519 verification under the certified device key."""
        ed25519_verify(self.public_key, message, signature)

    def __repr__(self) -> str:
        return (
            f"DeviceCertificate(user_id={self.user_id!r}, device_id={self.device_id!r}, "
            f"public_key={self.public_key.hex()})"
        )


def certify_device(
    identity: IdentityKey, user_id: str, device_id: str, device_public_key: bytes, created_at: int
) -> DeviceCertificate:
    check_ed25519_public_key(device_public_key)
    tbs = encode(
        DEVICE_CERT_LABEL,
        1,
        [check_ident(user_id), check_ident(device_id), device_public_key, created_at],
    )
    encoded = encode_signed(tbs, identity.sign(tbs))
    return DeviceCertificate(user_id, device_id, bytes(device_public_key), created_at, encoded)


def verify_device_certificate(
    data: bytes,
    identity: IdentityPublicKey,
    expected_user_id: str,
    expected_device_id: str | None = None,
) -> DeviceCertificate:
    """Check signature under the pinned IK, the user (and device) id and the device key."""
    tbs, signature = decode_signed(data)
    identity.verify(tbs, signature)
    record = decode(tbs, DEVICE_CERT_LABEL, 1, 4)
    user_id = record.ident(0)
    device_id = record.ident(1)
    public_key = record.raw(2)
    created_at = record.integer(3)
    if user_id != expected_user_id:
        raise ContextMismatch("device certificate is for another user")
    if expected_device_id is not None and device_id != expected_device_id:
        raise ContextMismatch("device certificate is for another device")
    check_ed25519_public_key(public_key)
    return DeviceCertificate(user_id, device_id, public_key, created_at, bytes(data))
