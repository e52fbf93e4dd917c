"""Every permission check (conversations, devices), shared by HTTP routes and the WebSocket
gateway.

One condition per line, so coverage shows every branch is exercised (Zulip's access_* functions).
"""

from __future__ import annotations

import uuid

from hushroom.errors import Forbidden, NotAMember, NotFound, ValidationFailed
from hushroom.principal import Principal
from hushroom.storage.accounts import DeviceRecord
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
    """Adding and removing members of a private group: its admins only."""
    conv, member = await access_member(tx, user_id, conversation_id)
    if conv.kind != "group":
        raise Forbidden("only private groups have managed membership")
    if member.role != "admin":
        raise Forbidden("only group admins can change membership")
    return conv


async def access_leave(
    tx: Repos, user_id: uuid.UUID, conversation_id: uuid.UUID
) -> tuple[ConversationRecord, MemberRecord]:
    """Leaving a private group: any member (DMs and rooms have their own ways out)."""
    conv, member = await access_member(tx, user_id, conversation_id)
    if conv.kind != "group":
        raise Forbidden("only private groups can be left this way")
    return conv, member


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
