"""Validation of what a client sends about an account: email, names, KDF parameters.

Pure functions shared by registration, login, password change and recovery.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

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
# Upper bounds keep a hostile registration from handing its own clients absurd parameters.
MAX_KDF_M_KIB = 4 * 1024 * 1024
MAX_KDF_T = 64
MAX_KDF_P = 16
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


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def clean_kdf_params(params: dict[str, Any]) -> dict[str, Any]:
    """Accept the minimum of docs/crypto.md §5.1 or stronger; refuse anything weaker or unknown."""
    if set(params) != set(MIN_KDF_PARAMS):
        raise ValidationFailed(
            "kdf_params must have exactly alg, version, m_kib, t and p", field="kdf_params"
        )
    if params["alg"] != KDF_ALG or params["version"] != KDF_VERSION:
        raise ValidationFailed("kdf_params must be argon2id version 1", field="kdf_params")
    m, t, p = params["m_kib"], params["t"], params["p"]
    if not (_is_int(m) and _is_int(t) and _is_int(p)):
        raise ValidationFailed("kdf_params m_kib, t and p must be integers", field="kdf_params")
    if m < MIN_KDF_PARAMS["m_kib"] or t < MIN_KDF_PARAMS["t"] or p < MIN_KDF_PARAMS["p"]:
        raise ValidationFailed(
            "kdf_params are weaker than the minimum (m_kib=65536, t=3, p=1)", field="kdf_params"
        )
    if m > MAX_KDF_M_KIB or t > MAX_KDF_T or p > MAX_KDF_P:
        raise ValidationFailed("kdf_params are out of range", field="kdf_params")
    return {"alg": KDF_ALG, "version": KDF_VERSION, "m_kib": m, "t": t, "p": p}


def check_size(value: bytes, size: int, name: str) -> bytes:
    if len(value) != size:
        raise ValidationFailed(f"{name} must be {size} bytes", field=name)
    return value
