"""Conversations as a member sees them (list with unread counts, members), and private ones:
direct messages (one per pair, created by the first sender). Private groups are made and
changed through their signed membership log (services/membership.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace

from hushroom import access
from hushroom.clock import Clock
from hushroom.errors import NotFound, ValidationFailed
from hushroom.events.event import Event
from hushroom.events.publisher import EventPublisher
from hushroom.principal import Principal
from hushroom.services.consent import admissions, dm_pair, member_record
from hushroom.services.presence import PresenceService
from hushroom.services.rooms import member_event
from hushroom.services.views import conversation_view
from hushroom.storage.conversations import ConversationRecord, MemberRecord
from hushroom.storage.unit import Repos, Storage


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    conversation: ConversationRecord
    membership: MemberRecord

    @property
    def unread(self) -> int:
        return max(0, self.conversation.last_seq - self.membership.last_read_seq)

    @property
    def request(self) -> bool:
        """The caller has not accepted this conversation yet (docs/decisions/0006)."""
        return not self.membership.accepted


__all__ = ["ConversationService", "ConversationSummary", "dm_pair"]


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

    async def list_for(
        self, principal: Principal, include_hidden: bool = False
    ) -> list[ConversationSummary]:
        async with self._storage.read() as tx:
            rows = await tx.conversations.for_user(principal.user_id)
        return [ConversationSummary(c, m) for c, m in rows if include_hidden or not m.hidden]

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
        me = principal.user_id
        async with self._storage.read() as tx:
            await access.access_read(tx, me, conversation_id)
            page = await tx.members.page(conversation_id, max(1, min(limit, 1000)), after)
            blocked = {u for pair in await tx.blocks.touching([me]) for u in pair}
        # Read positions are receipts: a member who has not accepted, or a block either way,
        # shows as having read nothing (docs/decisions/0006).
        return [
            m
            if access.receipts_visible(me, m, m.user_id in blocked)
            else replace(m, last_read_seq=0)
            for m in page
        ]

    async def open_dm(
        self, principal: Principal, other: uuid.UUID
    ) -> tuple[ConversationRecord, bool]:
        """The DM between the caller and `other`, created if it does not exist yet.

        `other` enters as `access.admit` decides (a stranger gets a request; someone who blocks
        the caller is added silently and never told, docs/decisions/0006). A member who left
        comes back the same way, the caller as accepted; opening a DM the caller was asked into
        answers the request."""
        me = principal.user_id
        if other == me:
            raise ValidationFailed("a direct message needs another user", field="user_id")
        pair = dm_pair(me, other)
        now = self._clock.now_ms()
        joined: list[uuid.UUID] = []
        answered = False
        async with self._storage.write() as tx:
            access.require_not_blocking(await tx.blocks.exists(me, other))
            # Also for an existing DM: its partner may have been deleted since.
            await _require_users(tx, {other})
            existing = await tx.conversations.get_dm(pair)
            admission = (await admissions(tx, me, [other]))[other]
            if existing is None:
                record = ConversationRecord(uuid.uuid4(), "dm", None, None, me, now, 0, 2)
                await tx.conversations.create(record, dm_pair=pair)
                await tx.members.add(MemberRecord(record.id, me, "member", now, 0))
                await tx.members.add(member_record(record.id, other, "member", now, 0, admission))
            else:
                record = existing
                mine = await tx.members.get(record.id, me)
                if mine is None:
                    await tx.members.add(
                        MemberRecord(record.id, me, "member", now, record.last_seq)
                    )
                    joined.append(me)
                elif mine.hidden or not mine.accepted:
                    answered = not mine.accepted
                    await tx.members.set_consent(record.id, me, accepted=True, hidden=False)
                if await tx.members.get(record.id, other) is None:
                    await tx.members.add(
                        member_record(record.id, other, "member", now, record.last_seq, admission)
                    )
                    joined.append(other)
                if joined:
                    record = await tx.conversations.add_member_count(record.id, len(joined))
                    # The keys were made for who was there: the next sender makes new ones.
                    await tx.conversations.mark_keys_stale(record.id)
            theirs = await tx.members.get(record.id, other)
            listeners = await tx.members.listeners(record.id)
        assert theirs is not None  # a member now, added above if they were not
        if existing is None:
            await self._announce(record, [u for u in (me, other) if u in listeners])
        for user_id in joined:
            if user_id in listeners:
                await self._announce(record, [user_id])
            await self._events.publish(member_event("member.joined", record.id, user_id, listeners))
        if theirs.accepted and (existing is None or joined or answered):
            await self._presence.introduce([me, other], [])
        return record, existing is None

    async def _announce(self, conv: ConversationRecord, to: list[uuid.UUID]) -> None:
        await self._events.publish(
            Event(
                type="conversation.updated",
                payload={"conversation": conversation_view(conv)},
                recipients=frozenset(to),
                conversation_id=conv.id,
            )
        )
