"""Moderation by server admins: remove a public-room message, delete a public room, disable and
enable accounts, and read the audit log.

Every method checks `access.require_server_admin` inside its own transaction, so a demoted admin
is refused at once. Every action writes one audit-log entry in the same transaction as the
change, so an action without a record cannot happen. Private conversations are never moderated:
the server cannot read them (docs/crypto.md).
"""

from __future__ import annotations

import uuid

from hushroom import access
from hushroom.clock import Clock
from hushroom.errors import NotFound, ValidationFailed
from hushroom.events.event import Event
from hushroom.events.publisher import EventPublisher
from hushroom.principal import Principal
from hushroom.services.account_input import normalize_email
from hushroom.services.sessions import SessionService, live_session
from hushroom.storage.accounts import UserRecord
from hushroom.storage.moderation import AuditEntry
from hushroom.storage.unit import Repos, Storage

MESSAGE_REMOVED = "message.removed"
CONVERSATION_REMOVED = "conversation.removed"
MAX_AUDIT_PAGE = 200


class ModerationService:
    def __init__(
        self, storage: Storage, events: EventPublisher, sessions: SessionService, clock: Clock
    ) -> None:
        self._storage = storage
        self._events = events
        self._sessions = sessions
        self._clock = clock

    def __repr__(self) -> str:
        return "ModerationService()"

    @staticmethod
    async def _admin(tx: Repos, principal: Principal) -> UserRecord:
        # A logged-out admin's access token is still valid for minutes: moderation wants the
        # session itself to be live, like the other sensitive routes.
        await live_session(tx, principal)
        return await access.require_server_admin(tx, principal)

    async def remove_message(self, principal: Principal, message_id: int) -> None:
        """Clear a public-room message's body. The row keeps its seq, so clients see no gap;
        members get `message.removed`. Removing it again changes nothing."""
        now = self._clock.now_ms()
        recipients: list[uuid.UUID] = []
        async with self._storage.write() as tx:
            await self._admin(tx, principal)
            message = await tx.messages.get(message_id)
            if message is None:
                raise NotFound("no such message", field="message_id")
            conv = access.require_moderatable(await tx.conversations.get(message.conversation_id))
            if await tx.messages.remove(message.id, principal.user_id, now):
                await tx.audit.append(
                    AuditEntry(
                        actor_user_id=principal.user_id,
                        action="message.remove",
                        target_kind="message",
                        target_id=str(message.id),
                        created_at=now,
                        detail={
                            "conversation_id": str(conv.id),
                            "seq": message.seq,
                            "sender_id": str(message.sender_id),
                        },
                    )
                )
                recipients = await tx.members.listeners(conv.id)
        if recipients:
            await self._events.publish(
                Event(
                    type=MESSAGE_REMOVED,
                    payload={
                        "conversation_id": str(message.conversation_id),
                        "seq": message.seq,
                        "message_id": message.id,
                    },
                    recipients=frozenset(recipients),
                    conversation_id=message.conversation_id,
                )
            )

    async def delete_room(self, principal: Principal, room_id: uuid.UUID) -> None:
        """Delete a public room with its messages and memberships; members get
        `conversation.removed`."""
        now = self._clock.now_ms()
        async with self._storage.write() as tx:
            await self._admin(tx, principal)
            # Locked: a send batch that reaches the room after us finds it gone, never half.
            room = access.require_moderatable(await tx.conversations.lock(room_id))
            recipients = await tx.members.user_ids(room.id)
            await tx.conversations.delete(room.id)
            await tx.audit.append(
                AuditEntry(
                    actor_user_id=principal.user_id,
                    action="room.delete",
                    target_kind="room",
                    target_id=str(room.id),
                    created_at=now,
                    detail={
                        "name": room.name,
                        "member_count": room.member_count,
                        "last_seq": room.last_seq,
                    },
                )
            )
        if recipients:
            await self._events.publish(
                Event(
                    type=CONVERSATION_REMOVED,
                    payload={"conversation_id": str(room.id)},
                    recipients=frozenset(recipients),
                    conversation_id=room.id,
                )
            )

    async def disable_account(self, principal: Principal, user_id: uuid.UUID) -> None:
        """Disable an account: every session ends at once (open sockets close) and login and
        refresh are refused from then on."""
        async with self._storage.write() as tx:
            admin = await self._admin(tx, principal)
            access.require_other_account(admin, user_id)
            revoked = await self._set_disabled(tx, principal.user_id, user_id, disabled=True)
        await self._sessions.publish_revoked(user_id, revoked, everywhere=True)

    async def enable_account(self, principal: Principal, user_id: uuid.UUID) -> None:
        """Let a disabled account log in again (its old sessions stay ended)."""
        async with self._storage.write() as tx:
            await self._admin(tx, principal)
            await self._set_disabled(tx, principal.user_id, user_id, disabled=False)

    async def set_disabled_by_operator(self, email: str, *, disabled: bool) -> bool:
        """The operator's `hushroom disable-account` / `enable-account` (a shell on the server
        is beyond any admin right): False when no user has that email. Audited with no actor."""
        async with self._storage.write() as tx:
            user = await tx.users.get_by_email(normalize_email(email))
            if user is None:
                return False
            revoked = await self._set_disabled(tx, None, user.id, disabled=disabled)
        if disabled:
            await self._sessions.publish_revoked(user.id, revoked, everywhere=True)
        return True

    async def _set_disabled(
        self, tx: Repos, actor: uuid.UUID | None, user_id: uuid.UUID, *, disabled: bool
    ) -> list[uuid.UUID]:
        """Change the account's state and record it; returns the sessions revoked now."""
        now = self._clock.now_ms()
        if not await tx.users.exists(user_id):
            raise NotFound("no such user", field="user_id")
        changed = await tx.users.set_disabled(user_id, now if disabled else None)
        # Revoked even when it was disabled already: a login that raced the first disable
        # may have made a session since.
        revoked = await tx.sessions.revoke_all(user_id, now) if disabled else []
        if changed:
            await tx.audit.append(
                AuditEntry(
                    actor_user_id=actor,
                    action="account.disable" if disabled else "account.enable",
                    target_kind="user",
                    target_id=str(user_id),
                    created_at=now,
                    detail={"sessions_revoked": len(revoked)} if disabled else None,
                )
            )
        return revoked

    async def audit_log(
        self, principal: Principal, before: int | None = None, limit: int = 50
    ) -> list[AuditEntry]:
        """Entries newest first; `before` is the id of the last entry of the previous page."""
        if before is not None and before < 1:
            raise ValidationFailed("before must be an entry id", field="before")
        limit = max(1, min(limit, MAX_AUDIT_PAGE))
        async with self._storage.read() as tx:
            await self._admin(tx, principal)
            return await tx.audit.page(before, limit)
