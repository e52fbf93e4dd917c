"""The signed, hash-chained membership log of a private group (docs/crypto.md §8.6).

Each entry is a statement signed by a member device (``create``, ``add``, ``remove``, ``leave``,
``role``) that names its index and the SHA-256 of the previous entry. Replaying the log from the
empty state gives the member set and roles; every entry is checked against the state before it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from types import MappingProxyType
from typing import Final

from hushroom.crypto.device import DeviceCertificate, DeviceKey
from hushroom.crypto.encoding import (
    check_ident,
    decode,
    decode_signed,
    encode,
    encode_signed,
)
from hushroom.crypto.errors import ContextMismatch, Malformed, NotAuthorized

MEMBERSHIP_LABEL: Final = "hushroom/v1/membership"
CHANGE_LABEL: Final = "hushroom/v1/membership-change"
MAX_CHANGES: Final = 1000
HASH_SIZE: Final = 32
GENESIS_HEAD: Final = bytes(HASH_SIZE)

ADMIN: Final = "admin"
MEMBER: Final = "member"
REMOVED: Final = "removed"
ROLES: Final = frozenset({ADMIN, MEMBER, REMOVED})

CREATE: Final = "create"
ADD: Final = "add"
REMOVE: Final = "remove"
LEAVE: Final = "leave"
ROLE: Final = "role"
ACTIONS: Final = frozenset({CREATE, ADD, REMOVE, LEAVE, ROLE})

CertificateLookup = Callable[[str, str], DeviceCertificate | None]


def membership_entry_hash(entry: bytes) -> bytes:
    """``SHA-256(entry)``: the ``previous`` of the next entry."""
    return hashlib.sha256(entry).digest()


@dataclass(frozen=True, slots=True)
class MembershipChange:
    """One user's new role (``admin``, ``member`` or ``removed``)."""

    user_id: str
    role: str

    def encode(self) -> bytes:
        return encode(CHANGE_LABEL, 1, [check_ident(self.user_id), self.role])


@dataclass(frozen=True, slots=True)
class MembershipEntry:
    """A decoded membership-log entry (verified if it came from :meth:`MembershipState.apply`)."""

    conversation_id: str
    index: int
    previous: bytes
    action: str
    signer_user_id: str
    signer_device_id: str
    created_at: int
    changes: tuple[MembershipChange, ...]
    encoded: bytes

    @property
    def hash(self) -> bytes:
        return membership_entry_hash(self.encoded)


def _decode(entry: bytes) -> tuple[MembershipEntry, bytes, bytes]:
    entry = bytes(entry)
    tbs, signature = decode_signed(entry)
    record = decode(tbs, MEMBERSHIP_LABEL, 1, 8)
    action = record.text(3)
    if action not in ACTIONS:
        raise Malformed("unknown membership action")
    changes: list[MembershipChange] = []
    for item in record.items(7):
        change = decode(item, CHANGE_LABEL, 1, 2)
        role = change.text(1)
        if role not in ROLES:
            raise Malformed("unknown membership role")
        changes.append(MembershipChange(change.ident(0), role))
    parsed = MembershipEntry(
        conversation_id=record.ident(0),
        index=record.integer(1),
        previous=record.fixed(2, HASH_SIZE),
        action=action,
        signer_user_id=record.ident(4),
        signer_device_id=record.ident(5),
        created_at=record.integer(6),
        changes=tuple(changes),
        encoded=entry,
    )
    return parsed, tbs, signature


def decode_membership_entry(entry: bytes) -> MembershipEntry:
    """Decode an entry's structure only (no signature, chain or rights check)."""
    return _decode(entry)[0]


def _check_changes(changes: Sequence[MembershipChange]) -> None:
    if not 1 <= len(changes) <= MAX_CHANGES:
        raise Malformed("an entry has 1..1000 changes")
    keys = [c.user_id.encode("utf-8") for c in changes]
    if any(a >= b for a, b in pairwise(keys)):
        raise Malformed("changes must be sorted by user id and unique")


@dataclass(frozen=True, slots=True)
class MembershipState:
    """Members and roles after the entry ``index`` (−1: the empty state); ``head`` is its hash."""

    conversation_id: str
    index: int
    head: bytes
    members: Mapping[str, str]

    def __post_init__(self) -> None:
        object.__setattr__(self, "members", MappingProxyType(dict(self.members)))

    @classmethod
    def empty(cls, conversation_id: str) -> MembershipState:
        return cls(check_ident(conversation_id), -1, GENESIS_HEAD, {})

    def admins(self) -> frozenset[str]:
        return frozenset(u for u, role in self.members.items() if role == ADMIN)

    def member_ids(self) -> frozenset[str]:
        return frozenset(self.members)

    def apply(
        self, entry: bytes, certificate_for: CertificateLookup
    ) -> tuple[MembershipState, MembershipEntry]:
        """Verify ``entry`` as the next entry of this state and return the new state.

        ``certificate_for(user_id, device_id)`` returns the signer's device certificate, already
        verified under the user's pinned identity key, or ``None`` if there is none.
        """
        parsed, tbs, signature = _decode(entry)
        certificate = certificate_for(parsed.signer_user_id, parsed.signer_device_id)
        if certificate is None:
            raise NotAuthorized("unknown signer device")
        if (certificate.user_id, certificate.device_id) != (
            parsed.signer_user_id,
            parsed.signer_device_id,
        ):
            raise ContextMismatch("entry signer differs from the device certificate")
        certificate.verify(tbs, signature)
        if parsed.conversation_id != self.conversation_id:
            raise ContextMismatch("entry is for another conversation")
        if parsed.index != self.index + 1:
            raise ContextMismatch("entry index does not follow the head")
        if parsed.previous != self.head:
            raise ContextMismatch("entry does not chain to the head")
        _check_changes(parsed.changes)
        members = _next_members(dict(self.members), parsed)
        state = MembershipState(self.conversation_id, parsed.index, parsed.hash, members)
        return state, parsed

    def __repr__(self) -> str:
        return (
            f"MembershipState(conversation_id={self.conversation_id!r}, index={self.index}, "
            f"head={self.head.hex()}, members={dict(self.members)!r})"
        )


