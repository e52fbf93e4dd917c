"""SQL implementation of the conversation, member and message repositories (portable Core)."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import (
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from hushroom.errors import RoomNameTaken
from hushroom.storage.at_rest import AtRestCipher
from hushroom.storage.conversations import (
    BlockRecord,
    ConversationRecord,
    KeySetRecord,
    LockedConversation,
    MemberRecord,
    MembershipLogRecord,
    MessageRecord,
    NewMessage,
    Role,
)
from hushroom.storage.sql import sealed
from hushroom.storage.sql.tables import (
    ROOM_NAME_INDEX,
    blocks,
    conversations,
    key_set_boxes,
    key_sets,
    members,
    membership_log,
    messages,
)

_CONV_COLS = (
    conversations.c.id,
    conversations.c.kind,
    conversations.c.name,
    conversations.c.topic,
    conversations.c.created_by,
    conversations.c.created_at,
    conversations.c.last_seq,
    conversations.c.member_count,
    conversations.c.key_generation,
    conversations.c.keys_stale,
    conversations.c.log_index,
    conversations.c.log_head,
    conversations.c.name_sealed,
    conversations.c.topic_sealed,
)
_N = len(_CONV_COLS)  # where the member columns start in a joined row
_MEMBER_COLS = (
    members.c.conversation_id,
    members.c.user_id,
    members.c.role,
    members.c.joined_at,
    members.c.last_read_seq,
    members.c.accepted,
    members.c.hidden,
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


# The resumes' one query (gateway `resume`, batched): positions only, no sealed name to open.
_LAST_SEQS_OF_MEMBERS = (
    select(members.c.user_id, conversations.c.id, conversations.c.last_seq)
    .select_from(conversations.join(members, members.c.conversation_id == conversations.c.id))
    .where(
        tuple_(members.c.user_id, members.c.conversation_id).in_(bindparam("pairs", expanding=True))
    )
)

# The send path's statements, built once: constructing a statement costs more CPU than running
# it through the compiled cache (one send batch runs each of these once).
_LOCK_WITH_MEMBER_IDS = (
    select(*_CONV_COLS, members.c.user_id, members.c.accepted, members.c.hidden)
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


def _conv(row: Any, cipher: AtRestCipher) -> ConversationRecord:
    head, conversation_id = row[11], row[0]
    return ConversationRecord(
        id=conversation_id,
        kind=row[1],
        name=sealed.open_optional(
            cipher, sealed.conversation_name(conversation_id), row[12], row[2]
        ),
        topic=sealed.open_optional(
            cipher, sealed.conversation_topic(conversation_id), row[13], row[3]
        ),
        created_by=row[4],
        created_at=row[5],
        last_seq=row[6],
        member_count=row[7],
        key_generation=row[8],
        keys_stale=bool(row[9]),
        log_index=row[10],
        log_head=bytes(head) if head is not None else None,
    )


def _member(row: Any) -> MemberRecord:
    return MemberRecord(
        row[0], row[1], row[2], row[3], row[4], accepted=bool(row[5]), hidden=bool(row[6])
    )


def _not_blocked_between(user_col: Any, other: Any) -> Any:
    """Neither `user_col` blocks `other` nor the reverse (two primary-key / index probes)."""
    return and_(
        ~exists().where(and_(blocks.c.user_id == user_col, blocks.c.blocked_user_id == other)),
        ~exists().where(and_(blocks.c.user_id == other, blocks.c.blocked_user_id == user_col)),
    )


# A message brings a hidden conversation back for accepted members who do not block its sender
# (run only when the send batch's lock saw such a member).
_UNHIDE = (
    update(members)
    .where(
        and_(
            members.c.conversation_id == bindparam("b_conv"),
            members.c.hidden.is_(True),
            members.c.accepted.is_(True),
            ~exists().where(
                and_(
                    blocks.c.user_id == members.c.user_id,
                    blocks.c.blocked_user_id == bindparam("b_sender"),
                )
            ),
        )
    )
    .values(hidden=False)
)


def message_record(row: Iterable[Any], cipher: AtRestCipher) -> MessageRecord:
    """A `messages` row with its columns in table order (`select(messages)`, or the raw
    statements of storage/sql/pg_send_batch.py, built from the same column list)."""
    (
        id_,
        conversation_id,
        seq,
        sender_id,
        sender_device_id,
        client_msg_id,
        created_at,
        body,
        body_sealed,
        generation,
        ciphertext,
        removed_at,
        removed_by,
    ) = row
    return MessageRecord(
        id=id_,
        conversation_id=conversation_id,
        seq=seq,
        sender_id=sender_id,
        sender_device_id=sender_device_id,
        client_msg_id=client_msg_id,
        created_at=created_at,
        body=sealed.open_optional(
            cipher, sealed.message_body(conversation_id, seq), body_sealed, body
        ),
        generation=generation,
        ciphertext=ciphertext,
        removed_at=removed_at,
        removed_by=removed_by,
    )


def _shared_conversations() -> tuple[Any, Any, Any]:
    """`mine` (a user's memberships) joined to `theirs` (every member of those conversations)
    and to the conversations: the base of presence audiences and of "shares a conversation"."""
    mine, theirs = members.alias("mine"), members.alias("theirs")
    shared = mine.join(theirs, theirs.c.conversation_id == mine.c.conversation_id).join(
        conversations, conversations.c.id == mine.c.conversation_id
    )
    return mine, theirs, shared


class SqlConversationRepository:
    def __init__(self, conn: AsyncConnection, cipher: AtRestCipher) -> None:
        self._conn = conn
        self._cipher = cipher

    def _conv(self, row: Any) -> ConversationRecord:
        return _conv(row, self._cipher)

    async def create(self, record: ConversationRecord, dm_pair: str | None = None) -> None:
        cipher = self._cipher
        await self._conn.execute(
            insert(conversations).values(
                id=record.id,
                kind=record.kind,
                name_sealed=sealed.seal_optional(
                    cipher, sealed.conversation_name(record.id), record.name
                ),
                name_hash=cipher.blind_index(record.name) if record.name else None,
                topic_sealed=sealed.seal_optional(
                    cipher, sealed.conversation_topic(record.id), record.topic
                ),
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
            if ROOM_NAME_INDEX in message or "conversations.name_hash" in message:
                raise RoomNameTaken(field="name") from exc
            raise

    async def get(self, conversation_id: uuid.UUID) -> ConversationRecord | None:
        row = (
            await self._conn.execute(
                select(*_CONV_COLS).where(conversations.c.id == conversation_id)
            )
        ).first()
        return self._conv(row) if row else None

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
        member = tuple(row)[_N:]
        return self._conv(row), (_member(member) if member[0] is not None else None)

    async def get_dm(self, dm_pair: str) -> ConversationRecord | None:
        row = (
            await self._conn.execute(select(*_CONV_COLS).where(conversations.c.dm_pair == dm_pair))
        ).first()
        return self._conv(row) if row else None

    async def search_rooms(
        self, query: str | None, limit: int, after: ConversationRecord | None
    ) -> list[ConversationRecord]:
        # Names are sealed, so the database can neither filter nor order by them: every room
        # name is opened here (one AES-GCM each), filtered and sorted, and only the page's
        # rows are fetched whole (docs/decisions/0008 § Search).
        rows = await self._conn.execute(
            select(conversations.c.id, conversations.c.name, conversations.c.name_sealed).where(
                conversations.c.kind == "room"
            )
        )
        needle = query.lower() if query else None
        cursor = ((after.name or "").lower(), after.id) if after is not None else None
        keyed: list[tuple[str, uuid.UUID]] = []
        for room_id, legacy, name_sealed in rows:
            name = sealed.open_optional(
                self._cipher, sealed.conversation_name(room_id), name_sealed, legacy
            )
            entry = ((name or "").lower(), room_id)
            # Keyset on (lower-cased name, id): rooms whose names compare equal are neither
            # skipped nor repeated across pages.
            if (needle is None or needle in entry[0]) and (cursor is None or entry > cursor):
                keyed.append(entry)
        page = [room_id for _, room_id in sorted(keyed)[:limit]]
        if not page:
            return []
        found = {
            r[0]: self._conv(r)
            for r in await self._conn.execute(
                select(*_CONV_COLS).where(conversations.c.id.in_(page))
            )
        }
        return [found[room_id] for room_id in page if room_id in found]

    async def for_user(self, user_id: uuid.UUID) -> list[tuple[ConversationRecord, MemberRecord]]:
        stmt = (
            select(*_CONV_COLS, *_MEMBER_COLS)
            .select_from(
                conversations.join(members, members.c.conversation_id == conversations.c.id)
            )
            .where(members.c.user_id == user_id)
            .order_by(conversations.c.created_at)
        )
        return [(self._conv(r), _member(tuple(r)[_N:])) for r in await self._conn.execute(stmt)]

    async def last_seqs_of_members(
        self, pairs: Collection[tuple[uuid.UUID, uuid.UUID]]
    ) -> dict[tuple[uuid.UUID, uuid.UUID], int]:
        if not pairs:
            return {}
        rows = await self._conn.execute(_LAST_SEQS_OF_MEMBERS, {"pairs": _padded(pairs)})
        return {(user_id, conv_id): int(last_seq) for user_id, conv_id, last_seq in rows}

    async def add_member_count(self, conversation_id: uuid.UUID, delta: int) -> ConversationRecord:
        row = (
            await self._conn.execute(
                update(conversations)
                .where(conversations.c.id == conversation_id)
                .values(member_count=conversations.c.member_count + delta)
                .returning(*_CONV_COLS)
            )
        ).one()
        return self._conv(row)

    async def lock_with_member_ids(
        self, conversation_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, LockedConversation]:
        if not conversation_ids:
            return {}
        rows = await self._conn.execute(_LOCK_WITH_MEMBER_IDS, {"ids": _padded(conversation_ids)})
        found: dict[uuid.UUID, tuple[ConversationRecord, list[uuid.UUID]]] = {}
        silent: dict[uuid.UUID, set[uuid.UUID]] = {}
        hidden: set[uuid.UUID] = set()
        for row in rows:
            entry = found.get(row[0])
            if entry is None:
                entry = found[row[0]] = (self._conv(row), [])
            if row[_N] is None:  # a conversation without members still exists
                continue
            entry[1].append(row[_N])
            accepted, is_hidden = bool(row[_N + 1]), bool(row[_N + 2])
            if is_hidden and not accepted:
                silent.setdefault(row[0], set()).add(row[_N])
            elif is_hidden:
                hidden.add(row[0])
        return {
            cid: LockedConversation(
                conv, ids, frozenset(silent.get(cid, ())), has_hidden=cid in hidden
            )
            for cid, (conv, ids) in found.items()
        }

    async def set_last_seqs(self, last_seqs: dict[uuid.UUID, int]) -> None:
        if not last_seqs:
            return
        await self._conn.execute(
            _SET_LAST_SEQ,
            [{"b_id": cid, "b_seq": seq} for cid, seq in sorted(last_seqs.items())],
        )

    async def lock(self, conversation_id: uuid.UUID) -> ConversationRecord | None:
        row = (
            await self._conn.execute(
                select(*_CONV_COLS).where(conversations.c.id == conversation_id).with_for_update()
            )
        ).first()
        return self._conv(row) if row else None

    async def set_key_generation(self, conversation_id: uuid.UUID, generation: int) -> bool:
        result = await self._conn.execute(
            update(conversations)
            .where(
                and_(
                    conversations.c.id == conversation_id,
                    conversations.c.key_generation == generation - 1,
                )
            )
            .values(key_generation=generation, keys_stale=False)
        )
        return bool(result.rowcount)

    async def mark_keys_stale(self, conversation_id: uuid.UUID) -> None:
        await self._conn.execute(
            update(conversations)
            .where(conversations.c.id == conversation_id)
            .values(keys_stale=True)
        )

    async def mark_keys_stale_for_user(self, user_id: uuid.UUID) -> None:
        mine = select(members.c.conversation_id).where(members.c.user_id == user_id)
        await self._conn.execute(
            update(conversations)
            .where(and_(conversations.c.id.in_(mine), conversations.c.kind != "room"))
            .values(keys_stale=True)
        )

    async def set_log_head(
        self, conversation_id: uuid.UUID, index: int, head: bytes, *, stale: bool
    ) -> None:
        values: dict[str, Any] = {"log_index": index, "log_head": head}
        if stale:
            values["keys_stale"] = True
        await self._conn.execute(
            update(conversations).where(conversations.c.id == conversation_id).values(**values)
        )

    async def set_name(self, conversation_id: uuid.UUID, name: str) -> ConversationRecord:
        row = (
            await self._conn.execute(
                update(conversations)
                .where(conversations.c.id == conversation_id)
                .values(
                    name_sealed=self._cipher.seal(sealed.conversation_name(conversation_id), name),
                    name_hash=self._cipher.blind_index(name),
                )
                .returning(*_CONV_COLS)
            )
        ).one()
        return self._conv(row)

    async def delete(self, conversation_id: uuid.UUID) -> bool:
        # Children first, explicitly: the result must not depend on the cascade being on.
        await self._conn.execute(
            delete(messages).where(messages.c.conversation_id == conversation_id)
        )
        await self._conn.execute(
            delete(members).where(members.c.conversation_id == conversation_id)
        )
        result = await self._conn.execute(
            delete(conversations).where(conversations.c.id == conversation_id)
        )
        return bool(result.rowcount)


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
                        accepted=record.accepted,
                        hidden=record.hidden,
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

    def _presence_audience(self, user_id: uuid.UUID) -> Any:
        # One statement (it runs on every connect, disconnect and status change): the user's
        # memberships joined to their co-members; private conversations count only where both
        # accepted, and a block either way removes the pair.
        mine, theirs, shared = _shared_conversations()
        return (
            select(theirs.c.user_id)
            .select_from(shared)
            .where(
                and_(
                    mine.c.user_id == user_id,
                    or_(
                        conversations.c.kind == "room",
                        and_(mine.c.accepted.is_(True), theirs.c.accepted.is_(True)),
                    ),
                    _not_blocked_between(theirs.c.user_id, user_id),
                )
            )
        )

    async def co_members(self, user_id: uuid.UUID, limit: int) -> list[uuid.UUID]:
        rows = await self._conn.execute(self._presence_audience(user_id).distinct().limit(limit))
        return [r[0] for r in rows]

    async def shares_presence(self, a: uuid.UUID, b: uuid.UUID) -> bool:
        stmt = self._presence_audience(a)
        theirs = stmt.selected_columns[0]  # the co-member's user id, of this statement's alias
        row = (await self._conn.execute(stmt.where(theirs == b).limit(1))).first()
        return row is not None

    async def presence_recipients(
        self,
        user_id: uuid.UUID,
        watchers: Collection[uuid.UUID],
        limit: int,
        among: Collection[uuid.UUID] | None = None,
    ) -> list[uuid.UUID]:
        # The audience statement, narrowed: a public room counts only for a watcher (room-wide
        # pushes are what made presence O(members^2)); private conversations as before.
        stmt = self._presence_audience(user_id)
        theirs = stmt.selected_columns[0]
        reach = conversations.c.kind != "room"
        if watchers:
            reach = or_(reach, theirs.in_(sorted(set(watchers))))
        stmt = stmt.where(reach)
        if among is not None:
            if not among:
                return []
            stmt = stmt.where(theirs.in_(sorted(set(among))))
        rows = await self._conn.execute(stmt.distinct().limit(limit))
        return [r[0] for r in rows]

    async def presence_visible_among(
        self, user_id: uuid.UUID, candidates: Collection[uuid.UUID]
    ) -> set[uuid.UUID]:
        if not candidates:
            return set()
        stmt = self._presence_audience(user_id)
        theirs = stmt.selected_columns[0]
        rows = await self._conn.execute(stmt.where(theirs.in_(sorted(set(candidates)))).distinct())
        return {r[0] for r in rows}

    async def contacts_among(
        self, user_id: uuid.UUID, candidates: Collection[uuid.UUID]
    ) -> set[uuid.UUID]:
        if not candidates:
            return set()
        mine, theirs, shared = _shared_conversations()
        rows = await self._conn.execute(
            select(theirs.c.user_id)
            .select_from(shared)
            .where(
                and_(
                    mine.c.user_id == user_id,
                    conversations.c.kind != "room",
                    mine.c.accepted.is_(True),
                    theirs.c.accepted.is_(True),
                    theirs.c.user_id.in_(sorted(set(candidates))),
                )
            )
            .distinct()
        )
        return {r[0] for r in rows}

    async def audience(self, conversation_id: uuid.UUID, actor: uuid.UUID) -> list[uuid.UUID]:
        rows = await self._conn.execute(
            select(members.c.user_id).where(
                and_(
                    members.c.conversation_id == conversation_id,
                    or_(members.c.accepted.is_(True), members.c.hidden.is_(False)),
                    _not_blocked_between(members.c.user_id, actor),
                )
            )
        )
        return [r[0] for r in rows]

    async def listeners(self, conversation_id: uuid.UUID) -> list[uuid.UUID]:
        rows = await self._conn.execute(
            select(members.c.user_id).where(
                and_(
                    members.c.conversation_id == conversation_id,
                    or_(members.c.accepted.is_(True), members.c.hidden.is_(False)),
                )
            )
        )
        return [r[0] for r in rows]

    async def set_consent(
        self,
        conversation_id: uuid.UUID,
        user_id: uuid.UUID,
        *,
        accepted: bool | None = None,
        hidden: bool | None = None,
    ) -> bool:
        values: dict[str, bool] = {}
        if accepted is not None:
            values["accepted"] = accepted
        if hidden is not None:
            values["hidden"] = hidden
        if not values:
            return await self.get(conversation_id, user_id) is not None
        result = await self._conn.execute(
            update(members)
            .where(and_(members.c.conversation_id == conversation_id, members.c.user_id == user_id))
            .values(**values)
        )
        return bool(result.rowcount)

    async def unhide_for_senders(self, pairs: Collection[tuple[uuid.UUID, uuid.UUID]]) -> None:
        if not pairs:
            return
        await self._conn.execute(
            _UNHIDE, [{"b_conv": c, "b_sender": s} for c, s in sorted(set(pairs))]
        )

    async def set_role(self, conversation_id: uuid.UUID, user_id: uuid.UUID, role: Role) -> None:
        await self._conn.execute(
            update(members)
            .where(and_(members.c.conversation_id == conversation_id, members.c.user_id == user_id))
            .values(role=role)
        )


class SqlBlockRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, record: BlockRecord) -> bool:
        if await self.exists(record.user_id, record.blocked_user_id):
            return False
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(
                    insert(blocks).values(
                        user_id=record.user_id,
                        blocked_user_id=record.blocked_user_id,
                        created_at=record.created_at,
                    )
                )
        except IntegrityError:
            return False  # the same block from another tab won the race
        return True

    async def remove(self, user_id: uuid.UUID, blocked_user_id: uuid.UUID) -> bool:
        result = await self._conn.execute(
            delete(blocks).where(
                and_(blocks.c.user_id == user_id, blocks.c.blocked_user_id == blocked_user_id)
            )
        )
        return bool(result.rowcount)

    async def of_user(self, user_id: uuid.UUID) -> list[BlockRecord]:
        rows = await self._conn.execute(
            select(blocks.c.user_id, blocks.c.blocked_user_id, blocks.c.created_at)
            .where(blocks.c.user_id == user_id)
            .order_by(blocks.c.created_at, blocks.c.blocked_user_id)
        )
        return [BlockRecord(*r) for r in rows]

    async def exists(self, user_id: uuid.UUID, blocked_user_id: uuid.UUID) -> bool:
        row = (
            await self._conn.execute(
                select(blocks.c.user_id).where(
                    and_(blocks.c.user_id == user_id, blocks.c.blocked_user_id == blocked_user_id)
                )
            )
        ).first()
        return row is not None

    async def blockers_of(self, user_id: uuid.UUID, among: Collection[uuid.UUID]) -> set[uuid.UUID]:
        if not among:
            return set()
        rows = await self._conn.execute(
            select(blocks.c.user_id).where(
                and_(
                    blocks.c.blocked_user_id == user_id,
                    blocks.c.user_id.in_(sorted(set(among))),
                )
            )
        )
        return {r[0] for r in rows}

    async def touching(self, user_ids: Collection[uuid.UUID]) -> set[frozenset[uuid.UUID]]:
        if not user_ids:
            return set()
        ids = sorted(set(user_ids))
        rows = await self._conn.execute(
            select(blocks.c.user_id, blocks.c.blocked_user_id).where(
                or_(blocks.c.user_id.in_(ids), blocks.c.blocked_user_id.in_(ids))
            )
        )
        return {frozenset((r[0], r[1])) for r in rows}


class SqlMessageRepository:
    def __init__(self, conn: AsyncConnection, cipher: AtRestCipher) -> None:
        self._conn = conn
        self._cipher = cipher

    async def get(self, message_id: int) -> MessageRecord | None:
        row = (
            await self._conn.execute(select(messages).where(messages.c.id == message_id))
        ).first()
        return message_record(row, self._cipher) if row else None

    async def remove(self, message_id: int, removed_by: uuid.UUID, now: int) -> bool:
        result = await self._conn.execute(
            update(messages)
            .where(and_(messages.c.id == message_id, messages.c.removed_at.is_(None)))
            .values(body=None, body_sealed=None, removed_at=now, removed_by=removed_by)
        )
        return bool(result.rowcount)

    async def insert_many(self, rows: Sequence[tuple[NewMessage, int]]) -> list[MessageRecord]:
        if not rows:
            return []
        seal = self._cipher.seal
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
                    # One AES-GCM per public message; private ones carry no body.
                    "body_sealed": (
                        seal(sealed.message_body(m.conversation_id, seq), m.body)
                        if m.body is not None
                        else None
                    ),
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
            record = message_record(row, self._cipher)
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
            return [message_record(r, self._cipher) for r in reversed(list(rows))]
        if after_seq is not None:
            stmt = stmt.where(messages.c.seq > after_seq)
        rows = await self._conn.execute(stmt.order_by(messages.c.seq).limit(limit))
        return [message_record(r, self._cipher) for r in rows]


_KEY_SET_COLS = (
    key_sets.c.conversation_id,
    key_sets.c.generation,
    key_sets.c.creator_user_id,
    key_sets.c.creator_device_id,
    key_sets.c.statement,
    key_sets.c.membership_index,
    key_sets.c.created_at,
    key_set_boxes.c.box,
)


def _key_set(row: Any) -> tuple[KeySetRecord, bytes]:
    record = KeySetRecord(
        conversation_id=row[0],
        generation=row[1],
        creator_user_id=row[2],
        creator_device_id=row[3],
        statement=bytes(row[4]),
        membership_index=row[5],
        created_at=row[6],
    )
    return record, bytes(row[7])


class SqlKeySetRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, record: KeySetRecord, boxes: Mapping[uuid.UUID, bytes]) -> None:
        await self._conn.execute(
            insert(key_sets).values(
                conversation_id=record.conversation_id,
                generation=record.generation,
                creator_user_id=record.creator_user_id,
                creator_device_id=record.creator_device_id,
                statement=record.statement,
                membership_index=record.membership_index,
                created_at=record.created_at,
            )
        )
        await self._conn.execute(
            insert(key_set_boxes),
            [
                {
                    "conversation_id": record.conversation_id,
                    "generation": record.generation,
                    "user_id": user_id,
                    "box": box,
                }
                for user_id, box in sorted(boxes.items())
            ],
        )

    def _select(self, conversation_id: uuid.UUID, user_id: uuid.UUID) -> Any:
        return (
            select(*_KEY_SET_COLS)
            .select_from(
                key_sets.join(
                    key_set_boxes,
                    and_(
                        key_set_boxes.c.conversation_id == key_sets.c.conversation_id,
                        key_set_boxes.c.generation == key_sets.c.generation,
                    ),
                )
            )
            .where(
                and_(
                    key_sets.c.conversation_id == conversation_id,
                    key_set_boxes.c.user_id == user_id,
                )
            )
        )

    async def for_member(
        self, conversation_id: uuid.UUID, user_id: uuid.UUID, after: int, limit: int
    ) -> list[tuple[KeySetRecord, bytes]]:
        stmt = (
            self._select(conversation_id, user_id)
            .where(key_sets.c.generation > after)
            .order_by(key_sets.c.generation)
            .limit(limit)
        )
        return [_key_set(r) for r in await self._conn.execute(stmt)]

    async def get_for_member(
        self, conversation_id: uuid.UUID, generation: int, user_id: uuid.UUID
    ) -> tuple[KeySetRecord, bytes] | None:
        stmt = self._select(conversation_id, user_id).where(key_sets.c.generation == generation)
        row = (await self._conn.execute(stmt)).first()
        return _key_set(row) if row else None


class SqlMembershipLogRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def append(self, record: MembershipLogRecord) -> None:
        await self._conn.execute(
            insert(membership_log).values(
                conversation_id=record.conversation_id,
                idx=record.index,
                entry=record.entry,
                entry_hash=record.entry_hash,
                created_at=record.created_at,
            )
        )

    async def page(
        self, conversation_id: uuid.UUID, after: int = -1, limit: int = 100_000
    ) -> list[MembershipLogRecord]:
        rows = await self._conn.execute(
            select(membership_log)
            .where(
                and_(
                    membership_log.c.conversation_id == conversation_id,
                    membership_log.c.idx > after,
                )
            )
            .order_by(membership_log.c.idx)
            .limit(limit)
        )
        return [
            MembershipLogRecord(
                r.conversation_id, r.idx, bytes(r.entry), bytes(r.entry_hash), r.created_at
            )
            for r in rows
        ]
