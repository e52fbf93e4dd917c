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
# Users one socket may watch at a time (`presence.watch`): a screenful of members.
MAX_WATCHED = 100


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
        # Pushed to the people the user has a relationship with (shared private conversations)
        # and to whoever is watching them (docs/protocol.md "Presence"): never room-wide, which
        # made a big room's connects cost members^2 frames.
        watchers = await self._backend.watchers(user_id)
        async with self._storage.read() as tx:
            audience = await tx.members.presence_recipients(
                user_id, watchers, MAX_PRESENCE_AUDIENCE
            )
        info = PresenceInfo(user_id, status, self._clock.now_ms())
        await self._events.publish(
            Event("presence", presence_view(info), frozenset(audience) | {user_id})
        )

    async def connected(self, principal: Principal, conn_id: str) -> None:
        before = await self._backend.connect(principal.user_id, conn_id, self._clock.now_ms())
        if before != "online":
            await self._announce(principal.user_id, "online")

    async def disconnected(self, principal: Principal, conn_id: str) -> None:
        # Drops the connection's watch too (a watch dies with its socket).
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

    async def watch(
        self, principal: Principal, conn_id: str, user_ids: Collection[uuid.UUID]
    ) -> list[PresenceInfo]:
        """Connection `conn_id` now watches exactly `user_ids` (at most MAX_WATCHED; the frame
        parser enforces it): their changes reach this user from now on, while they share a
        conversation (a public room is enough) and neither blocks the other. Returns the
        current presence of those the caller may see, in the order asked; the others are left
        out, the same answer whether they exist or not."""
        targets = list(dict.fromkeys(user_ids))[:MAX_WATCHED]
        # Registered before reading, so a change between the two is pushed, not lost.
        await self._backend.watch(conn_id, principal.user_id, targets)
        if not targets:
            return []
        async with self._storage.read() as tx:
            visible = await tx.members.presence_visible_among(principal.user_id, targets)
        return await self._backend.get([u for u in targets if u in visible])

    async def introduce(
        self, newcomers: Collection[uuid.UUID], members: Collection[uuid.UUID]
    ) -> None:
        """People who may just have started to see each other learn each other's presence: a
        newcomer and another of them exchange it when they share a private conversation where
        both accepted, or one watches the other in a conversation they share (the same rule as
        pushes; a public room alone does not push). Only online or away is sent (offline is
        what a client assumes for someone it has heard nothing about). A block either way
        keeps a pair apart."""
        new = list(dict.fromkeys(newcomers))
        if not new:
            return
        everyone = list(dict.fromkeys([*new, *members]))[:MAX_PRESENCE_AUDIENCE]
        # pairs[n]: who may see newcomer n (and, the rule being symmetric, whom n may see).
        watchers = {n: await self._backend.watchers(n) for n in new}
        pairs: dict[uuid.UUID, set[uuid.UUID]] = {}
        async with self._storage.read() as tx:
            for n in new:
                found = await tx.members.presence_recipients(
                    n, watchers[n], MAX_PRESENCE_AUDIENCE, among=everyone
                )
                pairs[n] = set(found) - {n}
        audiences: dict[uuid.UUID, set[uuid.UUID]] = {}
        for n, seen_by in pairs.items():
            audiences.setdefault(n, set()).update(seen_by)
            for other in seen_by:
                audiences.setdefault(other, set()).add(n)
        if not audiences:
            return
        events = [
            Event("presence", presence_view(info), frozenset(audiences[info.user_id]))
            for info in await self._backend.get(sorted(audiences))
            if info.status != "offline" and audiences[info.user_id]
        ]
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