def _next_members(members: dict[str, str], entry: MembershipEntry) -> dict[str, str]:
    """Rights and consistency rules of each action (§8.6 step 6); returns the new members."""
    signer = entry.signer_user_id
    changes = entry.changes
    if (entry.action == CREATE) != (entry.index == 0):
        raise Malformed("the log starts with create, and only there")
    is_admin = members.get(signer) == ADMIN
    if entry.action == CREATE:
        if any(c.role not in (ADMIN, MEMBER) for c in changes):
            raise Malformed("create lists admins and members only")
        if not any(c.user_id == signer and c.role == ADMIN for c in changes):
            raise NotAuthorized("the creator must list itself as an admin")
    elif entry.action == ADD:
        if not is_admin:
            raise NotAuthorized("only an admin adds members")
        for c in changes:
            if c.user_id in members or c.role not in (ADMIN, MEMBER):
                raise Malformed("add takes new users as admins or members")
    elif entry.action == REMOVE:
        if not is_admin:
            raise NotAuthorized("only an admin removes members")
        for c in changes:
            if c.user_id not in members or c.user_id == signer or c.role != REMOVED:
                raise Malformed("remove takes other current members to removed")
    elif entry.action == LEAVE:
        if signer not in members:
            raise NotAuthorized("only a member can leave")
        _check_leave(members, signer, is_admin, changes)
    else:  # ROLE
        if not is_admin:
            raise NotAuthorized("only an admin changes roles")
        for c in changes:
            current = members.get(c.user_id)
            if current is None or c.role not in (ADMIN, MEMBER) or c.role == current:
                raise Malformed("role changes a current member's role")
    for c in changes:
        if c.role == REMOVED:
            members.pop(c.user_id, None)
        else:
            members[c.user_id] = c.role
    if entry.action == ROLE and not any(role == ADMIN for role in members.values()):
        raise Malformed("at least one admin must remain")
    return members


def _check_leave(
    members: Mapping[str, str],
    signer: str,
    is_admin: bool,
    changes: Sequence[MembershipChange],
) -> None:
    own = [c for c in changes if c.user_id == signer]
    others = [c for c in changes if c.user_id != signer]
    if len(own) != 1 or own[0].role != REMOVED or len(others) > 1:
        raise Malformed("leave removes the signer and names at most one successor")
    if others:
        successor = others[0]
        if members.get(successor.user_id) != MEMBER or successor.role != ADMIN:
            raise Malformed("the successor must be a member who becomes an admin")
        if not is_admin:
            raise NotAuthorized("only an admin names a successor")
        return
    remaining = set(members) - {signer}
    other_admins = {u for u in remaining if members[u] == ADMIN}
    if is_admin and remaining and not other_admins:
        raise Malformed("the last admin must name a successor")


def sign_membership_entry(
    state: MembershipState,
    action: str,
    changes: Sequence[MembershipChange],
    device_key: DeviceKey,
    certificate: DeviceCertificate,
    created_at: int,
) -> bytes:
    """Sign the next entry after ``state`` (changes are sorted here).

    The result is checked by applying it to ``state``, so an entry that would be refused raises
    the same typed error here instead.
    """
    if device_key.public_key != certificate.public_key:
        raise ContextMismatch("device key does not match its certificate")
    ordered = sorted(changes, key=lambda c: c.user_id.encode("utf-8"))
    tbs = encode(
        MEMBERSHIP_LABEL,
        1,
        [
            state.conversation_id,
            state.index + 1,
            state.head,
            action,
            check_ident(certificate.user_id),
            check_ident(certificate.device_id),
            created_at,
            [c.encode() for c in ordered],
        ],
    )
    entry = encode_signed(tbs, device_key.sign(tbs))

    def own(user_id: str, device_id: str) -> DeviceCertificate | None:
        if (user_id, device_id) == (certificate.user_id, certificate.device_id):
            return certificate
        return None

    state.apply(entry, own)
    return entry


def verify_membership_log(
    conversation_id: str, entries: Sequence[bytes], certificate_for: CertificateLookup
) -> list[MembershipState]:
    """Replay a whole log from the empty state; ``states[i]`` is the state after entry ``i``."""
    state = MembershipState.empty(conversation_id)
    states: list[MembershipState] = []
    for entry in entries:
        state, _ = state.apply(entry, certificate_for)
        states.append(state)
    return states
