"""Nodes starting together on an empty key table agree on one first data key (on both
databases): otherwise one node seals under a key the others have not loaded and they answer 503
until their next re-read of the table."""

from __future__ import annotations

import asyncio
import secrets

from sqlalchemy import delete, select

from hushroom.clock import SystemClock
from hushroom.storage.at_rest import AtRestCipher
from hushroom.storage.engine import Database
from hushroom.storage.sql.at_rest_keys import FIRST_KEY_ID, AtRestKeys
from hushroom.storage.sql.tables import at_rest_keys

NODES = 6
ROUNDS = 20


async def test_nodes_starting_together_on_an_empty_table_share_one_first_key(
    database_url: str,
) -> None:
    kek = secrets.token_bytes(32)
    dbs = [Database(database_url) for _ in range(NODES)]
    try:
        for _ in range(ROUNDS):
            async with dbs[0].write() as conn:
                await conn.execute(delete(at_rest_keys))
            rings = [AtRestKeys(AtRestCipher(kek), SystemClock()) for _ in dbs]
            await asyncio.gather(*(ring.ensure(db) for ring, db in zip(rings, dbs, strict=True)))

            async with dbs[0].read() as conn:
                ids = sorted((await conn.execute(select(at_rest_keys.c.id))).scalars())
            assert ids == [FIRST_KEY_ID]
            assert [r.cipher.current_id for r in rings] == [FIRST_KEY_ID] * NODES
            # Every node holds the same key: what one seals, another opens.
            sealed = rings[0].cipher.seal(("t", "c", "1"), "hello")
            assert {r.cipher.open(("t", "c", "1"), sealed) for r in rings} == {"hello"}
    finally:
        for db in dbs:
            await db.dispose()


async def test_a_node_that_saw_an_empty_table_loads_the_key_another_node_made(
    database_url: str,
) -> None:
    kek = secrets.token_bytes(32)
    first, late = Database(database_url), Database(database_url)
    try:
        async with first.write() as conn:
            await conn.execute(delete(at_rest_keys))
        maker = AtRestKeys(AtRestCipher(kek), SystemClock())
        await maker.ensure(first)
        # The late node read the table before the key existed and now tries to create one.
        waiting = AtRestKeys(AtRestCipher(kek), SystemClock())
        await waiting.create_first(late)
        await waiting.ensure(late)
        async with first.read() as conn:
            ids = sorted((await conn.execute(select(at_rest_keys.c.id))).scalars())
        assert ids == [FIRST_KEY_ID]
        assert waiting.cipher.current_id == maker.cipher.current_id == FIRST_KEY_ID
    finally:
        await first.dispose()
        await late.dispose()
