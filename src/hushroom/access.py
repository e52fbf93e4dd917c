"""Every permission check (conversations, devices), shared by HTTP routes and the WebSocket
gateway.

One condition per line, so coverage shows every branch is exercised (Zulip's access_* functions).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from typing import Any

from hushroom.crypto.device import DeviceCertificate
from hushroom.errors import (
    AccountDisabled,
    DeviceNotCertified,
    Forbidden,
    NotAMember,
    NotARequest,
    NotFound,
    OriginForbidden,
    UserBlocked,
    ValidationFailed,
)
from hushroom.principal import Principal
from hushroom.storage.accounts import DeviceRecord, UserRecord
from hushroom.storage.conversations import ConversationRecord, MemberRecord
from hushroom.storage.unit import Repos


async def _load(
    tx: Repos, user_id: uuid.UUID, conversation_id: uuid.UUID
) -> tuple[ConversationRecord, MemberRecord | None]:
    conv, member = await tx.conversations.get_with_member(conversation_id, user_id)
    if conv is None:
        raise NotFound("no such conversation", field="conversation_id")
    return conv, member


async def access_read(
    tx: Repos, user_id: uuid.UUID, conversation_id: uuid.UUID
) -> tuple[ConversationRecord, MemberRecord | None]:
    """History and member lists: any member; public rooms are also readable before joining."""
    conv, member = await _load(tx, user_id, conversation_id)
    if member is None and conv.is_private:
        raise NotAMember()
    return conv, member


async def access_member(
    tx: Repos, user_id: uuid.UUID, conversation_id: uuid.UUID
) -> tuple[ConversationRecord, MemberRecord]:
    """Sending, typing, read receipts, leaving: members only."""
    conv, member = await tx.conversations.get_with_member(conversation_id, user_id)
    conv = require_member(conv, member is not None)
    assert member is not None  # checked by require_member
    return conv, member


def require_member(conv: ConversationRecord | None, is_member: bool) -> ConversationRecord:
    """`access_member` over rows already loaded (batched sends load many at once)."""
    if conv is None:
        raise NotFound("no such conversation", field="conversation_id")
    if not is_member:
        raise NotAMember()
    return conv


def check_payload_kind(conv: ConversationRecord, *, has_body: bool, has_envelope: bool) -> None:
    """Public rooms take plaintext bodies; private conversations take envelopes and nothing else."""
    if conv.is_private and not has_envelope:
        raise ValidationFailed(
            "private conversations accept encrypted envelopes only", field="envelope"
        )
    if not conv.is_private and not has_body:
        raise ValidationFailed("public rooms accept a text body", field="body")


def require_certified(certified: bool) -> None:
    """Sending an envelope, uploading a key set, signing membership: a certified, live device
    (recipients verify every signature under a device certificate, so an uncertified device's
    output would be unreadable)."""
    if not certified:
        raise DeviceNotCertified()


def require_certificate(certificate: DeviceCertificate | None) -> DeviceCertificate:
    """`require_certified` for a certificate loaded and verified under the stored identity key."""
    require_certified(certificate is not None)
    assert certificate is not None  # checked above
    return certificate


async def access_key_sets(
    tx: Repos, user_id: uuid.UUID, conversation_id: uuid.UUID
) -> tuple[ConversationRecord, MemberRecord]:
    """Key sets (upload and fetch): members of a private conversation; public rooms have none."""
    conv, member = await _load(tx, user_id, conversation_id)
    if not conv.is_private:
        raise ValidationFailed("public rooms have no key sets", field="conversation_id")
    if member is None:
        raise NotAMember()
    return conv, member


async def access_membership_log(
    tx: Repos, user_id: uuid.UUID, conversation_id: uuid.UUID
) -> ConversationRecord:
    """Reading a group's membership log: its members (DMs and rooms have no log)."""
    conv, member = await _load(tx, user_id, conversation_id)
    if member is None and conv.is_private:
        raise NotAMember()
    if conv.kind != "group":
        raise ValidationFailed("only private groups have a membership log", field="conversation_id")
    return conv


async def access_room(tx: Repos, conversation_id: uuid.UUID) -> ConversationRecord:
    """Joining: the conversation must be a public room."""
    conv = await tx.conversations.get(conversation_id)
    if conv is None:
        raise NotFound("no such room", field="room_id")
    if conv.kind != "room":
        raise NotFound("no such room", field="room_id")
    return conv


async def access_group_admin(
    tx: Repos, user_id: uuid.UUID, conversation_id: uuid.UUID
) -> ConversationRecord:
    """Renaming a private group: its admins only."""
    conv, member = await access_member(tx, user_id, conversation_id)
    if conv.kind != "group":
        raise Forbidden("only private groups have managed membership")
    if member.role != "admin":
        raise Forbidden("only group admins can change the group")
    return conv


async def access_leave(
    tx: Repos, user_id: uuid.UUID, conversation_id: uuid.UUID
) -> tuple[ConversationRecord, MemberRecord]:
    """Appending to a private group's membership log: any member (the signed entry's rights —
    admins add, remove and change roles; anyone leaves — are checked by the log's rules, which
    clients check too). DMs and rooms have their own ways in and out."""
    conv, member = await access_member(tx, user_id, conversation_id)
    if conv.kind != "group":
        raise Forbidden("only private groups have a membership log")
    return conv, member


