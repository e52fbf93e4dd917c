"""SQL implementation of the audit log repository."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hushroom.storage.moderation import AuditEntry
from hushroom.storage.sql.tables import audit_log


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(
        id=int(row.id),
        actor_user_id=row.actor_user_id,
        action=row.action,
        target_kind=row.target_kind,
        target_id=row.target_id,
        created_at=row.created_at,
        detail=dict(row.detail) if row.detail is not None else None,
    )


class SqlAuditLogRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def append(self, entry: AuditEntry) -> int:
        row = (
            await self._conn.execute(
                insert(audit_log)
                .values(
                    actor_user_id=entry.actor_user_id,
                    action=entry.action,
                    target_kind=entry.target_kind,
                    target_id=entry.target_id,
                    detail=entry.detail,
                    created_at=entry.created_at,
                )
                .returning(audit_log.c.id)
            )
        ).one()
        return int(row[0])

    async def page(self, before: int | None, limit: int) -> list[AuditEntry]:
        stmt = select(audit_log)
        if before is not None:
            stmt = stmt.where(audit_log.c.id < before)
        rows = await self._conn.execute(stmt.order_by(audit_log.c.id.desc()).limit(limit))
        return [_entry(r) for r in rows]
