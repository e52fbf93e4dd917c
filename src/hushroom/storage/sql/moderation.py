"""SQL implementation of the audit log repository. The detail (it may name a room) is JSON
sealed at rest, bound to the entry's id."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hushroom.storage.at_rest import AtRestCipher
from hushroom.storage.moderation import AuditEntry
from hushroom.storage.sql import sealed
from hushroom.storage.sql.tables import audit_log


def _detail(row: Any, cipher: AtRestCipher) -> dict[str, Any] | None:
    if row.detail_sealed is not None:
        opened: dict[str, Any] = orjson.loads(
            cipher.open(sealed.audit_detail(int(row.id)), bytes(row.detail_sealed))
        )
        return opened
    return dict(row.detail) if row.detail is not None else None


def _entry(row: Any, cipher: AtRestCipher) -> AuditEntry:
    return AuditEntry(
        id=int(row.id),
        actor_user_id=row.actor_user_id,
        action=row.action,
        target_kind=row.target_kind,
        target_id=row.target_id,
        created_at=row.created_at,
        detail=_detail(row, cipher),
    )


class SqlAuditLogRepository:
    def __init__(self, conn: AsyncConnection, cipher: AtRestCipher) -> None:
        self._conn = conn
        self._cipher = cipher

    async def append(self, entry: AuditEntry) -> int:
        row = (
            await self._conn.execute(
                insert(audit_log)
                .values(
                    actor_user_id=entry.actor_user_id,
                    action=entry.action,
                    target_kind=entry.target_kind,
                    target_id=entry.target_id,
                    created_at=entry.created_at,
                )
                .returning(audit_log.c.id)
            )
        ).one()
        entry_id = int(row[0])
        if entry.detail is not None:
            # Bound to the id, which exists only after the insert (moderation is rare).
            blob = self._cipher.seal(
                sealed.audit_detail(entry_id), orjson.dumps(entry.detail).decode()
            )
            await self._conn.execute(
                update(audit_log).where(audit_log.c.id == entry_id).values(detail_sealed=blob)
            )
        return entry_id

    async def page(self, before: int | None, limit: int) -> list[AuditEntry]:
        stmt = select(audit_log)
        if before is not None:
            stmt = stmt.where(audit_log.c.id < before)
        rows = await self._conn.execute(stmt.order_by(audit_log.c.id.desc()).limit(limit))
        return [_entry(r, self._cipher) for r in rows]
