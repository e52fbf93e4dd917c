"""Single-node presence: a user is online if any connection is online, away if all are away."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from hushroom.presence.base import PresenceInfo, Status


class MemoryPresence:
    def __init__(self) -> None:
        self._conns: dict[uuid.UUID, dict[str, Status]] = {}
        self._last_seen: dict[uuid.UUID, int] = {}
        self._typing: dict[tuple[uuid.UUID, uuid.UUID], int] = {}
        # Watches: connection -> (watcher, targets), and target -> {connection: watcher}.
        self._watching: dict[str, tuple[uuid.UUID, frozenset[uuid.UUID]]] = {}
        self._watched: dict[uuid.UUID, dict[str, uuid.UUID]] = {}

    def _aggregate(self, user_id: uuid.UUID) -> Status:
        statuses = self._conns.get(user_id)
        if not statuses:
            return "offline"
        return "online" if "online" in statuses.values() else "away"

    async def connect(self, user_id: uuid.UUID, conn_id: str, now_ms: int) -> Status:
        before = self._aggregate(user_id)
        self._conns.setdefault(user_id, {})[conn_id] = "online"
        self._last_seen[user_id] = now_ms
        return before

    async def disconnect(self, user_id: uuid.UUID, conn_id: str, now_ms: int) -> Status:
        self._unwatch(conn_id)
        statuses = self._conns.get(user_id)
        if statuses is not None:
            statuses.pop(conn_id, None)
            if not statuses:
                del self._conns[user_id]
        self._last_seen[user_id] = now_ms
        return self._aggregate(user_id)

    async def set_status(
        self, user_id: uuid.UUID, conn_id: str, status: Status, now_ms: int
    ) -> Status:
        statuses = self._conns.get(user_id)
        if statuses is not None and conn_id in statuses and status != "offline":
            statuses[conn_id] = status
        self._last_seen[user_id] = now_ms
        return self._aggregate(user_id)

    async def get(self, user_ids: list[uuid.UUID]) -> list[PresenceInfo]:
        return [PresenceInfo(u, self._aggregate(u), self._last_seen.get(u)) for u in user_ids]

    async def set_typing(
        self, conversation_id: uuid.UUID, user_id: uuid.UUID, now_ms: int, ttl_ms: int
    ) -> bool:
        key = (conversation_id, user_id)
        # Relay at most once per TTL: a continuous typist is announced again after it expires.
        if self._typing.get(key, 0) > now_ms:
            return False
        self._typing[key] = now_ms + ttl_ms
        if len(self._typing) > 10_000:  # bound memory: forget expired entries
            self._typing = {k: v for k, v in self._typing.items() if v > now_ms}
        return True

    async def watch(self, conn_id: str, watcher: uuid.UUID, targets: Collection[uuid.UUID]) -> None:
        self._unwatch(conn_id)
        wanted = frozenset(targets)
        if not wanted:
            return
        self._watching[conn_id] = (watcher, wanted)
        for target in wanted:
            self._watched.setdefault(target, {})[conn_id] = watcher

    async def watchers(self, user_id: uuid.UUID) -> set[uuid.UUID]:
        return set(self._watched.get(user_id, {}).values())

    def _unwatch(self, conn_id: str) -> None:
        old = self._watching.pop(conn_id, None)
        if old is None:
            return
        for target in old[1]:
            conns = self._watched.get(target)
            if conns is not None:
                conns.pop(conn_id, None)
                if not conns:
                    del self._watched[target]
