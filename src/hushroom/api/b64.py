"""base64url (no padding) fields for request models."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated

from pydantic import AfterValidator

_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")


def decode_b64url(value: str) -> bytes:
    if not _B64URL.match(value) or len(value) % 4 == 1:
        raise ValueError("must be base64url without padding")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("must be base64url without padding") from exc


def _check(value: str) -> str:
    decode_b64url(value)
    return value


B64Url = Annotated[str, AfterValidator(_check)]