async def access_request(
    tx: Repos, user_id: uuid.UUID, conversation_id: uuid.UUID
) -> tuple[ConversationRecord, MemberRecord]:
    """Declining: a member whose membership is still a request (docs/decisions/0006)."""
    conv, member = await access_member(tx, user_id, conversation_id)
    if member.accepted:
        raise NotARequest(field="conversation_id")
    return conv, member


async def access_dm(
    tx: Repos, user_id: uuid.UUID, conversation_id: uuid.UUID
) -> tuple[ConversationRecord, MemberRecord]:
    """Leaving a direct message: its members (groups leave through their membership log)."""
    conv, member = await access_member(tx, user_id, conversation_id)
    if conv.kind != "dm":
        raise Forbidden("only direct messages can be left this way", field="conversation_id")
    return conv, member


def require_other_user(user_id: uuid.UUID, other: uuid.UUID) -> None:
    """Blocking: someone else (a user cannot block themself)."""
    if user_id == other:
        raise ValidationFailed("you cannot block yourself", field="user_id")


def require_not_blocking(blocking: bool) -> None:
    """Opening a DM: not with someone the caller blocks (their answers would never arrive)."""
    if blocking:
        raise UserBlocked(field="user_id")


def admit(is_contact: bool, blocks_inviter: bool) -> tuple[bool, bool]:
    """`(accepted, hidden)` of a membership someone else makes for a user (a DM opened with
    them, a group they are put in). A request from someone they block is ignored from the start
    (silent, and the inviter is not told); someone who already shares an accepted private
    conversation with the inviter is no stranger and needs no request; anyone else gets one."""
    if blocks_inviter:
        return False, True
    if is_contact:
        return True, False
    return False, False


def receipts_visible(viewer: uuid.UUID, member: MemberRecord, blocked: bool) -> bool:
    """Whether `viewer` may see `member`'s read position: their own always; someone else's
    only once that member accepted, and never across a block either way."""
    if member.user_id == viewer:
        return True
    if not member.accepted:
        return False
    return not blocked


def require_own_device(device: DeviceRecord | None, user_id: uuid.UUID) -> DeviceRecord:
    """Renaming, revoking: a device of the caller's account (others' look absent)."""
    if device is None:
        raise NotFound("no such device", field="device_id")
    if device.user_id != user_id:
        raise NotFound("no such device", field="device_id")
    return device


def require_other_live_device(device: DeviceRecord, principal: Principal) -> DeviceRecord:
    """Revoking: another device of the account, still live (this one logs out instead)."""
    if device.id == principal.device_id:
        raise ValidationFailed("sign out instead of revoking this device", field="device_id")
    if device.revoked_at is not None:
        raise NotFound("this device is already revoked", field="device_id")
    return device


def require_calling_device(device_id: uuid.UUID, principal: Principal) -> None:
    """Certifying: a device certifies itself only (its key never leaves it)."""
    if device_id != principal.device_id:
        raise Forbidden("a device can only certify itself", field="device_id")


async def require_server_admin(tx: Repos, principal: Principal) -> UserRecord:
    """Moderation: a server admin, read in the caller's transaction, so a demoted or disabled
    admin loses the right at once (not when their access token expires)."""
    user = await tx.users.get(principal.user_id)
    if user is None:
        raise Forbidden("only server admins can moderate")
    if not user.is_admin:
        raise Forbidden("only server admins can moderate")
    if user.disabled_at is not None:
        raise Forbidden("only server admins can moderate")
    return user


def require_enabled(user: UserRecord) -> UserRecord:
    """Logging in, refreshing: an account no server admin has disabled."""
    if user.disabled_at is not None:
        raise AccountDisabled()
    return user


def require_moderatable(conv: ConversationRecord | None) -> ConversationRecord:
    """Removing a message, deleting a room: public rooms only. The server cannot read private
    conversations and does not moderate them (their members leave or block instead)."""
    if conv is None:
        raise NotFound("no such room", field="room_id")
    if conv.is_private:
        raise Forbidden(
            "private conversations are end-to-end encrypted: the server does not moderate them"
        )
    return conv


def require_other_account(admin: UserRecord, user_id: uuid.UUID) -> None:
    """Disabling: another account (an admin who disabled themself would lock themself out)."""
    if admin.id == user_id:
        raise ValidationFailed("you cannot disable your own account", field="user_id")


def _header(scope: Mapping[str, Any], name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def origin_allowed(scope: Mapping[str, Any], allowed: Collection[str]) -> bool:
    """WebSocket handshakes and cookie-authenticated requests: browsers always send Origin, and
    it must be one of ours. Non-browser clients (SDK, bots) send none and authenticate with
    something a page of another origin cannot make the browser send (a ticket, a token)."""
    # Read from the scope: Starlette's `headers` and `url` would stay cached on a socket.
    origin = _header(scope, b"origin")
    if origin is None:
        return True
    if origin in allowed:
        return True
    # The server's own origin (whatever host name it is reached by) is always allowed.
    host = _header(scope, b"host")
    scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
    return host is not None and origin == f"{scheme}://{host}"


def require_origin(scope: Mapping[str, Any], allowed: Collection[str]) -> None:
    if not origin_allowed(scope, allowed):
        raise OriginForbidden()
