"""Private groups: membership as a signed, hash-chained log (docs/crypto.md §8.6, decision 0005).

Every change — `create`, `add`, `remove`, `leave`, `role` — is an entry signed by the caller's own
certified device. The server checks the entry as a client would (signature under the stored
device certificate, chain, rights), appends it and applies it to the member table in the same
transaction, so the table always equals the state the log replays to. The state the next entry is
checked against is rebuilt from the member table plus the conversation's log index and head.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from hushroom import access
from hushroom.clock import Clock
from hushroom.crypto.device import DeviceCertificate
from hushroom.crypto.errors import CryptoError, Malformed, NotAuthorized
from hushroom.crypto.membership import (
    CREATE,
    GENESIS_HEAD,
    MembershipEntry,
    MembershipState,
    decode_membership_entry,
)
from hushroom.errors import (
    Conflict,
    Forbidden,
    InvalidKeyMaterial,
    MembershipConflict,
    PayloadTooLarge,
    ValidationFailed,
    WriteConflict,
)
from hushroom.events.event import Event
from hushroom.events.publisher import EventPublisher
from hushroom.principal import Principal
from hushroom.services.consent import admissions, member_record
from hushroom.services.key_sets import device_certificate
from hushroom.services.presence import PresenceService
from hushroom.services.rooms import clean_name, member_event
from hushroom.services.views import conversation_view
from hushroom.storage.conversations import (
    ConversationRecord,
    MemberRecord,
    MembershipLogRecord,
    Role,
)
from hushroom.storage.unit import Repos, Storage

MAX_GROUP_MEMBERS = 256
MAX_ENTRY_BYTES = 256 * 1024
MAX_LOG_PAGE = 1000


@dataclass(frozen=True, slots=True)
class LogPage:
    entries: list[MembershipLogRecord]
    head_index: int


@dataclass(frozen=True, slots=True)
class _Applied:
    conversation: ConversationRecord
    added: dict[uuid.UUID, bool]  # user id → silent (their admission hides the group from them)
    removed: list[uuid.UUID]
    listeners_before: list[uuid.UUID]
    listeners_after: list[uuid.UUID]
    peers: list[uuid.UUID]  # accepted members after the change (presence audience)
    accepted: set[uuid.UUID]


def _decoded(entry: bytes, principal: Principal) -> MembershipEntry:
    """Decode an entry and check it is signed by the calling device (a member signs with their
    own device; nobody uploads an entry someone else signed)."""
    if len(entry) > MAX_ENTRY_BYTES:
        raise PayloadTooLarge("the membership entry is too large", field="entry")
    try:
        parsed = decode_membership_entry(entry)
    except CryptoError as exc:
        raise InvalidKeyMaterial(f"entry: {exc}", field="entry") from None
    if (parsed.signer_user_id, parsed.signer_device_id) != (
        str(principal.user_id),
        str(principal.device_id),
    ):
        raise Forbidden("sign membership entries with this device", field="entry")
    return parsed


def _apply(
    state: MembershipState, entry: bytes, certificate: DeviceCertificate
) -> tuple[MembershipState, MembershipEntry]:
    """`state.apply` with the caller's certificate as the only signer, its errors as ours."""

    def own(user_id: str, device_id: str) -> DeviceCertificate | None:
        if (user_id, device_id) == (certificate.user_id, certificate.device_id):
            return certificate
        return None

    try:
        return state.apply(entry, own)
    except NotAuthorized as exc:
        raise Forbidden(str(exc), field="entry") from None
    except Malformed as exc:
        # Decoding succeeded before, so this is a rule of the log (e.g. the last admin leaving
        # without naming a successor, adding someone who is a member already).
        raise ValidationFailed(f"entry: {exc}", field="entry") from None
    except CryptoError as exc:
        raise InvalidKeyMaterial(f"entry: {exc}", field="entry") from None


