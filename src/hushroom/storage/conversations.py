"""Conversation, membership and message records, and the repository interfaces that store them."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

ConversationKind = Literal["room", "dm", "group"]
Role = Literal["admin", "member"]


@dataclass(frozen=True, slots=True)
class ConversationRecord:
    id: uuid.UUID
    kind: ConversationKind
    name: str | None
    topic: str | None
    created_by: uuid.UUID
    created_at: int
    last_seq: int
    member_count: int

    @property
    def is_private(self) -> bool:
        return self.kind != "room"


@dataclass(frozen=True, slots=True)
class MemberRecord:
    conversation_id: uuid.UUID
    user_id: uuid.UUID
    role: Role
    joined_at: int
    last_read_seq: int


@dataclass(frozen=True, slots=True)
class MessageRecord:
    id: int
    conversation_id: uuid.UUID
    seq: int
    sender_id: uuid.UUID
    sender_device_id: uuid.UUID
    client_msg_id: str
    created_at: int
    body: str | None
    generation: int | None
    ciphertext: bytes | None


@dataclass(frozen=True, slots=True)
class NewMessage:
    conversation_id: uuid.UUID
    sender_id: uuid.UUID
    sender_device_id: uuid.UUID
    client_msg_id: str
    created_at: int
    body: str | None
    generation: int | None
    ciphertext: bytes | None


class ConversationRepository(Protocol):
    async def create(self, record: ConversationRecord, dm_pair: str | None = None) -> None: ...

    async def get(self, conversation_id: uuid.UUID) -> ConversationRecord | None: ...

    async def get_with_member(
        self, conversation_id: uuid.UUID, user_id: uuid.UUID
    ) -> tuple[ConversationRecord | None, MemberRecord | None]:
        """The conversation and the user's membership in it, in one round trip."""
        ...

    async def get_dm(self, dm_pair: str) -> ConversationRecord | None: ...

    async def create_room(self, record: ConversationRecord) -> None:
        """Insert a public room; RoomNameTaken if a room has the same name, ignoring case."""
        ...

    async def search_rooms(
        self, query: str | None, limit: int, after: ConversationRecord | None
    ) -> list[ConversationRecord]:
        """Public rooms whose name contains `query` (case-insensitive), ordered by name, then id
        (names are compared case-insensitively); `after` is the last room of the previous page."""
        ...

    async def for_user(self, user_id: uuid.UUID) -> list[tuple[ConversationRecord, MemberRecord]]:
        """Every conversation the user is a member of, with their membership."""
        ...

    async def add_member_count(self, conversation_id: uuid.UUID, delta: int) -> ConversationRecord:
        """Adjust the member count; returns the conversation as updated."""
        ...

    async def lock_with_member_ids(
        self, conversation_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, tuple[ConversationRecord, list[uuid.UUID]]]:
        """The conversations that exist with their members' user ids, in one round trip; the
        conversation rows stay locked in id order (so two batches touching the same
        conversations queue instead of deadlocking) until the transaction ends."""
        ...

    async def set_last_seqs(self, last_seqs: dict[uuid.UUID, int]) -> None:
        """Store new sequence highs for conversations locked with `lock_with_member_ids`."""
        ...


class MemberRepository(Protocol):
    async def add(self, record: MemberRecord) -> bool:
        """Insert; False if already a member."""
        ...

    async def remove(self, conversation_id: uuid.UUID, user_id: uuid.UUID) -> bool: ...

    async def get(self, conversation_id: uuid.UUID, user_id: uuid.UUID) -> MemberRecord | None: ...

    async def page(
        self, conversation_id: uuid.UUID, limit: int = 10_000, after: uuid.UUID | None = None
    ) -> list[MemberRecord]: ...

    async def user_ids(self, conversation_id: uuid.UUID) -> list[uuid.UUID]: ...

    async def set_read(self, conversation_id: uuid.UUID, user_id: uuid.UUID, seq: int) -> bool:
        """Move last_read_seq forward (never back); True if it moved."""
        ...

    async def set_read_many(self, positions: Sequence[tuple[uuid.UUID, uuid.UUID, int]]) -> None:
        """`set_read` for many (conversation, user, seq) at once."""
        ...

    async def count_admins(self, conversation_id: uuid.UUID) -> int: ...

    async def co_members(self, user_id: uuid.UUID, limit: int) -> list[uuid.UUID]:
        """Users sharing at least one conversation with `user_id` (presence audience)."""
        ...

    async def set_role(
        self, conversation_id: uuid.UUID, user_id: uuid.UUID, role: Role
    ) -> None: ...


class MessageRepository(Protocol):
    async def insert_many(self, rows: Sequence[tuple[NewMessage, int]]) -> list[MessageRecord]:
        """Insert (message, seq) pairs in one statement; records in the same order."""
        ...

    async def by_client_ids(
        self, keys: Collection[tuple[uuid.UUID, str]]
    ) -> dict[tuple[uuid.UUID, str], MessageRecord]:
        """Stored messages by (sender_device_id, client_msg_id), for the keys that exist."""
        ...

    async def page(
        self,
        conversation_id: uuid.UUID,
        *,
        before_seq: int | None = None,
        after_seq: int | None = None,
        limit: int = 50,
    ) -> list[MessageRecord]:
        """Messages in ascending seq. With before_seq: the `limit` just before it. With after_seq
        (or neither): the `limit` just after it (from the start)."""
        ...
