"""Consent and blocking (docs/decisions/0006): a DM or group started by a stranger arrives as a
request; until the user accepts it, their presence, typing and read receipts stay theirs. Users
hide conversations, leave DMs and block people; the blocked user is never told.

The admission rule itself (who is accepted, who is silently ignored) is `access.admit`;
`admissions` applies it to the people an inviter is adding, for every place that inserts a
membership on someone else's behalf (opening a DM, creating a group, adding to one).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass

from hushroom import access
from hushroom.clock import Clock
from hushroom.errors import NotFound
from hushroom.events.publisher import EventPublisher
from hushroom.principal import Principal
from hushroom.services.presence import PresenceService
from hushroom.services.rooms import member_event
from hushroom.storage.conversations import BlockRecord, MemberRecord, Role
from hushroom.storage.unit import Repos, Storage


def dm_pair(a: uuid.UUID, b: uuid.UUID) -> str:
    """The key that makes a DM unique per pair of users."""
    lo, hi = sorted((str(a), str(b)))
    return f"{lo}:{hi}"


@dataclass(frozen=True, slots=True)
class Admission:
    accepted: bool
    hidden: bool

    @property
    def silent(self) -> bool:
        return not self.accepted and self.hidden


async def admissions(
    tx: Repos, inviter: uuid.UUID, invitees: Collection[uuid.UUID]
) -> dict[uuid.UUID, Admission]:
    """How each invitee enters a private conversation the inviter puts them in (two queries for
    any number of invitees). Call it before inserting the new memberships: a conversation being
    created must not make its own members contacts."""
    others = set(invitees) - {inviter}
    contacts = await tx.members.contacts_among(inviter, others)
    blockers = await tx.blocks.blockers_of(inviter, others)
    found = {u: Admission(*access.admit(u in contacts, u in blockers)) for u in others}
    if inviter in invitees:
        found[inviter] = Admission(True, False)
    return found


def member_record(
    conversation_id: uuid.UUID,
    user_id: uuid.UUID,
    role: Role,
    joined_at: int,
    last_read_seq: int,
    admission: Admission,
) -> MemberRecord:
    return MemberRecord(
        conversation_id,
        user_id,
        role,
        joined_at,
        last_read_seq,
        accepted=admission.accepted,
        hidden=admission.hidden,
    )


class ConsentService:
    def __init__(
        self, storage: Storage, events: EventPublisher, clock: Clock, presence: PresenceService
    ) -> None:
        self._storage = storage
        self._events = events
        self._clock = clock
        self._presence = presence

    async def accept(self, principal: Principal, conversation_id: uuid.UUID) -> None:
        """Accept a request (or show a hidden conversation again): presence now flows between
        the caller and the conversation's other accepted members."""
        async with self._storage.write() as tx:
            conv, member = await access.access_member(tx, principal.user_id, conversation_id)
            await tx.members.set_consent(conv.id, principal.user_id, accepted=True, hidden=False)
            peers = (
                [m.user_id for m in await tx.members.page(conv.id) if m.accepted]
                if not member.accepted
                else []
            )
        if peers:
            await self._presence.introduce([principal.user_id], peers)

    async def decline(self, principal: Principal, conversation_id: uuid.UUID) -> None:
        """Decline a request. A DM: the caller leaves it. A group: the request is ignored (hidden
        and silent); leaving a group's member list takes a signed `leave` entry in its
        membership log, which only the client can make."""
        async with self._storage.write() as tx:
            conv, _member = await access.access_request(tx, principal.user_id, conversation_id)
            if conv.kind != "dm":
                await tx.members.set_consent(conv.id, principal.user_id, hidden=True)
                return
            recipients = await self._remove(tx, conv.id, principal.user_id)
        await self._events.publish(
            member_event("member.left", conv.id, principal.user_id, recipients)
        )

    async def leave_dm(self, principal: Principal, conversation_id: uuid.UUID) -> None:
        """Leave a DM: the partner sees `member.left`. Opening the DM again (either of them)
        brings the leaver back, as a request unless the two share another conversation."""
        async with self._storage.write() as tx:
            conv, _member = await access.access_dm(tx, principal.user_id, conversation_id)
            recipients = await self._remove(tx, conv.id, principal.user_id)
        await self._events.publish(
            member_event("member.left", conv.id, principal.user_id, recipients)
        )

    async def _remove(
        self, tx: Repos, conversation_id: uuid.UUID, user_id: uuid.UUID
    ) -> list[uuid.UUID]:
        # Told: everyone listening before the change, the leaver's other devices included.
        recipients = await tx.members.listeners(conversation_id)
        await tx.members.remove(conversation_id, user_id)
        await tx.conversations.add_member_count(conversation_id, -1)
        # Who left must not read what comes next: the next sender makes a new key generation.
        await tx.conversations.mark_keys_stale(conversation_id)
        return recipients

    async def set_hidden(
        self, principal: Principal, conversation_id: uuid.UUID, hidden: bool
    ) -> None:
        """Hide a conversation from the caller's list, or show it again. A hidden request is an
        ignored one: nothing about it is pushed to the caller until they show or accept it."""
        async with self._storage.write() as tx:
            conv, _member = await access.access_member(tx, principal.user_id, conversation_id)
            await tx.members.set_consent(conv.id, principal.user_id, hidden=hidden)

    async def blocks(self, principal: Principal) -> list[BlockRecord]:
        async with self._storage.read() as tx:
            return await tx.blocks.of_user(principal.user_id)

    async def block(self, principal: Principal, other: uuid.UUID) -> None:
        """Block `other` (idempotent). Their DM with the caller becomes an ignored request on
        the caller's side (their messages and signals stop reaching the caller) and presence
        stops both ways. Nothing is sent to them that a user going offline would not send."""
        me = principal.user_id
        access.require_other_user(me, other)
        async with self._storage.write() as tx:
            if not await tx.users.exists(other):
                raise NotFound("no such user", field="user_id")
            # Asked before the block exists: whether each was seeing the other until now.
            was_sharing = await tx.members.shares_presence(me, other)
            added = await tx.blocks.add(BlockRecord(me, other, self._clock.now_ms()))
            if added:
                await self._silence_dm(tx, me, other)
        if added and was_sharing:
            await self._presence.withdraw([(other, me), (me, other)])

    async def _silence_dm(self, tx: Repos, me: uuid.UUID, other: uuid.UUID) -> None:
        dm = await tx.conversations.get_dm(dm_pair(me, other))
        if dm is not None:
            await tx.members.set_consent(dm.id, me, accepted=False, hidden=True)

    async def unblock(self, principal: Principal, other: uuid.UUID) -> None:
        """Unblock `other` (idempotent). Their DM comes back to the caller's list as a request
        (accepting it is the caller's choice again); presence flows again wherever it would."""
        me = principal.user_id
        async with self._storage.write() as tx:
            removed = await tx.blocks.remove(me, other)
            if removed:
                dm = await tx.conversations.get_dm(dm_pair(me, other))
                if dm is not None:
                    await tx.members.set_consent(dm.id, me, hidden=False)
            sharing = removed and await tx.members.shares_presence(me, other)
        if sharing:
            await self._presence.introduce([me, other], [])
