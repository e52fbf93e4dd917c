"""Conversation, membership and message records, and the repository interfaces that store them."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
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
    # Private conversations (decision 0005): the latest key set's generation (0 = none yet) and
    # whether membership or a member's PUK changed since it was made.
    key_generation: int = 0
    keys_stale: bool = False
    # Groups: the membership log's head index (-1 = empty) and the hash of that entry.
    log_index: int = -1
    log_head: bytes | None = field(default=None, repr=False)

    @property
    def is_private(self) -> bool:
        return self.kind != "room"


@dataclass(frozen=True, slots=True)
class KeySetRecord:
    conversation_id: uuid.UUID
    generation: int
    creator_user_id: uuid.UUID
    creator_device_id: uuid.UUID
    statement: bytes = field(repr=False)
    # Groups: the membership log index that was the head at upload; None for DMs.
    membership_index: int | None
    created_at: int


@dataclass(frozen=True, slots=True)
class MembershipLogRecord:
    conversation_id: uuid.UUID
    index: int
    entry: bytes = field(repr=False)
    entry_hash: bytes = field(repr=False)
    created_at: int


@dataclass(frozen=True, slots=True)
class MemberRecord:
    conversation_id: uuid.UUID
    user_id: uuid.UUID
    role: Role
    joined_at: int
    last_read_seq: int
    # Consent (docs/decisions/0006): False while the membership is a request the user has not
    # accepted; `hidden` keeps it out of their conversation list.
    accepted: bool = True
    hidden: bool = False

    @property
    def silent(self) -> bool:
        """An ignored request (declined or hidden, or made by someone the user blocks): nothing
        about the conversation is pushed to this member."""
        return not self.accepted and self.hidden


@dataclass(frozen=True, slots=True)
class LockedConversation:
    """A conversation locked for a send batch, with what the batch needs of its members."""

    conversation: ConversationRecord
    member_ids: list[uuid.UUID]
    # Members who get no live `message.new` from it (`MemberRecord.silent`).
    silent_ids: frozenset[uuid.UUID] = frozenset()
    # Whether an accepted member has hidden it (a new message may bring it back).
    has_hidden: bool = False


@dataclass(frozen=True, slots=True)
class BlockRecord:
    user_id: uuid.UUID
    blocked_user_id: uuid.UUID
    created_at: int


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
    # A public-room message a server admin removed (its body is gone; the seq stays).
    removed_at: int | None = None
    removed_by: uuid.UUID | None = None

    @property
    def removed(self) -> bool:
        return self.removed_at is not None


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

    async def last_seqs_of_members(
        self, pairs: Collection[tuple[uuid.UUID, uuid.UUID]]
    ) -> dict[tuple[uuid.UUID, uuid.UUID], int]:
        """The last seq of each (user, conversation) pair where the user is a member (the other
        pairs are left out). Nothing is opened: the resumes of many sockets share one query."""
        ...

    async def add_member_count(self, conversation_id: uuid.UUID, delta: int) -> ConversationRecord:
        """Adjust the member count; returns the conversation as updated."""
        ...

    async def lock_with_member_ids(
        self, conversation_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, LockedConversation]:
        """The conversations that exist with their members' user ids, in one round trip; the
        conversation rows stay locked in id order (so two batches touching the same
        conversations queue instead of deadlocking) until the transaction ends."""
        ...

    async def set_last_seqs(self, last_seqs: dict[uuid.UUID, int]) -> None:
        """Store new sequence highs for conversations locked with `lock_with_member_ids`."""
        ...

    async def lock(self, conversation_id: uuid.UUID) -> ConversationRecord | None:
        """The conversation, its row locked until the transaction ends (key-set uploads and
        membership changes of one conversation queue behind each other)."""
        ...

    async def set_key_generation(self, conversation_id: uuid.UUID, generation: int) -> bool:
        """Move to `generation` and clear the stale flag, only from `generation - 1`; False if
        another upload moved it first."""
        ...

    async def mark_keys_stale(self, conversation_id: uuid.UUID) -> None: ...

    async def mark_keys_stale_for_user(self, user_id: uuid.UUID) -> None:
        """Every private conversation the user is a member of (their PUK rotated)."""
        ...

    async def set_log_head(
        self, conversation_id: uuid.UUID, index: int, head: bytes, *, stale: bool
    ) -> None:
        """Record the membership log's new head; `stale` also marks the keys stale."""
        ...

    async def set_name(self, conversation_id: uuid.UUID, name: str) -> ConversationRecord:
        """Rename; returns the conversation as updated."""
        ...

    async def delete(self, conversation_id: uuid.UUID) -> bool:
        """Delete the conversation with its messages and memberships; False if none existed."""
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
        """The presence audience of `user_id` (docs/decisions/0006): users sharing a public
        room with them, or a private conversation where both have accepted, less anyone either
        of them blocks."""
        ...

    async def shares_presence(self, a: uuid.UUID, b: uuid.UUID) -> bool:
        """Whether `b` is in `a`'s presence audience (`co_members`, for one pair)."""
        ...

    async def presence_recipients(
        self,
        user_id: uuid.UUID,
        watchers: Collection[uuid.UUID],
        limit: int,
        among: Collection[uuid.UUID] | None = None,
    ) -> list[uuid.UUID]:
        """Who is pushed `user_id`'s presence changes (docs/protocol.md "Presence"): users sharing
        a private conversation with them where both have accepted, plus those of `watchers` in
        their presence audience (`co_members`: a shared public room is enough), less anyone
        either of them blocks. `among`: only these candidates."""
        ...

    async def presence_visible_among(
        self, user_id: uuid.UUID, candidates: Collection[uuid.UUID]
    ) -> set[uuid.UUID]:
        """The candidates in `user_id`'s presence audience (`co_members`), for a watch."""
        ...

    async def contacts_among(
        self, user_id: uuid.UUID, candidates: Collection[uuid.UUID]
    ) -> set[uuid.UUID]:
        """The candidates who share a private conversation with `user_id` in which both have
        accepted (they are not strangers: no request is needed)."""
        ...

    async def audience(self, conversation_id: uuid.UUID, actor: uuid.UUID) -> list[uuid.UUID]:
        """Members who may see `actor`'s typing and receipts in the conversation: not silent,
        not blocking `actor` and not blocked by them (the actor is included)."""
        ...

    async def listeners(self, conversation_id: uuid.UUID) -> list[uuid.UUID]:
        """Members who get the conversation's events (every member but the silent ones)."""
        ...

    async def set_consent(
        self,
        conversation_id: uuid.UUID,
        user_id: uuid.UUID,
        *,
        accepted: bool | None = None,
        hidden: bool | None = None,
    ) -> bool:
        """Change the membership's `accepted` / `hidden` (None leaves one as it is); False if
        the user is not a member."""
        ...

    async def unhide_for_senders(self, pairs: Collection[tuple[uuid.UUID, uuid.UUID]]) -> None:
        """For each (conversation, sender): accepted members who hid the conversation and do not
        block the sender see it again."""
        ...

    async def set_role(
        self, conversation_id: uuid.UUID, user_id: uuid.UUID, role: Role
    ) -> None: ...


