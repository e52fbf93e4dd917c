"""Typed views of the server's JSON (docs/protocol.md): parsed once at the edge of the SDK."""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from hushroom.crypto.recovery import RecoveryCode

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
    """Public fields of a user (their keys: `HushroomClient.key_directory`)."""

    user_id: uuid.UUID
    display_name: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> UserProfile:
        return cls(user_id=uuid.UUID(data["user_id"]), display_name=str(data["display_name"]))


KeysState = Literal["ready", "setup_required"]


@dataclass(frozen=True, slots=True)
class Login:
    """What a login returns besides the tokens (which the SDK keeps to itself).

    ``keys`` and ``device_certified`` describe the account after `HushroomClient.login` is done:
    it sets up keys and certifies the device by itself. ``recovery_code`` is set when this call
    created a new recovery code (`register_and_login`, or the one-time key set-up of an account
    created before real keys): show it to the user once; it is not stored anywhere.
    """

    user_id: uuid.UUID
    device_id: uuid.UUID
    session_id: uuid.UUID
    keys: KeysState
    device_certified: bool
    recovery_code: RecoveryCode | None = field(default=None, repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Login:
        keys = data.get("keys", "ready")
        if keys not in ("ready", "setup_required"):
            raise ValueError(f"unknown keys state {keys!r}")
        return cls(
            user_id=uuid.UUID(data["user_id"]),
            device_id=uuid.UUID(data["device_id"]),
            session_id=uuid.UUID(data["session_id"]),
            keys=keys,
            device_certified=bool(data.get("device_certified", False)),
        )


@dataclass(frozen=True, slots=True)
class Registration:
    """A new account: its ids (chosen by the client) and its recovery code, which exists only
    here: show it to the user once."""

    user_id: uuid.UUID
    device_id: uuid.UUID
    recovery_code: RecoveryCode = field(repr=False)


@dataclass(frozen=True, slots=True)
class Device:
    """One of the caller's devices (`GET /api/v1/devices`)."""

    device_id: uuid.UUID
    name: str
    created_at: int
    last_active_at: int | None
    revoked_at: int | None
    certified: bool
    current: bool

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Device:
        last_active, revoked = data.get("last_active_at"), data.get("revoked_at")
        return cls(
            device_id=uuid.UUID(data["device_id"]),
            name=str(data["name"]),
            created_at=int(data["created_at"]),
            last_active_at=None if last_active is None else int(last_active),
            revoked_at=None if revoked is None else int(revoked),
            certified=bool(data["certified"]),
            current=bool(data["current"]),
        )
