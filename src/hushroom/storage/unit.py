"""A unit of work: one transaction with every repository bound to it.

Services write `async with storage.write() as tx: ... tx.messages.insert(...)`; the transaction
commits when the block exits cleanly, so an ack sent after the block is an ack after commit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from hushroom.errors import ServiceUnavailable
from hushroom.storage.engine import Database
from hushroom.storage.sql.accounts import (
    SqlDeviceRepository,
    SqlSessionRepository,
    SqlTicketRepository,
    SqlUserRepository,
)
from hushroom.storage.sql.conversations import (
    SqlConversationRepository,
    SqlMemberRepository,
    SqlMessageRepository,
)


class Repos:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.users = SqlUserRepository(conn)
        self.devices = SqlDeviceRepository(conn)
        self.sessions = SqlSessionRepository(conn)
        self.tickets = SqlTicketRepository(conn)
        self.conversations = SqlConversationRepository(conn)
        self.members = SqlMemberRepository(conn)
        self.messages = SqlMessageRepository(conn)


def _is_connection_error(exc: DBAPIError) -> bool:
    return isinstance(exc, OperationalError) or exc.connection_invalidated


class Storage:
    def __init__(self, db: Database) -> None:
        self.db = db

    @asynccontextmanager
    async def write(self) -> AsyncIterator[Repos]:
        try:
            async with self.db.write() as conn:
                yield Repos(conn)
        except (DBAPIError, OSError) as exc:
            if isinstance(exc, OSError) or _is_connection_error(exc):
                raise ServiceUnavailable("the database is unreachable") from exc
            raise

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Repos]:
        try:
            async with self.db.read() as conn:
                yield Repos(conn)
        except (DBAPIError, OSError) as exc:
            if isinstance(exc, OSError) or _is_connection_error(exc):
                raise ServiceUnavailable("the database is unreachable") from exc
            raise