class BlockRepository(Protocol):
    async def add(self, record: BlockRecord) -> bool:
        """Insert; False if it exists already."""
        ...

    async def remove(self, user_id: uuid.UUID, blocked_user_id: uuid.UUID) -> bool: ...

    async def of_user(self, user_id: uuid.UUID) -> list[BlockRecord]:
        """The users `user_id` blocks, oldest first."""
        ...

    async def exists(self, user_id: uuid.UUID, blocked_user_id: uuid.UUID) -> bool: ...

    async def blockers_of(self, user_id: uuid.UUID, among: Collection[uuid.UUID]) -> set[uuid.UUID]:
        """The users in `among` who block `user_id`."""
        ...

    async def touching(self, user_ids: Collection[uuid.UUID]) -> set[frozenset[uuid.UUID]]:
        """Every pair {blocker, blocked} with either side in `user_ids`."""
        ...


class MessageRepository(Protocol):
    async def get(self, message_id: int) -> MessageRecord | None: ...

    async def remove(self, message_id: int, removed_by: uuid.UUID, now: int) -> bool:
        """Clear the message's body and mark it removed (the row and its seq stay); False when
        it was removed already."""
        ...

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


class KeySetRepository(Protocol):
    async def add(self, record: KeySetRecord, boxes: Mapping[uuid.UUID, bytes]) -> None:
        """Insert a key set and its boxes; WriteConflict if the generation exists already."""
        ...

    async def for_member(
        self, conversation_id: uuid.UUID, user_id: uuid.UUID, after: int, limit: int
    ) -> list[tuple[KeySetRecord, bytes]]:
        """Key sets after generation `after` that have a box for `user_id`, with that box, in
        ascending generation."""
        ...

    async def get_for_member(
        self, conversation_id: uuid.UUID, generation: int, user_id: uuid.UUID
    ) -> tuple[KeySetRecord, bytes] | None: ...


class MembershipLogRepository(Protocol):
    async def append(self, record: MembershipLogRecord) -> None:
        """Insert one entry; WriteConflict if its index is taken."""
        ...

    async def page(
        self, conversation_id: uuid.UUID, after: int = -1, limit: int = 100_000
    ) -> list[MembershipLogRecord]:
        """Entries with index > `after`, ascending."""
        ...
