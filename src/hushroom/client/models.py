"""Typed views of the server's JSON (docs/protocol.md): parsed once at the edge of the SDK."""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

ConversationKind = Literal["room", "dm", "group"]
Id = uuid.UUID | str


def new_client_msg_id() -> str:
    """A fresh client message id: 128 random bits as 32 lowercase hex characters."""
    return secrets.token_hex(16)


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def id_str(value: Id) -> str:
    """The canonical string form of an id given as a UUID or a string."""
    return str(uuid.UUID(str(value)))


@dataclass(frozen=True, slots=True)
class Message:
    id: int
    conversation_id: uuid.UUID
    seq: int
    sender_id: uuid.UUID
    sender_device_id: uuid.UUID
    client_msg_id: str
    created_at: int
    body: str | None = None
    generation: int | None = None
    ciphertext: bytes | None = field(default=None, repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Message:
        ciphertext = data.get("ciphertext")
        return cls(
            id=int(data["id"]),
            conversation_id=uuid.UUID(data["conversation_id"]),
            seq=int(data["seq"]),
            sender_id=uuid.UUID(data["sender_id"]),
            sender_device_id=uuid.UUID(data["sender_device_id"]),
            client_msg_id=str(data["client_msg_id"]),
            created_at=int(data["created_at"]),
            body=data.get("body"),
            generation=data.get("generation"),
            ciphertext=b64url_decode(ciphertext) if isinstance(ciphertext, str) else None,
        )


@dataclass(frozen=True, slots=True)
class Conversation:
    id: uuid.UUID
    kind: ConversationKind
    name: str | None
    topic: str | None
    created_by: uuid.UUID
    created_at: int
    last_seq: int
    member_count: int
    # Only in the caller's conversation list.
    role: str | None = None
    last_read_seq: int | None = None
    unread: int | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Conversation:
        return cls(
            id=uuid.UUID(data["id"]),
            kind=data["kind"],
            name=data.get("name"),
            topic=data.get("topic"),
            created_by=uuid.UUID(data["created_by"]),
            created_at=int(data["created_at"]),
            last_seq=int(data["last_seq"]),
            member_count=int(data["member_count"]),
            role=data.get("role"),
            last_read_seq=data.get("last_read_seq"),
            unread=data.get("unread"),
        )


@dataclass(frozen=True, slots=True)
class SendAck:
    conversation_id: uuid.UUID
    client_msg_id: str
    seq: int
    message_id: int
    created_at: int
    # True when this client_msg_id had already been stored: nothing new was stored.
    duplicate: bool

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SendAck:
        return cls(
            conversation_id=uuid.UUID(data["conversation_id"]),
            client_msg_id=str(data["client_msg_id"]),
            seq=int(data["seq"]),
            message_id=int(data["message_id"]),
            created_at=int(data["created_at"]),
            duplicate=bool(data["duplicate"]),
        )


@dataclass(frozen=True, slots=True)
class HistoryPage:
    messages: list[Message]
    # Older messages exist before the first one returned.
    has_more_before: bool
    # The conversation's latest seq when the page was read.
    last_seq: int

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HistoryPage:
        return cls(
            messages=[Message.from_json(m) for m in data["messages"]],
            has_more_before=bool(data["has_more_before"]),
            last_seq=int(data["last_seq"]),
        )


@dataclass(frozen=True, slots=True)
class UserProfile:
    user_id: uuid.UUID
    display_name: str
    key_bundle: bytes = field(repr=False)
    key_bundle_version: int

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> UserProfile:
        return cls(
            user_id=uuid.UUID(data["user_id"]),
            display_name=str(data["display_name"]),
            key_bundle=b64url_decode(data["key_bundle"]),
            key_bundle_version=int(data["key_bundle_version"]),
        )


@dataclass(frozen=True, slots=True)
class Login:
    """What a login returns besides the tokens (which the SDK keeps to itself)."""

    user_id: uuid.UUID
    device_id: uuid.UUID
    session_id: uuid.UUID
    vault: bytes = field(repr=False)
    vault_version: int
    key_bundle: bytes = field(repr=False)
    key_bundle_version: int

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Login:
        return cls(
            user_id=uuid.UUID(data["user_id"]),
            device_id=uuid.UUID(data["device_id"]),
            session_id=uuid.UUID(data["session_id"]),
            vault=b64url_decode(data["vault"]),
            vault_version=int(data["vault_version"]),
            key_bundle=b64url_decode(data["key_bundle"]),
            key_bundle_version=int(data["key_bundle_version"]),
        )
