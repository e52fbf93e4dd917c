"""SQL implementation of the account repositories (users, devices, sessions, tickets).

`SqlUserRepository.exists` is also used by conversations.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from hushroom.storage.accounts import (
    Credentials,
    DeviceRecord,
    RefreshTokenRecord,
    SessionRecord,
    TicketRecord,
    UserRecord,
)
from hushroom.storage.sql.tables import devices, refresh_tokens, sessions, users, ws_tickets

_USER_COLS = (
    users.c.id,
    users.c.email,
    users.c.display_name,
    users.c.kdf_salt,
    users.c.kdf_params,
    users.c.auth_hash,
    users.c.key_bundle,
    users.c.key_bundle_version,
    users.c.vault,
    users.c.vault_version,
    users.c.is_admin,
    users.c.created_at,
)
_DEVICE_COLS = (
    devices.c.id,
    devices.c.user_id,
    devices.c.name,
    devices.c.created_at,
    devices.c.revoked_at,
)
_SESSION_COLS = (
    sessions.c.id,
    sessions.c.user_id,
    sessions.c.device_id,
    sessions.c.created_at,
    sessions.c.revoked_at,
)
_REFRESH_COLS = (
    refresh_tokens.c.token_hash,
    refresh_tokens.c.session_id,
    refresh_tokens.c.created_at,
    refresh_tokens.c.expires_at,
    refresh_tokens.c.used_at,
)
_TICKET_COLS = (
    ws_tickets.c.ticket_hash,
    ws_tickets.c.user_id,
    ws_tickets.c.device_id,
    ws_tickets.c.session_id,
    ws_tickets.c.expires_at,
)


def _user(row: Any) -> UserRecord:
    return UserRecord(
        id=row.id,
        email=row.email,
        display_name=row.display_name,
        kdf_salt=bytes(row.kdf_salt),
        kdf_params=dict(row.kdf_params),
        auth_hash=row.auth_hash,
        key_bundle=bytes(row.key_bundle),
        key_bundle_version=row.key_bundle_version,
        vault=bytes(row.vault),
        vault_version=row.vault_version,
        is_admin=bool(row.is_admin),
        created_at=row.created_at,
    )


def _like_escape(value: str) -> str:
    # LIKE metacharacters in user input are escaped so they match literally.
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SqlUserRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def exists(self, user_id: uuid.UUID) -> bool:
        row = (await self._conn.execute(select(users.c.id).where(users.c.id == user_id))).first()
        return row is not None

    async def create(self, record: UserRecord) -> bool:
        if await self.get_by_email(record.email) is not None:
            return False
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(
                    insert(users).values(
                        id=record.id,
                        email=record.email,
                        display_name=record.display_name,
                        display_name_lower=record.display_name.lower(),
                        kdf_salt=record.kdf_salt,
                        kdf_params=record.kdf_params,
                        auth_hash=record.auth_hash,
                        key_bundle=record.key_bundle,
                        key_bundle_version=record.key_bundle_version,
                        vault=record.vault,
                        vault_version=record.vault_version,
                        is_admin=record.is_admin,
                        created_at=record.created_at,
                    )
                )
        except IntegrityError:
            return False  # a concurrent registration of the same email won the race
        return True

    async def get(self, user_id: uuid.UUID) -> UserRecord | None:
        row = (await self._conn.execute(select(*_USER_COLS).where(users.c.id == user_id))).first()
        return _user(row) if row else None

    async def get_by_email(self, email: str) -> UserRecord | None:
        row = (await self._conn.execute(select(*_USER_COLS).where(users.c.email == email))).first()
        return _user(row) if row else None

    async def get_credentials(self, email: str) -> Credentials | None:
        row = (
            await self._conn.execute(
                select(users.c.id, users.c.auth_hash).where(users.c.email == email)
            )
        ).first()
        return Credentials(row[0], row[1]) if row else None

    async def search(self, name_part: str, email: str, limit: int) -> list[UserRecord]:
        pattern = f"%{_like_escape(name_part.lower())}%"
        stmt = (
            select(*_USER_COLS)
            .where(
                or_(
                    users.c.display_name_lower.like(pattern, escape="\\"),
                    users.c.email == email,
                )
            )
            .order_by(users.c.display_name_lower, users.c.id)
            .limit(limit)
        )
        return [_user(r) for r in await self._conn.execute(stmt)]

    async def set_auth_hash(self, user_id: uuid.UUID, auth_hash: str) -> None:
        await self._conn.execute(
            update(users).where(users.c.id == user_id).values(auth_hash=auth_hash)
        )


class SqlDeviceRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def create(self, record: DeviceRecord) -> None:
        await self._conn.execute(
            insert(devices).values(
                id=record.id,
                user_id=record.user_id,
                name=record.name,
                created_at=record.created_at,
                revoked_at=record.revoked_at,
            )
        )

    async def get(self, device_id: uuid.UUID) -> DeviceRecord | None:
        row = (
            await self._conn.execute(select(*_DEVICE_COLS).where(devices.c.id == device_id))
        ).first()
        return DeviceRecord(*row) if row else None


class SqlSessionRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def create(self, record: SessionRecord) -> None:
        await self._conn.execute(
            insert(sessions).values(
                id=record.id,
                user_id=record.user_id,
                device_id=record.device_id,
                created_at=record.created_at,
                revoked_at=record.revoked_at,
            )
        )

    async def get(self, session_id: uuid.UUID) -> SessionRecord | None:
        row = (
            await self._conn.execute(select(*_SESSION_COLS).where(sessions.c.id == session_id))
        ).first()
        return SessionRecord(*row) if row else None

    async def revoke(self, session_id: uuid.UUID, now: int) -> bool:
        result = await self._conn.execute(
            update(sessions)
            .where(and_(sessions.c.id == session_id, sessions.c.revoked_at.is_(None)))
            .values(revoked_at=now)
        )
        return bool(result.rowcount)

    async def revoke_all(self, user_id: uuid.UUID, now: int) -> list[uuid.UUID]:
        rows = await self._conn.execute(
            update(sessions)
            .where(and_(sessions.c.user_id == user_id, sessions.c.revoked_at.is_(None)))
            .values(revoked_at=now)
            .returning(sessions.c.id)
        )
        return [r[0] for r in rows]

    async def add_refresh_token(self, record: RefreshTokenRecord) -> None:
        await self._conn.execute(
            insert(refresh_tokens).values(
                token_hash=record.token_hash,
                session_id=record.session_id,
                created_at=record.created_at,
                expires_at=record.expires_at,
                used_at=record.used_at,
            )
        )

    async def get_refresh_token(self, token_hash: bytes) -> RefreshTokenRecord | None:
        row = (
            await self._conn.execute(
                select(*_REFRESH_COLS).where(refresh_tokens.c.token_hash == token_hash)
            )
        ).first()
        return RefreshTokenRecord(bytes(row[0]), *row[1:]) if row else None

    async def use_refresh_token(self, token_hash: bytes, now: int) -> bool:
        # The conditional UPDATE is the single-use guard: of two concurrent uses, one sees 0 rows.
        result = await self._conn.execute(
            update(refresh_tokens)
            .where(
                and_(refresh_tokens.c.token_hash == token_hash, refresh_tokens.c.used_at.is_(None))
            )
            .values(used_at=now)
        )
        return bool(result.rowcount)


class SqlTicketRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def create(self, record: TicketRecord) -> None:
        await self._conn.execute(
            insert(ws_tickets).values(
                ticket_hash=record.ticket_hash,
                user_id=record.user_id,
                device_id=record.device_id,
                session_id=record.session_id,
                expires_at=record.expires_at,
            )
        )

    async def take(self, ticket_hash: bytes) -> TicketRecord | None:
        # DELETE ... RETURNING is atomic: a ticket redeemed twice concurrently is returned once.
        row = (
            await self._conn.execute(
                delete(ws_tickets)
                .where(ws_tickets.c.ticket_hash == ticket_hash)
                .returning(*_TICKET_COLS)
            )
        ).first()
        return TicketRecord(bytes(row[0]), *row[1:]) if row else None

    async def delete_expired(self, now: int) -> int:
        result = await self._conn.execute(delete(ws_tickets).where(ws_tickets.c.expires_at <= now))
        return int(result.rowcount or 0)
