"""Keeps an AtRestCipher's key ring in step with the `at_rest_keys` table.

The first process to start on an empty table creates data key 1. Every process re-reads the
table at most every `refresh_s` seconds (one indexed query, outside the caller's transaction),
so a key that `hushroom keys rotate` adds with `active_from` at least that far ahead is loaded
everywhere before anyone seals under it.
"""

from __future__ import annotations

import asyncio
import os

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from hushroom.clock import Clock
from hushroom.storage.at_rest import KEY_BYTES, AtRestCipher
from hushroom.storage.engine import Database
from hushroom.storage.sql.tables import at_rest_keys

# Seconds between re-reads of the key table; `keys rotate` activates a new key after twice this.
REFRESH_S = 30.0
FIRST_KEY_ID = 1


class AtRestKeys:
    def __init__(self, cipher: AtRestCipher, clock: Clock, *, refresh_s: float = REFRESH_S) -> None:
        self.cipher = cipher
        self.clock = clock
        self._refresh_s = refresh_s
        self._next_refresh: float | None = None
        self._lock = asyncio.Lock()

    def mark_stale(self) -> None:
        """Re-read the table before the next transaction (a value named an unknown key)."""
        self._next_refresh = None

    async def ensure(self, db: Database) -> None:
        """Loaded and not older than `refresh_s`; creates the first key on an empty table."""
        due = self._next_refresh
        if due is not None and self.clock.monotonic() < due:
            return
        async with self._lock:
            due = self._next_refresh
            if due is not None and self.clock.monotonic() < due:
                return
            async with db.read() as conn:
                await self.load(conn)
            if self.cipher.current_id is None:
                await self.create_first(db)
                async with db.read() as conn:
                    await self.load(conn)
            self._next_refresh = self.clock.monotonic() + self._refresh_s

    async def create_first(self, db: Database) -> None:
        """Data key 1, unless the table has a key. Always id 1, never "largest + 1": nodes
        starting together on an empty table must agree on one key. With "largest + 1", a node
        whose count saw no key but whose max saw another node's fresh key 1 made a key 2 and
        sealed under it while the others knew only key 1 (503s until their next re-read)."""
        try:
            async with db.write() as conn:
                if (await conn.execute(select(func.count(at_rest_keys.c.id)))).scalar():
                    return
                await self._insert(conn, FIRST_KEY_ID, active_from=0)
        except IntegrityError:
            pass  # another process inserted key 1 first: the caller loads it

    async def load(self, conn: AsyncConnection) -> None:
        now = self.clock.now_ms()
        rows = await conn.execute(
            select(at_rest_keys.c.id, at_rest_keys.c.wrapped, at_rest_keys.c.active_from)
        )
        current: int | None = None
        for key_id, wrapped, active_from in rows:
            if not self.cipher.knows(key_id):
                self.cipher.add_wrapped(key_id, bytes(wrapped))
            if active_from <= now and (current is None or key_id > current):
                current = key_id
        self.cipher.current_id = current

    async def create(self, conn: AsyncConnection, *, active_from: int) -> int:
        """A new random data key (id = the largest + 1), usable from `active_from` (ms)."""
        newest = (await conn.execute(select(func.max(at_rest_keys.c.id)))).scalar()
        key_id = int(newest or 0) + 1
        await self._insert(conn, key_id, active_from=active_from)
        return key_id

    async def _insert(self, conn: AsyncConnection, key_id: int, *, active_from: int) -> None:
        await conn.execute(
            insert(at_rest_keys).values(
                id=key_id,
                wrapped=self.cipher.wrap(key_id, os.urandom(KEY_BYTES)),
                created_at=self.clock.now_ms(),
                active_from=active_from,
            )
        )

    async def retire_older_than(self, conn: AsyncConnection, key_id: int) -> None:
        await conn.execute(
            update(at_rest_keys)
            .where(at_rest_keys.c.id < key_id, at_rest_keys.c.retired_at.is_(None))
            .values(retired_at=self.clock.now_ms())
        )
