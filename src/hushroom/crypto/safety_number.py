"""Safety numbers: 60 digits + QR payload from two identity keys (docs/crypto.md §9)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

from hushroom.crypto.encoding import encode
from hushroom.crypto.errors import Malformed
from hushroom.crypto.identity import IdentityPublicKey

LABEL: Final = "hushroom/v1/safety-number"
QR_LABEL: Final = "hushroom/v1/safety-qr"
ITERATIONS: Final = 5200
FINGERPRINT_BYTES: Final = 30


def fingerprint(key: IdentityPublicKey) -> bytes:
    """Iterated SHA-512 of one identity key, truncated to 30 bytes."""
    public = key.fingerprint_input()
    digest = hashlib.sha512(encode(LABEL, 1, [public])).digest()
    for _ in range(ITERATIONS - 1):
        digest = hashlib.sha512(digest + public).digest()
    return digest[:FINGERPRINT_BYTES]


def _digits(fp: bytes) -> str:
    return "".join(
        f"{int.from_bytes(fp[i : i + 5], 'big') % 100000:05d}" for i in range(0, len(fp), 5)
    )


@dataclass(frozen=True, slots=True)
class SafetyNumber:
    digits: str
    qr_payload: bytes

    def groups(self) -> list[str]:
        """12 groups of 5 digits for display."""
        return [self.digits[i : i + 5] for i in range(0, len(self.digits), 5)]


def safety_number(a: IdentityPublicKey, b: IdentityPublicKey) -> SafetyNumber:
    """Order-independent: ``safety_number(a, b) == safety_number(b, a)``."""
    if a.key == b.key:
        raise Malformed("a safety number needs two different identity keys")
    low, high = sorted((a, b), key=lambda k: k.key)
    fp_low, fp_high = fingerprint(low), fingerprint(high)
    return SafetyNumber(
        digits=_digits(fp_low) + _digits(fp_high),
        qr_payload=encode(QR_LABEL, 1, [fp_low, fp_high]),
    )
