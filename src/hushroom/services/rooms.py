"""Public rooms: create, search, join, leave, members."""

from __future__ import annotations

import uuid

from hushroom import access
from hushroom.clock import Clock
from hushroom.errors import ValidationFailed
from hushroom.events.event import Event
from hushroom.events.publisher import EventPublisher
from hushroom.principal import Principal
from hushroom.services.presence import PresenceService
from hushroom.storage.conversations import ConversationRecord, MemberRecord
from hushroom.storage.unit import Storage

MAX_NAME = 80
MAX_TOPIC = 300


def reject_nul(value: str, field: str) -> None:
    if "\x00" in value:
        raise ValidationFailed("text may not contain NUL characters", field=field)


def clean_name(name: str, field: str = "name") -> str:
    reject_nul(name, field)
    name = " ".join(name.split())
    if not name:
        raise ValidationFailed("a name is required", field=field)
    if len(name) > MAX_NAME:
        raise ValidationFailed(f"names are limited to {MAX_NAME} characters", field=field)
    return name


def clean_topic(topic: str | None) -> str | None:
    if topic is None:
        return None
    reject_nul(topic, "topic")
    topic = topic.strip()
    if len(topic) > MAX_TOPIC:
        raise ValidationFailed(f"topics are limited to {MAX_TOPIC} characters", field="topic")
    return topic or None


def member_event(
    kind: str, conversation_id: uuid.UUID, user_id: uuid.UUID, to: list[uuid.UUID]
) -> Event:
    return Event(
        type=kind,
        payload={"conversation_id": str(conversation_id), "user_id": str(user_id)},
        recipients=frozenset(to),
        conversation_id=conversation_id,
    )


class RoomService:
    def __init__(
        self, storage: Storage, events: EventPublisher, clock: Clock, presence: PresenceService
    ) -> None:
        self._presence = presence
        self._storage = storage
        self._events = events
        self._clock = clock

    async def create(
        self, principal: Principal, name: str, topic: str | None
    ) -> ConversationRecord:
        now = self._clock.now_ms()
        record = ConversationRecord(
            id=uuid.uuid4(),
            kind="room",
            name=clean_name(name),
            topic=clean_topic(topic),
            created_by=principal.user_id,
            created_at=now,
            last_seq=0,
            member_count=1,
        )
        async with self._storage.write() as tx:
            await tx.conversations.create_room(record)
            await tx.members.add(MemberRecord(record.id, principal.user_id, "admin", now, 0))
        return record

    async def search(
        self, query: str | None, limit: int = 50, after: uuid.UUID | None = None
    ) -> list[ConversationRecord]:
        """Rooms by name (then id); `after` is the id of the last room of the previous page."""
        limit = max(1, min(limit, 200))
        if query is not None:
            reject_nul(query, "q")
        async with self._storage.read() as tx:
            cursor = await tx.conversations.get(after) if after is not None else None
            if after is not None and (cursor is None or cursor.kind != "room"):
                raise ValidationFailed("after must be the id of a public room", field="after")
            return await tx.conversations.search_rooms(query, limit, cursor)

    async def get(self, principal: Principal, room_id: uuid.UUID) -> ConversationRecord:
        async with self._storage.read() as tx:
            return await access.access_room(tx, room_id)

    async def join(self, principal: Principal, room_id: uuid.UUID) -> ConversationRecord:
        async with self._storage.write() as tx:
            room = await access.access_room(tx, room_id)
            added = await tx.members.add(
                MemberRecord(
                    room.id, principal.user_id, "member", self._clock.now_ms(), room.last_seq
                )
            )
            if added:
                room = await tx.conversations.add_member_count(room.id, 1)
            recipients = await tx.members.user_ids(room.id) if added else []
        if added:
            await self._events.publish(
                member_event("member.joined", room.id, principal.user_id, recipients)
            )
            await self._presence.introduce([principal.user_id], recipients)
        return room

    async def leave(self, principal: Principal, room_id: uuid.UUID) -> None:
        async with self._storage.write() as tx:
            room = await access.access_room(tx, room_id)
            await access.access_member(tx, principal.user_id, room_id)
            recipients = await tx.members.user_ids(room.id)
            await tx.members.remove(room.id, principal.user_id)
            await tx.conversations.add_member_count(room.id, -1)
        await self._events.publish(
            member_event("member.left", room.id, principal.user_id, recipients)
        )
