"""The send batch on PostgreSQL: prepared statements on the asyncpg connection itself.

Through SQLAlchemy each statement of the send transaction cost about 250 µs of CPU, as a raw
asyncpg prepared statement about 115 µs (docs/performance.md). asyncpg prepares each statement
once per connection and caches it by its text, so every statement here is a constant; batches
of any size pass arrays (`unnest`, `= ANY`), never a list of placeholders. The semantics are the
portable repositories' (storage/sql/conversations.py, accounts.py): same rows, same locks, the
same sealing of public bodies (storage/sql/sealed.py), readable by the same read path.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence

import asyncpg

from hushroom.errors import HushroomError, ServiceUnavailable, ValidationFailed, WriteConflict
from hushroom.storage.at_rest import AtRestCipher
from hushroom.storage.conversations import (
    ConversationRecord,
    LockedConversation,
    MessageRecord,
    NewMessage,
)
from hushroom.storage.sql import sealed
from hushroom.storage.sql.conversations import message_record
from hushroom.storage.sql.tables import messages

# The exact pairs, through the unique (sender_device_id, client_msg_id) index.
# Every column in table order, as `message_record` reads them (names from tables.py only).
_MESSAGE_COLUMNS = ", ".join(f"m.{column.name}" for column in messages.c)
_BY_CLIENT_IDS = (
    f"SELECT {_MESSAGE_COLUMNS} "  # noqa: S608 - no value is interpolated, only column names
    "FROM messages m "
    "JOIN unnest($1::uuid[], $2::varchar[]) AS k(device, cmid) "
    "ON m.sender_device_id = k.device AND m.client_msg_id = k.cmid"
)
# One row per conversation with its members aggregated (a 1,000-member room is one row, not a
# thousand); the conversation rows are locked in id order (LockRows above the ordered index
# scan), the members only read. No sealed name or topic: sends do not need them.
_LOCK_WITH_MEMBER_IDS = (
    "SELECT c.id, c.kind, c.created_by, c.created_at, c.last_seq, c.member_count, "
    "c.key_generation, c.keys_stale, c.log_index, mm.ids, mm.silent, mm.hidden "
    "FROM conversations c LEFT JOIN LATERAL ("
    "SELECT array_agg(m.user_id) AS ids, "
    "array_agg(m.user_id) FILTER (WHERE m.hidden AND NOT m.accepted) AS silent, "
    "bool_or(m.hidden AND m.accepted) AS hidden "
    "FROM members m WHERE m.conversation_id = c.id) mm ON true "
    "WHERE c.id = ANY($1::uuid[]) ORDER BY c.id FOR UPDATE OF c"
)
_CERTIFIED_IDS = (
    "SELECT id FROM devices "
    "WHERE id = ANY($1::uuid[]) AND certificate IS NOT NULL AND revoked_at IS NULL"
)
# The whole write of a batch in one round trip: the conversations' new seq highs, each sender's
# read position (one source row per (conversation, user): UPDATE … FROM applies only one of
# several matches), and the messages. RETURNING names each row by (conversation, seq): the order
# of INSERT … SELECT's RETURNING is not promised, the pair is unique. The three touch different
# tables, so the one snapshot they share hides nothing from each other.
_INSERT_MESSAGES = (
    "WITH seqs AS ("
    "UPDATE conversations c SET last_seq = v.seq "
    "FROM unnest($1::uuid[], $2::bigint[]) AS v(id, seq) WHERE c.id = v.id"
    "), reads AS ("
    "UPDATE members m SET last_read_seq = v.seq "
    "FROM unnest($3::uuid[], $4::uuid[], $5::bigint[]) AS v(conv, usr, seq) "
    "WHERE m.conversation_id = v.conv AND m.user_id = v.usr AND m.last_read_seq < v.seq"
    ") "
    "INSERT INTO messages (conversation_id, seq, sender_id, sender_device_id, client_msg_id, "
    "created_at, body_sealed, generation, ciphertext) "
    "SELECT * FROM unnest($6::uuid[], $7::bigint[], $8::uuid[], $9::uuid[], $10::varchar[], "
    "$11::bigint[], $12::bytea[], $13::integer[], $14::bytea[]) "
    "RETURNING id, conversation_id, seq"
)
# Several senders per conversation set the same value: any unblocked one unhides the member.
_UNHIDE = (
    "UPDATE members m SET hidden = false "
    "FROM unnest($1::uuid[], $2::uuid[]) AS v(conv, sender) "
    "WHERE m.conversation_id = v.conv AND m.hidden AND m.accepted AND NOT EXISTS ("
    "SELECT 1 FROM blocks b WHERE b.user_id = m.user_id AND b.blocked_user_id = v.sender)"
)


class PgSendBatch:
    def __init__(self, conn: asyncpg.Connection, cipher: AtRestCipher) -> None:
        self._conn = conn
        self._cipher = cipher

    async def by_client_ids(
        self, keys: Collection[tuple[uuid.UUID, str]]
    ) -> dict[tuple[uuid.UUID, str], MessageRecord]:
        if not keys:
            return {}
        wanted = sorted(set(keys))
        rows = await self._conn.fetch(
            _BY_CLIENT_IDS, [d for d, _ in wanted], [c for _, c in wanted]
        )
        found: dict[tuple[uuid.UUID, str], MessageRecord] = {}
        for r in rows:
            record = message_record(r, self._cipher)
            found[(record.sender_device_id, record.client_msg_id)] = record
        return found

    async def lock_with_member_ids(
        self, conversation_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, LockedConversation]:
        if not conversation_ids:
            return {}
        rows = await self._conn.fetch(_LOCK_WITH_MEMBER_IDS, sorted(conversation_ids))
        out: dict[uuid.UUID, LockedConversation] = {}
        for r in rows:
            conv = ConversationRecord(
                id=r[0],
                kind=r[1],
                name=None,
                topic=None,
                created_by=r[2],
                created_at=r[3],
                last_seq=r[4],
                member_count=r[5],
                key_generation=r[6],
                keys_stale=r[7],
                log_index=r[8],
            )
            silent = r[10]
            out[r[0]] = LockedConversation(
                conv,
                list(r[9] or ()),
                frozenset(silent) if silent else frozenset(),
                has_hidden=bool(r[11]),
            )
        return out

    async def certified_ids(self, device_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        if not device_ids:
            return set()
        return {r[0] for r in await self._conn.fetch(_CERTIFIED_IDS, sorted(device_ids))}

    async def insert_many(
        self, rows: Sequence[tuple[NewMessage, int]], last_seqs: Mapping[uuid.UUID, int]
    ) -> list[MessageRecord]:
        if not rows:
            return []
        seqs = sorted(last_seqs.items())
        read: dict[tuple[uuid.UUID, uuid.UUID], int] = {}
        for m, seq in rows:
            key = (m.conversation_id, m.sender_id)
            read[key] = max(seq, read.get(key, 0))
        reads = sorted(read.items())
        seal = self._cipher.seal
        returned = await self._conn.fetch(
            _INSERT_MESSAGES,
            [c for c, _ in seqs],
            [s for _, s in seqs],
            [c for (c, _u), _s in reads],
            [u for (_c, u), _s in reads],
            [s for _k, s in reads],
            [m.conversation_id for m, _ in rows],
            [seq for _, seq in rows],
            [m.sender_id for m, _ in rows],
            [m.sender_device_id for m, _ in rows],
            [m.client_msg_id for m, _ in rows],
            [m.created_at for m, _ in rows],
            # One AES-GCM per public message, bound to (conversation, seq) as the read path
            # expects; private ones carry no body.
            [
                seal(sealed.message_body(m.conversation_id, seq), m.body)
                if m.body is not None
                else None
                for m, seq in rows
            ],
            [m.generation for m, _ in rows],
            [m.ciphertext for m, _ in rows],
        )
        ids = {(r[1], r[2]): r[0] for r in returned}
        return [
            MessageRecord(
                id=ids[(m.conversation_id, seq)],
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
            for m, seq in rows
        ]

    async def unhide_for_senders(self, pairs: Collection[tuple[uuid.UUID, uuid.UUID]]) -> None:
        if not pairs:
            return
        ordered = sorted(set(pairs))
        await self._conn.fetch(_UNHIDE, [c for c, _ in ordered], [s for _, s in ordered])


# SQLSTATE classes that mean "the connection or the server is gone or going": 08 connection
# exception, 53 insufficient resources, 57 operator intervention (shutdown, crash recovery).
_UNAVAILABLE_CLASSES = ("08", "53", "57")


def is_connection_error(exc: BaseException) -> bool:
    """The connection cannot be trusted any more (it is dropped, not returned to the pool)."""
    if isinstance(exc, asyncpg.PostgresError):
        return str(getattr(exc, "sqlstate", "") or "")[:2] in _UNAVAILABLE_CLASSES
    # InternalClientError: the server closed the connection while a statement was being sent.
    return isinstance(exc, OSError | asyncpg.InterfaceError | asyncpg.InternalClientError)


def translate(exc: BaseException) -> HushroomError | None:
    """asyncpg's errors as the domain errors the SQLAlchemy path raises (storage/unit.py)."""
    if is_connection_error(exc):
        return ServiceUnavailable("the database is unreachable")
    if isinstance(exc, asyncpg.PostgresError):
        sqlstate = str(getattr(exc, "sqlstate", "") or "")
        if sqlstate.startswith("22"):
            return ValidationFailed("the request contains a value that cannot be stored")
        if sqlstate.startswith("23"):
            # A unique index refused a concurrent write: services retry on this domain error.
            return WriteConflict()
    return None
