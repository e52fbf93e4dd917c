"""SQL implementation of the conversation, member and message repositories (portable Core)."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from typing import Any, TypeVar

from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from hushroom.errors import RoomNameTaken
from hushroom.storage.conversations import (
    ConversationRecord,
    MemberRecord,
    MessageRecord,
    NewMessage,
    Role,
)
from hushroom.storage.sql.tables import ROOM_NAME_INDEX, conversations, members, messages

_CONV_COLS = (
    conversations.c.id,
    conversations.c.kind,
    conversations.c.name,
    conversations.c.topic,
    conversations.c.created_by,
    conversations.c.created_at,
    conversations.c.last_seq,
    conversations.c.member_count,
)
_MEMBER_COLS = (
    members.c.conversation_id,
    members.c.user_id,
    members.c.role,
    members.c.joined_at,
    members.c.last_read_seq,
)


_T = TypeVar("_T")


def _padded(values: Collection[_T]) -> list[_T]:
    """The values, repeated up to the next power of two: an IN list then has one of a few
    lengths, so the driver's prepared-statement cache holds a few statements, not one per size."""
    items = list(values)
    size = 1
    while size < len(items):
        size *= 2
    return items + [items[-1]] * (size - len(items)) if items else items


# The send path's statements, built once: constructing a statement costs more CPU than running
# it through the compiled cache (one send batch runs each of these once).
_LOCK_WITH_MEMBER_IDS = (
    select(*_CONV_COLS, members.c.user_id)
    .select_from(conversations.outerjoin(members, members.c.conversation_id == conversations.c.id))
    .where(conversations.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(conversations.c.id)
    # PostgreSQL locks the conversation rows in the ORDER BY order (members are only read);
    # SQLite ignores FOR UPDATE (its writes are serialised by the engine's write lock).
    .with_for_update(of=conversations)
)
_SET_LAST_SEQ = (
    update(conversations)
    .where(conversations.c.id == bindparam("b_id"))
    .values(last_seq=bindparam("b_seq"))
)
_SET_READ = (
    update(members)
    .where(
        and_(
            members.c.conversation_id == bindparam("b_conv"),
            members.c.user_id == bindparam("b_user"),
            members.c.last_read_seq < bindparam("b_seq"),
        )
    )
    .values(last_read_seq=bindparam("b_seq"))
)
_INSERT_MESSAGES = insert(messages).returning(messages.c.id, sort_by_parameter_order=True)
# Two IN lists match the (device, client_msg_id) index; the exact pairs are picked in Python.
_BY_CLIENT_IDS = select(messages).where(
    and_(
        messages.c.sender_device_id.in_(bindparam("devices", expanding=True)),
        messages.c.client_msg_id.in_(bindparam("cmids", expanding=True)),
    )
)


def _conv(row: Any) -> ConversationRecord:
    return ConversationRecord(*row[:8])


def _member(row: Any) -> MemberRecord:
    return MemberRecord(*row[:5])


def _message(row: Any) -> MessageRecord:
    return MessageRecord(
        id=row.id,
        conversation_id=row.conversation_id,
        seq=row.seq,
        sender_id=row.sender_id,
        sender_device_id=row.sender_device_id,
        client_msg_id=row.client_msg_id,
        created_at=row.created_at,
        body=row.body,
        generation=row.generation,
        ciphertext=row.ciphertext,
    )


class SqlConversationRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def create(self, record: ConversationRecord, dm_pair: str | None = None) -> None:
        await self._conn.execute(
            insert(conversations).values(
                id=record.id,
                kind=record.kind,
                name=record.name,
                name_lower=record.name.lower() if record.name else None,
                topic=record.topic,
                created_by=record.created_by,
                created_at=record.created_at,
                last_seq=record.last_seq,
                member_count=record.member_count,
                dm_pair=dm_pair,
            )
        )

    async def create_room(self, record: ConversationRecord) -> None:
        try:
            async with self._conn.begin_nested():
                await self.create(record)
        except IntegrityError as exc:
            # PostgreSQL names the index; SQLite names the column.
            message = str(exc.orig)
            if ROOM_NAME_INDEX in message or "conversations.name_lower" in message:
                raise RoomNameTaken(field="name") from exc
            raise

    async def get(self, conversation_id: uuid.UUID) -> ConversationRecord | None:
        row = (
            await self._conn.execute(
                select(*_CONV_COLS).where(conversations.c.id == conversation_id)
            )
        ).first()
        return _conv(row) if row else None

    async def get_with_member(
        self, conversation_id: uuid.UUID, user_id: uuid.UUID
    ) -> tuple[ConversationRecord | None, MemberRecord | None]:
        stmt = (
            select(*_CONV_COLS, *_MEMBER_COLS)
            .select_from(
                conversations.outerjoin(
                    members,
                    and_(
                        members.c.conversation_id == conversations.c.id,
                        members.c.user_id == user_id,
                    ),
                )
            )
            .where(conversations.c.id == conversation_id)
        )
        row = (await self._conn.execute(stmt)).first()
        if row is None:
            return None, None
        member = tuple(row)[8:]
        return _conv(row), (_member(member) if member[0] is not None else None)

    async def get_dm(self, dm_pair: str) -> ConversationRecord | None:
        row = (
            await self._conn.execute(select(*_CONV_COLS).where(conversations.c.dm_pair == dm_pair))
        ).first()
        return _conv(row) if row else None

    async def search_rooms(
        self, query: str | None, limit: int, after: ConversationRecord | None
    ) -> list[ConversationRecord]:
        name_lower, room_id = conversations.c.name_lower, conversations.c.id
        stmt = select(*_CONV_COLS).where(conversations.c.kind == "room")
        if query:
            # autoescape: LIKE metacharacters in the query match literally.
            stmt = stmt.where(name_lower.contains(query.lower(), autoescape=True))
        if after is not None:
            # Keyset on (name_lower, id): rooms whose names compare equal are neither skipped
            # nor repeated across pages.
            after_lower = (after.name or "").lower()
            stmt = stmt.where(
                or_(name_lower > after_lower, and_(name_lower == after_lower, room_id > after.id))
            )
        stmt = stmt.order_by(name_lower, room_id).limit(limit)
        return [_conv(r) for r in await self._conn.execute(stmt)]

    async def for_user(self, user_id: uuid.UUID) -> list[tuple[ConversationRecord, MemberRecord]]:
        stmt = (
            select(*_CONV_COLS, *_MEMBER_COLS)
            .select_from(
                conversations.join(members, members.c.conversation_id == conversations.c.id)
            )
            .where(members.c.user_id == user_id)
            .order_by(conversations.c.created_at)
        )
        return [(_conv(r), _member(tuple(r)[8:])) for r in await self._conn.execute(stmt)]

    async def add_member_count(self, conversation_id: uuid.UUID, delta: int) -> ConversationRecord:
        row = (
            await self._conn.execute(
                update(conversations)
                .where(conversations.c.id == conversation_id)
                .values(member_count=conversations.c.member_count + delta)
                .returning(*_CONV_COLS)
            )
        ).one()
        return _conv(row)

    async def lock_with_member_ids(
        self, conversation_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, tuple[ConversationRecord, list[uuid.UUID]]]:
        if not conversation_ids:
            return {}
        rows = await self._conn.execute(_LOCK_WITH_MEMBER_IDS, {"ids": _padded(conversation_ids)})
        found: dict[uuid.UUID, tuple[ConversationRecord, list[uuid.UUID]]] = {}
        for row in rows:
            entry = found.get(row[0])
            if entry is None:
                entry = found[row[0]] = (_conv(row), [])
            if row[8] is not None:  # a conversation without members still exists
                entry[1].append(row[8])
        return found

    async def set_last_seqs(self, last_seqs: dict[uuid.UUID, int]) -> None:
        if not last_seqs:
            return
        await self._conn.execute(
            _SET_LAST_SEQ,
            [{"b_id": cid, "b_seq": seq} for cid, seq in sorted(last_seqs.items())],
        )


class SqlMemberRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, record: MemberRecord) -> bool:
        if await self.get(record.conversation_id, record.user_id) is not None:
            return False
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(
                    insert(members).values(
                        conversation_id=record.conversation_id,
                        user_id=record.user_id,
                        role=record.role,
                        joined_at=record.joined_at,
                        last_read_seq=record.last_read_seq,
                    )
                )
        except IntegrityError:
            return False  # a concurrent join won the race
        return True

    async def remove(self, conversation_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        result = await self._conn.execute(
            delete(members).where(
                and_(members.c.conversation_id == conversation_id, members.c.user_id == user_id)
            )
        )
        return bool(result.rowcount)

    async def get(self, conversation_id: uuid.UUID, user_id: uuid.UUID) -> MemberRecord | None:
        row = (
            await self._conn.execute(
                select(*_MEMBER_COLS).where(
                    and_(members.c.conversation_id == conversation_id, members.c.user_id == user_id)
                )
            )
        ).first()
        return _member(row) if row else None

    async def page(
        self, conversation_id: uuid.UUID, limit: int = 10_000, after: uuid.UUID | None = None
    ) -> list[MemberRecord]:
        stmt = select(*_MEMBER_COLS).where(members.c.conversation_id == conversation_id)
        if after is not None:
            stmt = stmt.where(members.c.user_id > after)
        stmt = stmt.order_by(members.c.user_id).limit(limit)
        return [_member(r) for r in await self._conn.execute(stmt)]

    async def user_ids(self, conversation_id: uuid.UUID) -> list[uuid.UUID]:
        rows = await self._conn.execute(
            select(members.c.user_id).where(members.c.conversation_id == conversation_id)
        )
        return [r[0] for r in rows]

    async def set_read(self, conversation_id: uuid.UUID, user_id: uuid.UUID, seq: int) -> bool:
        result = await self._conn.execute(
            update(members)
            .where(
                and_(
                    members.c.conversation_id == conversation_id,
                    members.c.user_id == user_id,
                    members.c.last_read_seq < seq,
                )
            )
            .values(last_read_seq=seq)
        )
        return bool(result.rowcount)

    async def set_read_many(self, positions: Sequence[tuple[uuid.UUID, uuid.UUID, int]]) -> None:
        if not positions:
            return
        await self._conn.execute(
            _SET_READ,
            [{"b_conv": c, "b_user": u, "b_seq": seq} for c, u, seq in sorted(positions)],
        )

    async def count_admins(self, conversation_id: uuid.UUID) -> int:
        n = (
            await self._conn.execute(
                select(func.count())
                .select_from(members)
                .where(
                    and_(members.c.conversation_id == conversation_id, members.c.role == "admin")
                )
            )
        ).scalar_one()
        return int(n)

    async def co_members(self, user_id: uuid.UUID, limit: int) -> list[uuid.UUID]:
        mine = select(members.c.conversation_id).where(members.c.user_id == user_id)
        rows = await self._conn.execute(
            select(members.c.user_id)
            .where(members.c.conversation_id.in_(mine))
            .distinct()
            .limit(limit)
        )
        return [r[0] for r in rows]

    async def set_role(self, conversation_id: uuid.UUID, user_id: uuid.UUID, role: Role) -> None:
        await self._conn.execute(
            update(members)
            .where(and_(members.c.conversation_id == conversation_id, members.c.user_id == user_id))
            .values(role=role)
        )


class SqlMessageRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def insert_many(self, rows: Sequence[tuple[NewMessage, int]]) -> list[MessageRecord]:
        if not rows:
            return []
        result = await self._conn.execute(
            _INSERT_MESSAGES,
            [
                {
                    "conversation_id": m.conversation_id,
                    "seq": seq,
                    "sender_id": m.sender_id,
                    "sender_device_id": m.sender_device_id,
                    "client_msg_id": m.client_msg_id,
                    "created_at": m.created_at,
                    "body": m.body,
                    "generation": m.generation,
                    "ciphertext": m.ciphertext,
                }
                for m, seq in rows
            ],
        )
        ids = [int(r[0]) for r in result]
        return [
            MessageRecord(
                id=new_id,
                conversation_id=m.conversation_id,
                seq=seq,
                sender_id=m.sender_id,
                sender_device_id=m.sender_device_id,
                client_msg_id=m.client_msg_id,
                created_at=m.created_at,
                body=m.body,
                generation=m.generation,
                ciphertext=m.ciphertext,
            )
            for new_id, (m, seq) in zip(ids, rows, strict=True)
        ]

    async def by_client_ids(
        self, keys: Collection[tuple[uuid.UUID, str]]
    ) -> dict[tuple[uuid.UUID, str], MessageRecord]:
        if not keys:
            return {}
        wanted = set(keys)
        rows = await self._conn.execute(
            _BY_CLIENT_IDS,
            {
                "devices": _padded({d for d, _ in wanted}),
                "cmids": _padded({c for _, c in wanted}),
            },
        )
        found: dict[tuple[uuid.UUID, str], MessageRecord] = {}
        for row in rows:
            record = _message(row)
            key = (record.sender_device_id, record.client_msg_id)
            if key in wanted:
                found[key] = record
        return found

    async def page(
        self,
        conversation_id: uuid.UUID,
        *,
        before_seq: int | None = None,
        after_seq: int | None = None,
        limit: int = 50,
    ) -> list[MessageRecord]:
        stmt = select(messages).where(messages.c.conversation_id == conversation_id)
        if before_seq is not None:
            stmt = stmt.where(messages.c.seq < before_seq)
            if after_seq is not None:
                stmt = stmt.where(messages.c.seq > after_seq)
            rows = await self._conn.execute(stmt.order_by(messages.c.seq.desc()).limit(limit))
            return [_message(r) for r in reversed(list(rows))]
        if after_seq is not None:
            stmt = stmt.where(messages.c.seq > after_seq)
        rows = await self._conn.execute(stmt.order_by(messages.c.seq).limit(limit))
        return [_message(r) for r in rows]
