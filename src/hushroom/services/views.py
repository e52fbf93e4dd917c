"""JSON-ready views of records: the one place a record's wire shape is defined (HTTP and WS)."""

from __future__ import annotations

from typing import Any

from hushroom.crypto.encoding import b64url_encode as b64url
from hushroom.storage.conversations import ConversationRecord, KeySetRecord, MessageRecord

__all__ = ["b64url", "conversation_view", "key_set_view", "message_view"]


def message_view(m: MessageRecord) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": m.id,
        "conversation_id": str(m.conversation_id),
        "seq": m.seq,
        "sender_id": str(m.sender_id),
        "sender_device_id": str(m.sender_device_id),
        "client_msg_id": m.client_msg_id,
        "created_at": m.created_at,
    }
    if m.removed_at is not None:
        # Removed by a server admin: no body, only the mark (the seq keeps its place).
        view["removed"] = True
    elif m.ciphertext is not None:
        view["generation"] = m.generation
        view["ciphertext"] = b64url(m.ciphertext)
    else:
        view["body"] = m.body
    return view


def conversation_view(c: ConversationRecord) -> dict[str, Any]:
    return {
        "id": str(c.id),
        "kind": c.kind,
        "name": c.name,
        "topic": c.topic,
        "created_by": str(c.created_by),
        "created_at": c.created_at,
        "last_seq": c.last_seq,
        "member_count": c.member_count,
    }


def key_set_view(k: KeySetRecord, box: bytes) -> dict[str, Any]:
    """One generation as a member fetches it: the signed statement and their own box."""
    return {
        "generation": k.generation,
        "statement": b64url(k.statement),
        "box": b64url(box),
        "creator_user_id": str(k.creator_user_id),
        "creator_device_id": str(k.creator_device_id),
        "membership_index": k.membership_index,
        "created_at": k.created_at,
    }
