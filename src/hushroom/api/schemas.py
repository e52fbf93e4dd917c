"""Response and request models shared by several route modules (OpenAPI shapes)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator


def _refuse_nul(value: Any) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("must not contain NUL characters")
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _refuse_nul(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_nul(key)
            _refuse_nul(item)


class Strict(BaseModel):
    """Base of every request body. No field of any of them takes a NUL character: PostgreSQL
    refuses NUL in text and SQLite stores it, so it is refused here, once, with the same 422
    `validation_failed` on both (docs/security.md § Edges; URLs: api/edges.py)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        _refuse_nul(value)
        return value


class ConversationOut(BaseModel):
    id: str
    kind: Literal["room", "dm", "group"]
    name: str | None
    topic: str | None
    created_by: str
    created_at: int
    last_seq: int
    member_count: int


class ConversationSummaryOut(ConversationOut):
    role: Literal["admin", "member"]
    last_read_seq: int
    unread: int
    # The caller has not accepted it yet (a message request, docs/decisions/0006).
    request: bool
    # Left out of the list unless asked for with include_hidden=true.
    hidden: bool


class MessageOut(BaseModel):
    id: int
    conversation_id: str
    seq: int
    sender_id: str
    sender_device_id: str
    client_msg_id: str
    created_at: int
    body: str | None = None
    generation: int | None = None
    ciphertext: str | None = None
    # True for a public-room message a server admin removed (it has no body); null otherwise.
    removed: bool | None = None


class MessagePage(BaseModel):
    messages: list[MessageOut]
    # Set when older messages exist before the first one returned.
    has_more_before: bool
    last_seq: int


class MemberOut(BaseModel):
    user_id: str
    role: Literal["admin", "member"]
    joined_at: int
    last_read_seq: int


class MemberPage(BaseModel):
    members: list[MemberOut]
    next_after: str | None


class SendAck(BaseModel):
    conversation_id: str
    client_msg_id: str
    seq: int
    message_id: int
    created_at: int
    duplicate: bool
