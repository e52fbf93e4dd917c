"""Presence and typing state: memory or Redis (with TTLs), never SQL."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal, Protocol

Status = Literal["online", "away", "offline"]


@dataclass(frozen=True, slots=True)
class PresenceInfo:
    user_id: uuid.UUID
    status: Status
    # Milliseconds since the epoch of the last activity; None if never seen.
    last_seen_ms: int | None


class PresenceBackend(Protocol):
    async def connect(self, user_id: uuid.UUID, conn_id: str, now_ms: int) -> Status:
        """Register a live connection; returns the user's status before it."""
        ...

    async def disconnect(self, user_id: uuid.UUID, conn_id: str, now_ms: int) -> Status:
        """Drop a connection (and its watch, see `watch`); returns the user's status after it."""
        ...

    async def set_status(
        self, user_id: uuid.UUID, conn_id: str, status: Status, now_ms: int
    ) -> Status:
        """Set one connection to online/away; returns the user's aggregate status."""
        ...

    async def get(self, user_ids: list[uuid.UUID]) -> list[PresenceInfo]: ...

    async def set_typing(
        self, conversation_id: uuid.UUID, user_id: uuid.UUID, now_ms: int, ttl_ms: int
    ) -> bool:
        """Mark a user typing; True if they were not already (so the event is worth sending)."""
        ...

    async def watch(self, conn_id: str, watcher: uuid.UUID, targets: Collection[uuid.UUID]) -> None:
        """Connection `conn_id` of `watcher` now watches exactly `targets` (replacing what it
        watched before; empty: nothing). A watch lives as long as its connection: `disconnect`
        drops it, and on Redis it expires with a dead node's connections."""
        ...

    async def watchers(self, user_id: uuid.UUID) -> set[uuid.UUID]:
        """The users with a live connection watching `user_id`."""
        ...
