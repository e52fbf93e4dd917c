"""Validation of what a client sends about an account: email, names, KDF parameters.

Pure functions shared by registration, login, password change and recovery.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from hushroom.crypto.encoding import b64url_encode
from hushroom.crypto.errors import CryptoError
from hushroom.crypto.password import KdfParams
from hushroom.errors import ValidationFailed

# The client-side KDF (docs/crypto.md §5.1). Registration refuses anything weaker; clients
# refuse it too.
KDF_ALG = "argon2id"
KDF_VERSION = 1
MIN_KDF_PARAMS: dict[str, Any] = {
    "alg": KDF_ALG,
    "version": KDF_VERSION,
    "m_kib": 65536,
    "t": 3,
    "p": 1,
}
# The upper bounds (a hostile registration handing its own clients absurd parameters) are the
# crypto core's, checked by `clean_kdf`.
KDF_SALT_BYTES = 16
AUTH_SECRET_BYTES = 32

MAX_EMAIL = 320
MAX_DISPLAY_NAME = 64
MAX_DEVICE_NAME = 100
DEFAULT_DEVICE_NAME = "Unnamed device"
MAX_SEARCH_RESULTS = 50
MAX_SEARCH_QUERY = 320

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]+$")


def normalize_email(email: str) -> str:
    return email.strip().lower()


def clean_email(email: str) -> str:
    email = normalize_email(email)
    if len(email) > MAX_EMAIL or not _EMAIL.match(email):
        raise ValidationFailed("this email address is not valid", field="email")
    return email


def clean_display_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= MAX_DISPLAY_NAME:
        raise ValidationFailed(
            f"display names are 1 to {MAX_DISPLAY_NAME} characters", field="display_name"
        )
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in name):
        raise ValidationFailed(
            "display names cannot contain control characters", field="display_name"
        )
    return name


def clean_device_name(name: str | None) -> str:
    name = " ".join((name or "").split())[:MAX_DEVICE_NAME]
    return name or DEFAULT_DEVICE_NAME


def clean_kdf(kdf: Mapping[str, Any]) -> tuple[bytes, dict[str, Any]]:
    """The `kdf` of the wire (docs/crypto.md §5.1 JSON form), parsed by the crypto core: the
    minimum or stronger, within its maximums, with a salt of KDF_SALT_BYTES. Returns what storage
    keeps: (salt, parameters without the salt)."""
    try:
        params = KdfParams.from_json(dict(kdf))
    except (CryptoError, TypeError, ValueError) as exc:
        raise ValidationFailed(f"kdf is weak or malformed: {exc}", field="kdf") from None
    if len(params.salt) != KDF_SALT_BYTES:
        raise ValidationFailed(f"kdf salt must be {KDF_SALT_BYTES} bytes", field="kdf")
    stored = {
        "alg": params.algorithm,
        "version": params.version,
        "m_kib": params.memory_kib,
        "t": params.iterations,
        "p": params.parallelism,
    }
    return params.salt, stored


def kdf_json(salt: bytes, stored: Mapping[str, Any]) -> dict[str, Any]:
    """Stored (salt, parameters) as the wire's `kdf` (docs/crypto.md §5.1 JSON form)."""
    return {
        "v": stored["version"],
        "alg": stored["alg"],
        "m": stored["m_kib"],
        "t": stored["t"],
        "p": stored["p"],
        "salt": b64url_encode(salt),
    }


def check_size(value: bytes, size: int, name: str) -> bytes:
    if len(value) != size:
        raise ValidationFailed(f"{name} must be {size} bytes", field=name)
    return value
