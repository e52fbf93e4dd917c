"""The one module that knows which database it talks to (SQLite or PostgreSQL).

Everything above it gets `Database.read()` / `Database.write()` connections and writes portable
SQLAlchemy Core; the one exception is the send batch, which on PostgreSQL runs on asyncpg
connections of its own (`Database.driver_write()`, storage/sql/pg_send_batch.py). SQLite allows
one writer at a time, so writes are serialised here with a lock and `BEGIN IMMEDIATE` (no
"database is locked" surprises under concurrent senders); PostgreSQL runs writes concurrently
and relies on row locks.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

# Errors after which an asyncpg connection cannot be trusted.
_BROKEN = (
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    asyncpg.PostgresConnectionError,
    OSError,
)


class Database:
    def __init__(self, url: str, *, pool_size: int = 20, driver_pool_size: int = 2) -> None:
        self.url = make_url(url)
        self.dialect = self.url.get_backend_name()
        self._write_lock: asyncio.Lock | None = None
        self._driver_pool: Any = None
        self._driver_pool_size = driver_pool_size
        self._driver_pool_lock = asyncio.Lock()
        if self.dialect == "sqlite":
            self._prepare_sqlite_path()
            self.engine = create_async_engine(self.url)
            self._install_sqlite_hooks(self.engine)
            self._write_lock = asyncio.Lock()
        elif self.dialect == "postgresql":
            self.engine = create_async_engine(
                # No pre-ping (a round trip per transaction): a dead connection fails one
                # request with 503 and SQLAlchemy then invalidates the whole pool.
                self.url,
                pool_size=pool_size,
                max_overflow=5,
            )
        else:
            raise ValueError(f"unsupported database: {self.dialect}")

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def has_driver_write(self) -> bool:
        """Whether `driver_write()` is available (PostgreSQL through asyncpg)."""
        return self.dialect == "postgresql"

    def _prepare_sqlite_path(self) -> None:
        db = self.url.database
        if db and db != ":memory:":
            Path(db).parent.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def _install_sqlite_hooks(engine: AsyncEngine) -> None:
        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Take over transaction control from the driver so BEGIN IMMEDIATE is ours.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.close()

        @event.listens_for(engine.sync_engine, "before_cursor_execute", retval=True)
        def _refuse_nul(
            _conn: Any,
            _cursor: Any,
            statement: str,
            parameters: Any,
            _context: Any,
            _executemany: bool,
        ) -> tuple[str, Any]:
            # PostgreSQL refuses NUL in text (SQLSTATE 22021) and SQLite stores it: refuse it
            # here too, with the same error class, so both answer 422 (storage/unit.py) should
            # input validation (api/schemas.py, gateway/frames.py) ever miss a field.
            # One row (tuple or dict) or several (executemany; "insertmanyvalues" batches pass
            # a flat tuple even then): look one level into whatever is a row.
            for item in parameters.values() if isinstance(parameters, dict) else parameters or ():
                if type(item) is str:
                    if "\x00" in item:
                        raise sqlite3.DataError("a text value contains a NUL character")
                elif isinstance(item, tuple | list | dict):
                    for value in item.values() if isinstance(item, dict) else item:
                        if type(value) is str and "\x00" in value:
                            raise sqlite3.DataError("a text value contains a NUL character")
            return statement, parameters

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
            conn.exec_driver_sql(f"BEGIN {mode}")

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A read-write transaction; committed when the block exits without error."""
        if self._write_lock is not None:
            async with self._write_lock, self.engine.connect() as conn:
                conn = await conn.execution_options(sqlite_begin="IMMEDIATE")
                async with conn.begin():
                    yield conn
        else:
            async with self.engine.begin() as conn:
                yield conn

    @asynccontextmanager
    async def driver_write(self) -> AsyncIterator[Any]:
        """A read-write transaction on an asyncpg connection of its own small pool (PostgreSQL),
        committed when the block exits without error. Its own pool because checking a connection
        out of SQLAlchemy's costs about twice asyncpg's (greenlet hops, pool events) and the send
        batch runs once per transaction; sized by the send batch workers, so it adds only that
        many connections."""
        pool = self._driver_pool or await self._open_driver_pool()
        async with pool.acquire() as driver:
            try:
                async with driver.transaction():
                    yield driver
            except _BROKEN:
                # Closed under us (a database restart) or left mid-protocol: never pooled again.
                driver.terminate()
                raise

    async def _open_driver_pool(self) -> Any:
        async with self._driver_pool_lock:
            if self._driver_pool is None:
                self._driver_pool = await asyncpg.create_pool(
                    self.url.set(drivername="postgresql").render_as_string(hide_password=False),
                    # Connections open on first use: a database down at start fails requests
                    # with 503, not the start.
                    min_size=0,
                    max_size=self._driver_pool_size,
                    # On release asyncpg still rolls back an open transaction (or drops the
                    # connection if that fails); the full reset (RESET ALL, UNLISTEN, …) is a
                    # round trip per batch for session state this code never sets.
                    reset=_keep_session,
                )
            return self._driver_pool

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn, conn.begin():
            yield conn

    async def dispose(self) -> None:
        pool, self._driver_pool = self._driver_pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), timeout=5)
            except TimeoutError:
                pool.terminate()
        await self.engine.dispose()


async def _keep_session(_conn: Any) -> None:
    return None
