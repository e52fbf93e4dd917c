"""Fresh, migrated databases for tests: SQLite files copied from a migrated template, and one
PostgreSQL database truncated between tests."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncConnection

from hushroom.storage.engine import Database
from hushroom.storage.migrate import upgrade
from hushroom.storage.sql.tables import conversations, messages, metadata

PG_ADMIN_DSN = os.environ.get(
    "HUSHROOM_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
# One database per pytest process, so concurrent runs on one machine never share state.
PG_TEST_DB = os.environ.get("HUSHROOM_TEST_PG_DB", f"hushroom_test_{os.getpid()}")


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def pg_url(dbname: str = PG_TEST_DB) -> str:
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{dbname}"


def _run_sync(fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run a coroutine to completion from sync code, even when an event loop is running here."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(lambda: asyncio.run(fn())).result()


async def _migrate(url: str) -> None:
    db = Database(url)
    try:
        await upgrade(db)
    finally:
        await db.dispose()


def make_sqlite_template(directory: Path) -> Path:
    path = directory / "template.db"
    _run_sync(lambda: _migrate(sqlite_url(path)))
    return path


def fresh_sqlite(template: Path, directory: Path) -> str:
    target = directory / "hushroom.db"
    shutil.copyfile(template, target)
    return sqlite_url(target)


async def _recreate_pg(dbname: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{dbname}"')
    finally:
        await conn.close()


async def _drop_pg(dbname: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
    finally:
        await conn.close()


def drop_pg_database(dbname: str = PG_TEST_DB) -> None:
    _run_sync(lambda: _drop_pg(dbname))


def make_pg_database(dbname: str = PG_TEST_DB) -> str:
    _run_sync(lambda: _recreate_pg(dbname))
    url = pg_url(dbname)
    _run_sync(lambda: _migrate(url))
    return url


async def truncate_pg(url: str) -> None:
    db = Database(url)
    try:
        names = ", ".join(f'"{t.name}"' for t in reversed(metadata.sorted_tables))
        async with db.write() as conn:
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        await db.dispose()


async def insert_plain_room_message(
    conn: AsyncConnection,
    *,
    room: uuid.UUID,
    owner: uuid.UUID,
    name: str,
    body: str,
    topic: str | None = None,
) -> None:
    """A public room with one message, written as revisions before 0010 stored them (name, topic
    and body in clear): for migration tests that start from an older schema."""
    await conn.execute(
        insert(conversations).values(
            id=room,
            kind="room",
            name=name,
            name_lower=name.lower(),
            topic=topic,
            created_by=owner,
            created_at=1,
            last_seq=1,
            member_count=0,
        )
    )
    await conn.execute(
        insert(messages).values(
            conversation_id=room,
            seq=1,
            sender_id=owner,
            sender_device_id=owner,
            client_msg_id="0" * 32,
            created_at=1,
            body=body,
        )
    )
