"""SQL implementation of the account repositories (users, devices, sessions, tickets).

Placeholder: filled in by the accounts work. `SqlUserRepository.get` is used by conversations.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from hushroom.storage.sql.tables import users


class SqlUserRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def exists(self, user_id: uuid.UUID) -> bool:
        row = (await self._conn.execute(select(users.c.id).where(users.c.id == user_id))).first()
        return row is not None


class SqlDeviceRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn


class SqlSessionRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn


class SqlTicketRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
