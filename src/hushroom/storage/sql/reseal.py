"""Seal what is still in clear, and re-seal what is under an older data key, in batches.

Used at start-up (rows written before migration 0010: `only_plaintext`) and by `hushroom keys
rotate`. Each batch is its own short write transaction, and each row is rewritten only if it
still holds the value that was read (compare-and-swap), so it runs while the server writes: a
row the server changed meanwhile is left alone (sealed under the current key already, or
found again by the next pass). Interrupted, it resumes where rows still need it: the key id is
in every sealed value's header.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Column, ColumnElement, Table, and_, func, null, or_, select, update

from hushroom.storage.at_rest import AadParts, AtRestCipher, key_id_prefix
from hushroom.storage.sql import sealed
from hushroom.storage.sql.at_rest_keys import AtRestKeys
from hushroom.storage.sql.tables import at_rest_keys, audit_log, conversations, messages, users
from hushroom.storage.unit import Storage

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class SealedColumn:
    label: str
    table: Table
    sealed: Column[Any]
    plain: Column[Any]
    # Columns the row's identity is read from (the primary key first).
    identity: tuple[Column[Any], ...]
    aad: Callable[[tuple[Any, ...]], AadParts]
    # Values that empty the plaintext columns once the value is sealed.
    cleared: Mapping[str, Any]
    # A legacy row still holds plaintext when this is true.
    legacy: Callable[[Table], ColumnElement[bool]]
    text_of: Callable[[Any], str | None] = lambda value: value
    derived: Callable[[AtRestCipher, str], dict[str, Any]] = lambda _c, _t: {}


def _json_text(value: Any) -> str | None:
    return orjson.dumps(value).decode() if value is not None else None


COLUMNS: tuple[SealedColumn, ...] = (
    SealedColumn(
        "messages.body",
        messages,
        messages.c.body_sealed,
        messages.c.body,
        (messages.c.id, messages.c.conversation_id, messages.c.seq),
        lambda ids: sealed.message_body(ids[1], ids[2]),
        {"body": None},
        lambda t: and_(t.c.body_sealed.is_(None), t.c.body.is_not(None)),
    ),
    SealedColumn(
        "conversations.name",
        conversations,
        conversations.c.name_sealed,
        conversations.c.name,
        (conversations.c.id,),
        lambda ids: sealed.conversation_name(ids[0]),
        {"name": None, "name_lower": None},
        lambda t: and_(t.c.name_sealed.is_(None), t.c.name.is_not(None)),
        derived=lambda cipher, text: {"name_hash": cipher.blind_index(text)},
    ),
    SealedColumn(
        "conversations.topic",
        conversations,
        conversations.c.topic_sealed,
        conversations.c.topic,
        (conversations.c.id,),
        lambda ids: sealed.conversation_topic(ids[0]),
        {"topic": None},
        lambda t: and_(t.c.topic_sealed.is_(None), t.c.topic.is_not(None)),
    ),
    SealedColumn(
        "users.display_name",
        users,
        users.c.display_name_sealed,
        users.c.display_name,
        (users.c.id,),
        lambda ids: sealed.user_display_name(ids[0]),
        # NOT NULL columns (tables.py).
        {"display_name": "", "display_name_lower": ""},
        lambda t: t.c.display_name_sealed.is_(None),
    ),
    SealedColumn(
        "audit_log.detail",
        audit_log,
        audit_log.c.detail_sealed,
        audit_log.c.detail,
        (audit_log.c.id,),
        lambda ids: sealed.audit_detail(int(ids[0])),
        # SQL NULL, not JSON null.
        {"detail": null()},
        lambda t: and_(t.c.detail_sealed.is_(None), t.c.detail.is_not(None)),
        text_of=_json_text,
    ),
)


def _needs_work(column: SealedColumn, current: int, only_plaintext: bool) -> ColumnElement[bool]:
    legacy = column.legacy(column.table)
    if only_plaintext:
        return legacy
    # Bytes 2..5 of the header are the key id (storage/at_rest.py).
    stale = and_(
        column.sealed.is_not(None), func.substr(column.sealed, 2, 4) != key_id_prefix(current)
    )
    return or_(legacy, stale)


async def pending(storage: Storage, *, only_plaintext: bool = False) -> dict[str, int]:
    """Rows per column still in clear (or under an older key)."""
    keys = storage.keys
    await keys.ensure(storage.db)
    current = _current(keys)
    counts: dict[str, int] = {}
    async with storage.read() as tx:
        for column in COLUMNS:
            counts[column.label] = int(
                (
                    await tx.conn.execute(
                        select(func.count())
                        .select_from(column.table)
                        .where(_needs_work(column, current, only_plaintext))
                    )
                ).scalar_one()
            )
    return counts


def _current(keys: AtRestKeys) -> int:
    current = keys.cipher.current_id
    if current is None:
        raise RuntimeError("no at-rest data key is loaded")
    return current


async def reseal(
    storage: Storage,
    keys: AtRestKeys,
    *,
    only_plaintext: bool = False,
    batch: int = 500,
    max_batches: int | None = None,
    progress: Progress | None = None,
) -> int:
    """Seal (and re-seal) rows batch by batch; the number of rows rewritten. `max_batches`
    stops early (what is left is found again by the next call)."""
    await keys.ensure(storage.db)
    current = _current(keys)
    cipher = keys.cipher
    done = batches = 0
    for column in COLUMNS:
        pk = column.identity[0]
        after: Any = None
        column_done = 0
        while max_batches is None or batches < max_batches:
            stmt = select(*column.identity, column.plain, column.sealed).where(
                _needs_work(column, current, only_plaintext)
            )
            if after is not None:
                stmt = stmt.where(pk > after)
            async with storage.write() as tx:
                rows = list(await tx.conn.execute(stmt.order_by(pk).limit(batch)))
                for row in rows:
                    ids = tuple(row[: len(column.identity)])
                    plain, old = row[len(column.identity)], row[len(column.identity) + 1]
                    parts = column.aad(ids)
                    if old is not None:
                        text: str | None = cipher.open(parts, bytes(old))
                        guard = column.sealed == old
                    else:
                        text = column.text_of(plain)
                        guard = column.sealed.is_(None)
                    values: dict[str, Any] = dict(column.cleared)
                    if text is not None:
                        values[column.sealed.name] = cipher.seal(parts, text)
                        values.update(column.derived(cipher, text))
                    await tx.conn.execute(
                        update(column.table).where(and_(pk == ids[0], guard)).values(**values)
                    )
            batches += 1
            if not rows:
                break
            after = rows[-1][0]
            column_done += len(rows)
            done += len(rows)
            if progress is not None:
                progress(column.label, column_done, len(rows))
            if len(rows) < batch:
                break
    return done


@dataclass(frozen=True)
class Rotation:
    key_id: int
    resealed: int
    # Rows still in clear or under an older key (0 everywhere: the older keys are retired).
    left: dict[str, int]


async def rotate(
    storage: Storage,
    *,
    new_key: bool,
    activate_after_s: float,
    batch: int = 500,
    max_batches: int | None = None,
    progress: Progress | None = None,
) -> Rotation:
    """`hushroom keys rotate`: a new data key (unless resuming), sealing from `activate_after_s`
    on (every server has loaded it by then), then every row re-sealed under it."""
    keys = storage.keys
    await keys.ensure(storage.db)
    if new_key:
        clock = keys.clock
        async with storage.db.write() as conn:
            await keys.create(conn, active_from=clock.now_ms() + int(activate_after_s * 1000))
        # Real time, not the injected clock: other processes must have re-read the key table.
        await asyncio.sleep(activate_after_s)
    keys.mark_stale()
    await keys.ensure(storage.db)
    current = _current(keys)
    done = await reseal(storage, keys, batch=batch, max_batches=max_batches, progress=progress)
    left = await pending(storage)
    if not any(left.values()):
        async with storage.db.write() as conn:
            await keys.retire_older_than(conn, current)
    return Rotation(current, done, left)


async def rewrap_all(storage: Storage, new: AtRestCipher) -> int:
    """Every data key re-wrapped under a new KEK, and the room-name blind index (derived from
    the KEK) recomputed, in one transaction. Run with the servers stopped."""
    cipher = storage.keys.cipher
    await storage.keys.ensure(storage.db)
    async with storage.write() as tx:
        rows = list(await tx.conn.execute(select(at_rest_keys.c.id, at_rest_keys.c.wrapped)))
        for key_id, wrapped in rows:
            await tx.conn.execute(
                update(at_rest_keys)
                .where(at_rest_keys.c.id == key_id)
                .values(wrapped=cipher.rewrapped(key_id, bytes(wrapped), new))
            )
        rooms = await tx.conn.execute(
            select(conversations.c.id, conversations.c.name_sealed).where(
                and_(conversations.c.kind == "room", conversations.c.name_sealed.is_not(None))
            )
        )
        for room_id, name_sealed in list(rooms):
            name = cipher.open(sealed.conversation_name(room_id), bytes(name_sealed))
            await tx.conn.execute(
                update(conversations)
                .where(conversations.c.id == room_id)
                .values(name_hash=new.blind_index(name))
            )
    return len(rows)
