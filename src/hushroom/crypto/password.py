"""Password → master (Argon2id) → password key and auth secret (docs/crypto.md §5)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any, Final

from argon2.low_level import Type, hash_secret_raw

from hushroom.crypto.encoding import b64url_decode, b64url_encode
from hushroom.crypto.errors import Malformed, WeakParameters
from hushroom.crypto.primitives import RandomSource, Secret, hkdf_sha256, system_random

KDF_VERSION: Final = 1
ALGORITHM: Final = "argon2id"
MIN_MEMORY_KIB: Final = 65536
MIN_ITERATIONS: Final = 3
MIN_PARALLELISM: Final = 1
MIN_SALT_BYTES: Final = 16
MAX_MEMORY_KIB: Final = 1048576
MAX_ITERATIONS: Final = 10
MAX_PARALLELISM: Final = 4
MAX_SALT_BYTES: Final = 64
INFO_VAULT_WRAP: Final = b"hushroom/v1/vault-wrap"
INFO_AUTH: Final = b"hushroom/v1/auth"


@dataclass(frozen=True, slots=True)
class KdfParams:
    """Versioned Argon2id parameters, stored server-side and sent at prelogin."""

    salt: bytes
    memory_kib: int = MIN_MEMORY_KIB
    iterations: int = MIN_ITERATIONS
    parallelism: int = MIN_PARALLELISM
    version: int = KDF_VERSION
    algorithm: str = ALGORITHM

    @classmethod
    def generate(cls, random: RandomSource = system_random) -> KdfParams:
        return cls(salt=random(MIN_SALT_BYTES))

    def check(self) -> KdfParams:
        """Raise :class:`WeakParameters` below the minimum, :class:`Malformed` above the maximum."""
        if self.version != KDF_VERSION or self.algorithm != ALGORITHM:
            raise WeakParameters("unsupported password KDF")
        if (
            self.memory_kib < MIN_MEMORY_KIB
            or self.iterations < MIN_ITERATIONS
            or self.parallelism < MIN_PARALLELISM
            or len(self.salt) < MIN_SALT_BYTES
        ):
            raise WeakParameters("password KDF parameters below the minimum")
        if (
            self.memory_kib > MAX_MEMORY_KIB
            or self.iterations > MAX_ITERATIONS
            or self.parallelism > MAX_PARALLELISM
            or len(self.salt) > MAX_SALT_BYTES
        ):
            raise Malformed("password KDF parameters above the maximum")
        return self

    def to_json(self) -> dict[str, Any]:
        return {
            "v": self.version,
            "alg": self.algorithm,
            "m": self.memory_kib,
            "t": self.iterations,
            "p": self.parallelism,
            "salt": b64url_encode(self.salt),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KdfParams:
        """Parse and check (refuses weak parameters)."""
        try:
            values = (data["v"], data["alg"], data["m"], data["t"], data["p"], data["salt"])
        except (KeyError, TypeError):
            raise Malformed("missing KDF parameter") from None
        version, algorithm, m, t, p, salt = values
        if not all(type(x) is int for x in (version, m, t, p)) or not isinstance(algorithm, str):
            raise Malformed("KDF parameters have wrong types")
        params = cls(
            salt=b64url_decode(salt),
            memory_kib=m,
            iterations=t,
            parallelism=p,
            version=version,
            algorithm=algorithm,
        )
        return params.check()


@dataclass(frozen=True, slots=True)
class PasswordKeys:
    """Outputs of :func:`derive_password_keys`; only ``auth_secret`` goes to the server."""

    password_key: Secret
    auth_secret: Secret


def normalize_password(password: str) -> bytes:
    if not password:
        raise Malformed("empty password")
    return unicodedata.normalize("NFC", password).encode("utf-8")


def derive_master(password: str, params: KdfParams) -> Secret:
    params.check()
    return Secret(
        hash_secret_raw(
            secret=normalize_password(password),
            salt=params.salt,
            time_cost=params.iterations,
            memory_cost=params.memory_kib,
            parallelism=params.parallelism,
            hash_len=32,
            type=Type.ID,
            version=19,
        )
    )


def derive_password_keys(password: str, params: KdfParams) -> PasswordKeys:
    """``master = Argon2id(...)``; ``password_key``/``auth_secret`` = HKDF(master, info=…)."""
    master = derive_master(password, params).reveal()
    return PasswordKeys(
        password_key=Secret(hkdf_sha256(master, info=INFO_VAULT_WRAP)),
        auth_secret=Secret(hkdf_sha256(master, info=INFO_AUTH)),
    )
