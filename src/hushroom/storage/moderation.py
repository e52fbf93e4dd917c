"""The audit log of server admins' moderation actions, and the repository interface that
stores it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Literal, Protocol

AuditAction = Literal["message.remove", "room.delete", "account.disable", "account.enable"]
TargetKind = Literal["message", "room", "user"]


@dataclass(frozen=True, slots=True)
class AuditEntry:
    # None: the operator, at the command line (`hushroom disable-account`).
    actor_user_id: uuid.UUID | None
    action: AuditAction
    target_kind: TargetKind
    # A string whatever the target's id type (message ids are integers, the rest UUIDs).
    target_id: str
    created_at: int
    # What the target was (JSON values only), so the entry still says something once the
    # target is gone. Never message text: a removed message stays removed.
    detail: dict[str, Any] | None = None
    # Assigned by storage; 0 before the entry is stored.
    id: int = 0


class AuditLogRepository(Protocol):
    async def append(self, entry: AuditEntry) -> int:
        """Store one entry; returns its id (ids grow with time)."""
        ...

    async def page(self, before: int | None, limit: int) -> list[AuditEntry]:
        """The newest `limit` entries with an id below `before` (all, without it), newest
        first."""
        ...
