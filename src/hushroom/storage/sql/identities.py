"""SQL implementation of the sign-in provider repositories."""

from __future__ import annotations

import uuid
from typing import Any, cast

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from hushroom.storage.identities import (
    IdentityLinkRecord,
    Intent,
    PendingSignupRecord,
    SignInFlowRecord,
)
from hushroom.storage.sql.tables import identity_links, pending_signups, sign_in_flows

_LINK_COLS = (
    identity_links.c.provider,
    identity_links.c.subject,
    identity_links.c.user_id,
    identity_links.c.email,
    identity_links.c.created_at,
    identity_links.c.last_used_at,
)


def _link(row: Any) -> IdentityLinkRecord:
    return IdentityLinkRecord(*row)


class SqlIdentityLinkRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get(self, provider: str, subject: str) -> IdentityLinkRecord | None:
        row = (
            await self._conn.execute(
                select(*_LINK_COLS).where(
                    and_(identity_links.c.provider == provider, identity_links.c.subject == subject)
                )
            )
        ).first()
        return _link(row) if row else None

    async def for_user(self, user_id: uuid.UUID) -> list[IdentityLinkRecord]:
        rows = await self._conn.execute(
            select(*_LINK_COLS)
            .where(identity_links.c.user_id == user_id)
            .order_by(identity_links.c.created_at, identity_links.c.provider)
        )
        return [_link(r) for r in rows]

    async def add(self, record: IdentityLinkRecord) -> bool:
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(
                    insert(identity_links).values(
                        provider=record.provider,
                        subject=record.subject,
                        user_id=record.user_id,
                        email=record.email,
                        created_at=record.created_at,
                        last_used_at=record.last_used_at,
                    )
                )
        except IntegrityError:
            return False
        return True

    async def remove(self, user_id: uuid.UUID, provider: str) -> int:
        result = await self._conn.execute(
            delete(identity_links).where(
                and_(identity_links.c.user_id == user_id, identity_links.c.provider == provider)
            )
        )
        return int(result.rowcount)

    async def touch(self, provider: str, subject: str, now: int) -> None:
        await self._conn.execute(
            update(identity_links)
            .where(and_(identity_links.c.provider == provider, identity_links.c.subject == subject))
            .values(last_used_at=now)
        )


class SqlSignInFlowRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def create(self, record: SignInFlowRecord) -> None:
        await self._conn.execute(
            insert(sign_in_flows).values(
                state_hash=record.state_hash,
                provider=record.provider,
                intent=record.intent,
                binding_hash=record.binding_hash,
                user_id=record.user_id,
                device_id=record.device_id,
                device_name=record.device_name,
                created_at=record.created_at,
                expires_at=record.expires_at,
            )
        )

    async def take(self, state_hash: bytes) -> SignInFlowRecord | None:
        row = (
            await self._conn.execute(
                delete(sign_in_flows)
                .where(sign_in_flows.c.state_hash == state_hash)
                .returning(*sign_in_flows.c)
            )
        ).first()
        if row is None:
            return None
        return SignInFlowRecord(
            state_hash=bytes(row.state_hash),
            provider=row.provider,
            intent=cast(Intent, row.intent),
            binding_hash=bytes(row.binding_hash),
            user_id=row.user_id,
            device_id=row.device_id,
            device_name=row.device_name,
            created_at=row.created_at,
            expires_at=row.expires_at,
        )

    async def delete_expired(self, now: int) -> int:
        result = await self._conn.execute(
            delete(sign_in_flows).where(sign_in_flows.c.expires_at <= now)
        )
        return int(result.rowcount)


def _signup(row: Any) -> PendingSignupRecord:
    return PendingSignupRecord(
        token_hash=bytes(row.token_hash),
        provider=row.provider,
        subject=row.subject,
        email=row.email,
        display_name=row.display_name,
        device_name=row.device_name,
        created_at=row.created_at,
        expires_at=row.expires_at,
    )


class SqlPendingSignupRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def create(self, record: PendingSignupRecord) -> None:
        await self._conn.execute(
            insert(pending_signups).values(
                token_hash=record.token_hash,
                provider=record.provider,
                subject=record.subject,
                email=record.email,
                display_name=record.display_name,
                device_name=record.device_name,
                created_at=record.created_at,
                expires_at=record.expires_at,
            )
        )

    async def get(self, token_hash: bytes) -> PendingSignupRecord | None:
        row = (
            await self._conn.execute(
                select(*pending_signups.c).where(pending_signups.c.token_hash == token_hash)
            )
        ).first()
        return _signup(row) if row else None

    async def take(self, token_hash: bytes) -> PendingSignupRecord | None:
        row = (
            await self._conn.execute(
                delete(pending_signups)
                .where(pending_signups.c.token_hash == token_hash)
                .returning(*pending_signups.c)
            )
        ).first()
        return _signup(row) if row else None

    async def delete_expired(self, now: int) -> int:
        result = await self._conn.execute(
            delete(pending_signups).where(pending_signups.c.expires_at <= now)
        )
        return int(result.rowcount)
