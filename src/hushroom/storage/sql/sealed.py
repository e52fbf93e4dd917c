"""Which rows hold sealed text, and the identity each value is bound to (storage/at_rest.py).

The identity is what the row is, never where it sits: a message is (conversation, seq), known
inside the send transaction before the row id exists.
"""

from __future__ import annotations

import uuid

from hushroom.storage.at_rest import AadParts, AtRestCipher


def message_body(conversation_id: uuid.UUID, seq: int) -> AadParts:
    return ("messages", "body", str(conversation_id), str(seq))


def conversation_name(conversation_id: uuid.UUID) -> AadParts:
    return ("conversations", "name", str(conversation_id))


def conversation_topic(conversation_id: uuid.UUID) -> AadParts:
    return ("conversations", "topic", str(conversation_id))


def user_display_name(user_id: uuid.UUID) -> AadParts:
    return ("users", "display_name", str(user_id))


def audit_detail(entry_id: int) -> AadParts:
    return ("audit_log", "detail", str(entry_id))


def seal_optional(cipher: AtRestCipher, parts: AadParts, text: str | None) -> bytes | None:
    return cipher.seal(parts, text) if text is not None else None


def open_optional(
    cipher: AtRestCipher, parts: AadParts, sealed: bytes | None, legacy: str | None = None
) -> str | None:
    """The sealed value; else the plaintext column (a row written before migration 0010 that
    the start-up pass has not sealed yet: it seals every such row before serving)."""
    if sealed is not None:
        return cipher.open(parts, bytes(sealed))
    return legacy
