"""Presence (online / away / offline, last seen) and typing, kept in the presence backend."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from hushroom import access
from hushroom.clock import Clock
from hushroom.events.event import Event
from hushroom.events.publisher import EventPublisher
from hushroom.presence.base import PresenceBackend, PresenceInfo, Status
from hushroom.principal import Principal
from hushroom.storage.unit import Storage

# Relay a typing notice at most this often per user and conversation; clients show it twice as long.
TYPING_TTL_MS = 3000
MAX_PRESENCE_AUDIENCE = 5000


def presence_view(info: PresenceInfo) -> dict[str, object]:
    return {"user_id": str(info.user_id), "status": info.status, "last_seen": info.last_seen_ms}


class PresenceService:
    def __init__(
        self, storage: Storage, backend: PresenceBackend, events: EventPublisher, clock: Clock
    ) -> None:
        self._storage = storage
        self._backend = backend
        self._events = events
        self._clock = clock

    async def _announce(self, user_id: uuid.UUID, status: Status) -> None:
        async with self._storage.read() as tx:
            audience = await tx.members.co_members(user_id, MAX_PRESENCE_AUDIENCE)
        info = PresenceInfo(user_id, status, self._clock.now_ms())
        await self._events.publish(
            Event("presence", presence_view(info), frozenset(audience) | {user_id})
        )

    async def connected(self, principal: Principal, conn_id: str) -> None:
        before = await self._backend.connect(principal.user_id, conn_id, self._clock.now_ms())
        if before != "online":
            await self._announce(principal.user_id, "online")

    async def disconnected(self, principal: Principal, conn_id: str) -> None:
        after = await self._backend.disconnect(principal.user_id, conn_id, self._clock.now_ms())
        if after == "offline":
            await self._announce(principal.user_id, "offline")

    async def set_status(self, principal: Principal, conn_id: str, status: Status) -> None:
        before = (await self._backend.get([principal.user_id]))[0].status
        after = await self._backend.set_status(
            principal.user_id, conn_id, status, self._clock.now_ms()
        )
        if after != before:
            await self._announce(principal.user_id, after)

    async def introduce(
        self, newcomers: Collection[uuid.UUID], members: Collection[uuid.UUID]
    ) -> None:
        """People who just became co-members learn each other's presence: each newcomer sees
        the members who are online or away, and they see the newcomer. (Offline is what a
        client assumes for someone it has heard nothing about.) Callers pass only people whose
        presence may flow (accepted members, docs/decisions/0006); a block either way between
        two of them keeps that pair apart."""
        new = set(newcomers)
        everyone = list(new | set(members))[:MAX_PRESENCE_AUDIENCE]
        if not new:
            return
        async with self._storage.read() as tx:
            blocked = await tx.blocks.touching(new)
        events = []
        for info in await self._backend.get(everyone):
            if info.status == "offline":
                continue
            audience = (set(everyone) if info.user_id in new else new) - {info.user_id}
            audience = {a for a in audience if frozenset((a, info.user_id)) not in blocked}
            if audience:
                events.append(Event("presence", presence_view(info), frozenset(audience)))
        if events:
            await self._events.publish_many(events)

    async def withdraw(self, pairs: Collection[tuple[uuid.UUID, uuid.UUID]]) -> None:
        """`(about, to)`: `to` stops seeing `about` (a block): they get `about` as offline, the
        state a client keeps for someone it hears nothing more about."""
        infos = {i.user_id: i for i in await self._backend.get(sorted({a for a, _ in pairs}))}
        events = [
            Event(
                "presence",
                presence_view(PresenceInfo(about, "offline", infos[about].last_seen_ms)),
                frozenset({to}),
            )
            for about, to in pairs
        ]
        if events:
            await self._events.publish_many(events)

    async def get(self, user_ids: list[uuid.UUID]) -> list[PresenceInfo]:
        return await self._backend.get(user_ids)

    async def typing(self, principal: Principal, conversation_id: uuid.UUID) -> None:
        async with self._storage.read() as tx:
            _conv, member = await access.access_member(tx, principal.user_id, conversation_id)
            # A request not yet accepted keeps its typing to itself (docs/decisions/0006); others
            # see it only if neither side blocks the other.
            if not member.accepted:
                return
            recipients = await tx.members.audience(conversation_id, principal.user_id)
        fresh = await self._backend.set_typing(
            conversation_id, principal.user_id, self._clock.now_ms(), TYPING_TTL_MS
        )
        if fresh:
            await self._events.publish(
                Event(
                    type="typing",
                    payload={
                        "conversation_id": str(conversation_id),
                        "user_id": str(principal.user_id),
                    },
                    recipients=frozenset(recipients),
                    conversation_id=conversation_id,
                    exclude_device=principal.device_id,
                )
            )
