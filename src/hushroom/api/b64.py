"""base64url (no padding) fields for request models.

One decoder for every path: the crypto core's strict one (no padding, URL-safe alphabet,
canonical trailing bits), so a value accepted over HTTP is accepted over the WebSocket too.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from hushroom.crypto.encoding import b64url_decode
from hushroom.crypto.errors import Malformed


def decode_b64url(value: str) -> bytes:
    try:
        return b64url_decode(value)
    except Malformed as exc:
        raise ValueError("must be canonical base64url without padding") from exc


def _check(value: str) -> str:
    decode_b64url(value)
    return value


B64Url = Annotated[str, AfterValidator(_check)]
