"""Recovery codes (docs/crypto.md §6.1).

26 Crockford-base32 data symbols (130 random bits) + 2 check symbols such that
``Σ w_i·d_i ≡ 0 (mod 1021)`` with weights 2…27, 32, 1: every single substitution and every
adjacent transposition is caught.
"""

from __future__ import annotations

from typing import Final

from hushroom.crypto.errors import InvalidRecoveryCode
from hushroom.crypto.primitives import RandomSource, Secret, hkdf_sha256, system_random

ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
DATA_SYMBOLS: Final = 26
CODE_SYMBOLS: Final = 28
GROUP: Final = 4
MODULUS: Final = 1021
WEIGHTS: Final = (*range(2, 2 + DATA_SYMBOLS), 32, 1)
INFO_RECOVERY_WRAP: Final = b"hushroom/v1/recovery-wrap"
INFO_RECOVERY_AUTH: Final = b"hushroom/v1/recovery-auth"
_ALIASES: Final = {"O": "0", "I": "1", "L": "1"}


class RecoveryCode(Secret):
    """A parsed, checksum-valid recovery code; ``reveal()`` gives the 28 canonical symbols."""

    __slots__ = ()

    def formatted(self) -> str:
        """Printable form: 7 groups of 4 joined by ``-``."""
        text = self.reveal().decode("ascii")
        return "-".join(text[i : i + GROUP] for i in range(0, CODE_SYMBOLS, GROUP))

    def recovery_key(self) -> Secret:
        return derive_recovery_key(self)

    def recovery_auth(self) -> bytes:
        return derive_recovery_auth(self)


def _weighted_sum(values: list[int]) -> int:
    total = 0
    for weight, value in zip(WEIGHTS, values, strict=False):
        total += weight * value
    return total % MODULUS


def _from_values(values: list[int]) -> RecoveryCode:
    return RecoveryCode("".join(ALPHABET[v] for v in values).encode("ascii"))


def code_from_entropy(entropy: bytes) -> RecoveryCode:
    """Build a code from 17 random bytes (the top 130 bits are used)."""
    if len(entropy) != 17:
        raise InvalidRecoveryCode("recovery entropy must be 17 bytes")
    n = int.from_bytes(entropy, "big") >> 6
    data = [(n >> (5 * (DATA_SYMBOLS - 1 - i))) & 31 for i in range(DATA_SYMBOLS)]
    check = (-_weighted_sum(data)) % MODULUS
    return _from_values([*data, check // 32, check % 32])


def generate_recovery_code(random: RandomSource = system_random) -> RecoveryCode:
    return code_from_entropy(random(17))


def parse_recovery_code(text: str) -> RecoveryCode:
    """Parse user input; raise :class:`InvalidRecoveryCode` on any error (typo, length…)."""
    cleaned = text.replace(" ", "").replace("-", "")
    if not cleaned.isascii():
        raise InvalidRecoveryCode("recovery code has characters outside the alphabet")
    cleaned = "".join(_ALIASES.get(c, c) for c in cleaned.upper())
    if len(cleaned) != CODE_SYMBOLS or any(c not in ALPHABET for c in cleaned):
        raise InvalidRecoveryCode("recovery code must be 28 symbols of the alphabet")
    values = [ALPHABET.index(c) for c in cleaned]
    if _weighted_sum(values) != 0:
        raise InvalidRecoveryCode("recovery code checksum does not match (typo?)")
    return _from_values(values)


def derive_recovery_key(code: RecoveryCode) -> Secret:
    """``HKDF(canonical code, info="hushroom/v1/recovery-wrap")``."""
    return Secret(hkdf_sha256(code.reveal(), info=INFO_RECOVERY_WRAP))


def derive_recovery_auth(code: RecoveryCode) -> bytes:
    """``HKDF(canonical code, info="hushroom/v1/recovery-auth")``: proves the code to the server
    (which stores its SHA-256) without revealing anything that unwraps the vault."""
    return hkdf_sha256(code.reveal(), info=INFO_RECOVERY_AUTH)
