"""The plaintext inside an envelope: one message event (docs/crypto.md §8.7).

A UTF-8 JSON object with a string ``type``; a text message is ``{"type":"text","body":…}``.
JSON rather than the canonical encoding because events will grow optional fields (replies,
edits, attachment keys) that old clients must skip, not refuse.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final, NoReturn

from hushroom.crypto.errors import Malformed

TEXT: Final = "text"
MAX_EVENT_BYTES: Final = 65536


@dataclass(frozen=True, slots=True)
class MessageEvent:
    """A decoded event. ``body`` is the text of a ``text`` event; None for other types, which
    a client shows as "not supported by this version" instead of failing."""

    type: str
    body: str | None = None


def _refuse_constant(name: str) -> NoReturn:
    raise Malformed(f"not JSON: {name}")


def _well_formed(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a \\ud800-style escape
        return False
    return True


def encode_text_event(text: str) -> bytes:
    """``{"type":"text","body":text}``: no spaces, non-ASCII as UTF-8, the escapes of
    ECMAScript's ``JSON.stringify`` (so both implementations produce the same bytes)."""
    if not text or not _well_formed(text):
        raise Malformed("a text event needs a non-empty, well-formed body")
    data = json.dumps({"type": TEXT, "body": text}, separators=(",", ":"), ensure_ascii=False)
    encoded = data.encode("utf-8")
    if len(encoded) > MAX_EVENT_BYTES:
        raise Malformed("the event is too large")
    return encoded


def decode_event(plaintext: bytes) -> MessageEvent:
    """Strict: UTF-8, standard JSON (no NaN/Infinity), an object with a non-empty string
    ``type``; a ``text`` event has a non-empty, well-formed string ``body``. Unknown fields are
    ignored (later versions add them)."""
    if len(plaintext) > MAX_EVENT_BYTES:
        raise Malformed("the event is too large")
    try:
        event: Any = json.loads(plaintext.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Malformed("the event is not UTF-8 JSON") from None
    if not isinstance(event, dict):
        raise Malformed("the event is not a JSON object")
    kind = event.get("type")
    if not isinstance(kind, str) or not kind or not _well_formed(kind):
        raise Malformed("the event has no type")
    if kind != TEXT:
        return MessageEvent(kind)
    body = event.get("body")
    if not isinstance(body, str) or not body or not _well_formed(body):
        raise Malformed("a text event needs a non-empty string body")
    return MessageEvent(kind, body)
