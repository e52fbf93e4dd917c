"""Conversations as a member sees them (list with unread counts, members), and private ones:
direct messages (one per pair, created by the first sender) and private groups."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from hushroom import access
from hushroom.clock import Clock
from hushroom.errors import NotFound, ValidationFailed
from hushroom.events.event import Event
from hushroom.events.publisher import EventPublisher
from hushroom.principal import Principal
from hushroom.services.presence import PresenceService
from hushroom.services.rooms import clean_name, member_event
from hushroom.services.views import conversation_view
from hushroom.storage.conversations import ConversationRecord, MemberRecord
from hushroom.storage.unit import Repos, Storage

MAX_GROUP_MEMBERS = 256


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    conversation: ConversationRecord
    membership: MemberRecord

    @property
    def unread(self) -> int:
        return max(0, self.conversation.last_seq - self.membership.last_read_seq)


def dm_pair(a: uuid.UUID, b: uuid.UUID) -> str:
    lo, hi = sorted((str(a), str(b)))
    return f"{lo}:{hi}"


async def _require_users(tx: Repos, user_ids: set[uuid.UUID]) -> None:
    for user_id in sorted(user_ids):
        if not await tx.users.exists(user_id):
            raise NotFound("no such user", field="user_id")


class ConversationService:
    def __init__(
        self, storage: Storage, events: EventPublisher, clock: Clock, presence: PresenceService
    ) -> None:
        self._presence = presence
        self._storage = storage
        self._events = events
        self._clock = clock

    async def list_for(self, principal: Principal) -> list[ConversationSummary]:
        async with self._storage.read() as tx:
            rows = await tx.conversations.for_user(principal.user_id)
        return [ConversationSummary(c, m) for c, m in rows]

    async def get(self, principal: Principal, conversation_id: uuid.UUID) -> ConversationRecord:
        async with self._storage.read() as tx:
            conv, _m = await access.access_read(tx, principal.user_id, conversation_id)
            return conv

    async def members(
        self,
        principal: Principal,
        conversation_id: uuid.UUID,
        limit: int = 200,
        after: uuid.UUID | None = None,
    ) -> list[MemberRecord]:
        async with self._storage.read() as tx:
            await access.access_read(tx, principal.user_id, conversation_id)
            return await tx.members.page(conversation_id, max(1, min(limit, 1000)), after)

    async def open_dm(
        self, principal: Principal, other: uuid.UUID
    ) -> tuple[ConversationRecord, bool]:
        """The DM between the caller and `other`, created if it does not exist yet."""
        if other == principal.user_id:
            raise ValidationFailed("a direct message needs another user", field="user_id")
        pair = dm_pair(principal.user_id, other)
        now = self._clock.now_ms()
        async with self._storage.write() as tx:
            existing = await tx.conversations.get_dm(pair)
            if existing is not None:
                return existing, False
            await _require_users(tx, {other})
            record = ConversationRecord(
                uuid.uuid4(), "dm", None, None, principal.user_id, now, 0, 2
            )
            await tx.conversations.create(record, dm_pair=pair)
            for user_id in (principal.user_id, other):
                await tx.members.add(MemberRecord(record.id, user_id, "member", now, 0))
        await self._announce(record, [principal.user_id, other])
        await self._presence.introduce([principal.user_id, other], [])
        return record, True

    async def create_group(
        self, principal: Principal, name: str, member_ids: list[uuid.UUID]
    ) -> ConversationRecord:
        others = set(member_ids) - {principal.user_id}
        if len(others) + 1 > MAX_GROUP_MEMBERS:
            raise ValidationFailed(
                f"groups are limited to {MAX_GROUP_MEMBERS} members", field="member_ids"
            )
        now = self._clock.now_ms()
        record = ConversationRecord(
            uuid.uuid4(),
            "group",
            clean_name(name),
            None,
            principal.user_id,
            now,
            0,
            len(others) + 1,
        )
        async with self._storage.write() as tx:
            await _require_users(tx, others)
            await tx.conversations.create(record)
            await tx.members.add(MemberRecord(record.id, principal.user_id, "admin", now, 0))
            for user_id in sorted(others):
                await tx.members.add(MemberRecord(record.id, user_id, "member", now, 0))
        await self._announce(record, [principal.user_id, *others])
        await self._presence.introduce([principal.user_id, *others], [])
        return record

    async def add_member(
        self, principal: Principal, conversation_id: uuid.UUID, user_id: uuid.UUID
    ) -> bool:
        async with self._storage.write() as tx:
            conv = await access.access_group_admin(tx, principal.user_id, conversation_id)
            await _require_users(tx, {user_id})
            if conv.member_count >= MAX_GROUP_MEMBERS:
                raise ValidationFailed(
                    f"groups are limited to {MAX_GROUP_MEMBERS} members", field="user_id"
                )
            added = await tx.members.add(
                MemberRecord(conv.id, user_id, "member", self._clock.now_ms(), conv.last_seq)
            )
            if added:
                conv = await tx.conversations.add_member_count(conv.id, 1)
            recipients = await tx.members.user_ids(conv.id)
        if added:
            await self._announce(conv, [user_id])
            await self._events.publish(member_event("member.joined", conv.id, user_id, recipients))
            await self._presence.introduce([user_id], recipients)
        return added

    async def remove_member(
        self, principal: Principal, conversation_id: uuid.UUID, user_id: uuid.UUID
    ) -> None:
        """An admin removes someone, or anyone removes themself (leaving)."""
        async with self._storage.write() as tx:
            if user_id == principal.user_id:
                conv, member = await access.access_leave(tx, principal.user_id, conversation_id)
                if member.role == "admin" and await tx.members.count_admins(conv.id) == 1:
                    await self._promote_successor(tx, conv.id, principal.user_id)
            else:
                conv = await access.access_group_admin(tx, principal.user_id, conversation_id)
            recipients = await tx.members.user_ids(conv.id)
            if not await tx.members.remove(conv.id, user_id):
                raise NotFound("not a member of this group", field="user_id")
            await tx.conversations.add_member_count(conv.id, -1)
        await self._events.publish(member_event("member.left", conv.id, user_id, recipients))

    async def _promote_successor(
        self, tx: Repos, conversation_id: uuid.UUID, leaving: uuid.UUID
    ) -> None:
        # The last admin leaving hands admin to the longest-standing member, so a group is
        # never left without anyone able to manage it.
        remaining = [m for m in await tx.members.page(conversation_id) if m.user_id != leaving]
        if not remaining:
            return
        successor = min(remaining, key=lambda m: (m.joined_at, str(m.user_id)))
        await tx.members.set_role(conversation_id, successor.user_id, "admin")

    async def _announce(self, conv: ConversationRecord, to: list[uuid.UUID]) -> None:
        await self._events.publish(
            Event(
                type="conversation.updated",
                payload={"conversation": conversation_view(conv)},
                recipients=frozenset(to),
                conversation_id=conv.id,
            )
        )
