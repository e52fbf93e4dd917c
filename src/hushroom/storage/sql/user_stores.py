"""SQL implementation of the user store repository."""

from __future__ import annotations

import uuid

from sqlalchemy import and_, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from hushroom.storage.sql.tables import user_stores
from hushroom.storage.user_stores import UserStoreRecord


class SqlUserStoreRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get(self, user_id: uuid.UUID, name: str) -> UserStoreRecord | None:
        row = (
            await self._conn.execute(
                select(user_stores.c.version, user_stores.c.blob, user_stores.c.updated_at).where(
                    and_(user_stores.c.user_id == user_id, user_stores.c.name == name)
                )
            )
        ).first()
        if row is None:
            return None
        return UserStoreRecord(user_id, name, int(row.version), bytes(row.blob), row.updated_at)

    async def swap(
        self, user_id: uuid.UUID, name: str, expected_version: int, blob: bytes, now: int
    ) -> int | None:
        if expected_version == 0:
            # The first write: of two racing ones the primary key lets one in.
            try:
                async with self._conn.begin_nested():
                    await self._conn.execute(
                        insert(user_stores).values(
                            user_id=user_id, name=name, version=1, blob=blob, updated_at=now
                        )
                    )
            except IntegrityError:
                return None
            return 1
        row = (
            await self._conn.execute(
                update(user_stores)
                .where(
                    and_(
                        user_stores.c.user_id == user_id,
                        user_stores.c.name == name,
                        user_stores.c.version == expected_version,
                    )
                )
                .values(blob=blob, updated_at=now, version=user_stores.c.version + 1)
                .returning(user_stores.c.version)
            )
        ).first()
        return int(row[0]) if row else None