def _user_ids(state: MembershipState) -> dict[uuid.UUID, Role]:
    roles: dict[uuid.UUID, Role] = {}
    for user_id, role in state.members.items():
        try:
            uid = uuid.UUID(user_id)
        except ValueError:
            raise ValidationFailed("member ids are user ids", field="entry") from None
        if str(uid) != user_id:
            raise ValidationFailed("member ids are canonical user ids", field="entry")
        roles[uid] = "admin" if role == "admin" else "member"
    if len(roles) > MAX_GROUP_MEMBERS:
        raise ValidationFailed(f"groups are limited to {MAX_GROUP_MEMBERS} members", field="entry")
    return roles


def _state(conv: ConversationRecord, members: list[MemberRecord]) -> MembershipState:
    return MembershipState(
        str(conv.id),
        conv.log_index,
        conv.log_head if conv.log_head is not None else GENESIS_HEAD,
        {str(m.user_id): m.role for m in members},
    )


async def _require_users(tx: Repos, user_ids: Mapping[uuid.UUID, Role]) -> None:
    for user_id in sorted(user_ids):
        if not await tx.users.exists(user_id):
            raise ValidationFailed("the entry names a user who does not exist", field="entry")


class MembershipService:
    def __init__(
        self, storage: Storage, events: EventPublisher, clock: Clock, presence: PresenceService
    ) -> None:
        self._storage = storage
        self._events = events
        self._clock = clock
        self._presence = presence

    async def create_group(
        self, principal: Principal, conversation_id: uuid.UUID, name: str, entry: bytes
    ) -> ConversationRecord:
        """A new group from its signed `create` entry (log index 0): the caller's device signed
        it, the caller is an admin in it, every member exists, at most 256 members."""
        parsed = _decoded(entry, principal)
        if parsed.action != CREATE:
            raise ValidationFailed("a group starts with a create entry", field="entry")
        if parsed.conversation_id != str(conversation_id):
            raise ValidationFailed("the entry is for another conversation", field="entry")
        now = self._clock.now_ms()
        me = principal.user_id
        try:
            async with self._storage.write() as tx:
                certificate = access.require_certificate(
                    await device_certificate(tx, me, principal.device_id)
                )
                state, parsed = _apply(
                    MembershipState.empty(str(conversation_id)), entry, certificate
                )
                roles = _user_ids(state)
                others = {u: r for u, r in roles.items() if u != me}
                await _require_users(tx, others)
                if await tx.conversations.get(conversation_id) is not None:
                    raise Conflict("this conversation id is taken", field="conversation_id")
                # Strangers get a request; people who block the creator are added silently.
                admitted = await admissions(tx, me, others)
                record = ConversationRecord(
                    conversation_id, "group", clean_name(name), None, me, now, 0, len(roles)
                )
                await tx.conversations.create(record)
                await tx.members.add(MemberRecord(record.id, me, roles[me], now, 0))
                for user_id, role in sorted(others.items()):
                    await tx.members.add(
                        member_record(record.id, user_id, role, now, 0, admitted[user_id])
                    )
                await tx.membership_log.append(
                    MembershipLogRecord(record.id, 0, entry, parsed.hash, now)
                )
                await tx.conversations.set_log_head(record.id, 0, parsed.hash, stale=False)
                record = await tx.conversations.get(record.id) or record
        except WriteConflict:
            # Another create with the same id committed first.
            raise Conflict("this conversation id is taken", field="conversation_id") from None
        await self._announce(record, [me, *(u for u in others if not admitted[u].silent)])
        await self._presence.introduce([me, *(u for u in others if admitted[u].accepted)], [])
        return record

    async def append(self, principal: Principal, conversation_id: uuid.UUID, entry: bytes) -> int:
        """Append the next signed entry (add, remove, leave, role) and apply it to the members;
        returns its index. An entry built on an older head is `membership_conflict`."""
        parsed = _decoded(entry, principal)
        if parsed.conversation_id != str(conversation_id):
            raise ValidationFailed("the entry is for another conversation", field="entry")
        try:
            applied = await self._append(principal, conversation_id, entry, parsed)
        except WriteConflict:
            # Another entry took this index first (the row lock makes this rare).
            raise MembershipConflict(field="entry") from None
        await self._publish(applied)
        return parsed.index

    async def _append(
        self,
        principal: Principal,
        conversation_id: uuid.UUID,
        entry: bytes,
        parsed: MembershipEntry,
    ) -> _Applied:
        now = self._clock.now_ms()
        async with self._storage.write() as tx:
            await access.access_leave(tx, principal.user_id, conversation_id)
            # Locked: entries of one group are appended one at a time (PostgreSQL; SQLite
            # serialises every write).
            conv = await tx.conversations.lock(conversation_id)
            assert conv is not None  # checked by access_leave in this transaction
            head = conv.log_head if conv.log_head is not None else GENESIS_HEAD
            # Before any signature check: a racing client learns to rebuild on the new head.
            if parsed.index != conv.log_index + 1 or parsed.previous != head:
                raise MembershipConflict(field="entry", extra={"head_index": conv.log_index})
            certificate = access.require_certificate(
                await device_certificate(tx, principal.user_id, principal.device_id)
            )
            before = await tx.members.page(conv.id)
            state, parsed = _apply(_state(conv, before), entry, certificate)
            roles = _user_ids(state)
            old = {m.user_id: m for m in before}
            added = {u: r for u, r in roles.items() if u not in old}
            removed = sorted(u for u in old if u not in roles)
            await _require_users(tx, added)
            listeners_before = await tx.members.listeners(conv.id)
            admitted = await admissions(tx, principal.user_id, added)
            for user_id, role in sorted(added.items()):
                await tx.members.add(
                    member_record(conv.id, user_id, role, now, conv.last_seq, admitted[user_id])
                )
            for user_id in removed:
                await tx.members.remove(conv.id, user_id)
            for user_id, role in roles.items():
                if user_id in old and old[user_id].role != role:
                    await tx.members.set_role(conv.id, user_id, role)
            await tx.membership_log.append(
                MembershipLogRecord(conv.id, parsed.index, entry, parsed.hash, now)
            )
            # Who joined holds no key and who left must not read on: a new generation is due.
            await tx.conversations.set_log_head(
                conv.id, parsed.index, parsed.hash, stale=bool(added or removed)
            )
            if added or removed:
                conv = await tx.conversations.add_member_count(conv.id, len(added) - len(removed))
            listeners_after = await tx.members.listeners(conv.id)
            after = await tx.members.page(conv.id)
        return _Applied(
            conversation=conv,
            added={u: admitted[u].silent for u in added},
            removed=removed,
            listeners_before=listeners_before,
            listeners_after=listeners_after,
            peers=[m.user_id for m in after if m.accepted],
            accepted={u for u in added if admitted[u].accepted},
        )

    async def _publish(self, applied: _Applied) -> None:
        conv = applied.conversation
        for user_id, silent in sorted(applied.added.items()):
            if not silent:
                await self._announce(conv, [user_id])
            await self._events.publish(
                member_event("member.joined", conv.id, user_id, applied.listeners_after)
            )
            if user_id in applied.accepted:
                await self._presence.introduce([user_id], applied.peers)
        for user_id in applied.removed:
            await self._events.publish(
                member_event("member.left", conv.id, user_id, applied.listeners_before)
            )

    async def log(
        self, principal: Principal, conversation_id: uuid.UUID, after: int, limit: int
    ) -> LogPage:
        """Entries after index `after` (members only) and the head's index."""
        async with self._storage.read() as tx:
            conv = await access.access_membership_log(tx, principal.user_id, conversation_id)
            entries = await tx.membership_log.page(
                conv.id, max(-1, after), max(1, min(limit, MAX_LOG_PAGE))
            )
        return LogPage(entries, conv.log_index)

    async def rename(
        self, principal: Principal, conversation_id: uuid.UUID, name: str
    ) -> ConversationRecord:
        """Rename a group (admins). The name is not part of the signed log."""
        async with self._storage.write() as tx:
            conv = await access.access_group_admin(tx, principal.user_id, conversation_id)
            conv = await tx.conversations.set_name(conv.id, clean_name(name))
            recipients = await tx.members.listeners(conv.id)
        await self._announce(conv, recipients)
        return conv

    async def _announce(self, conv: ConversationRecord, to: list[uuid.UUID]) -> None:
        await self._events.publish(
            Event(
                type="conversation.updated",
                payload={"conversation": conversation_view(conv)},
                recipients=frozenset(to),
                conversation_id=conv.id,
            )
        )
