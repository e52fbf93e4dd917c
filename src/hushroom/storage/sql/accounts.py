"""SQL implementation of the account repositories (users, devices, sessions, tickets).

`SqlUserRepository.exists` is also used by conversations.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from hushroom.storage.accounts import (
    AccountKeysRecord,
    Credentials,
    DeviceRecord,
    PukCertificateRecord,
    RefreshTokenRecord,
    SessionRecord,
    TicketRecord,
    UserRecord,
    VaultRecord,
)
from hushroom.storage.at_rest import AtRestCipher
from hushroom.storage.sql import sealed
from hushroom.storage.sql.tables import (
    devices,
    puk_certificates,
    refresh_tokens,
    sessions,
    users,
    ws_tickets,
)

_USER_COLS = (
    users.c.id,
    users.c.email,
    users.c.display_name,
    users.c.kdf_salt,
    users.c.kdf_params,
    users.c.auth_hash,
    users.c.identity_key,
    users.c.vault,
    users.c.password_wrapping,
    users.c.recovery_wrapping,
    users.c.recovery_auth_hash,
    users.c.vault_version,
    users.c.keys_version,
    users.c.is_admin,
    users.c.created_at,
    users.c.disabled_at,
    users.c.password_login,
    users.c.display_name_sealed,
)
_DEVICE_COLS = (
    devices.c.id,
    devices.c.user_id,
    devices.c.name,
    devices.c.created_at,
    devices.c.revoked_at,
    devices.c.last_active_at,
    devices.c.certificate,
)
_SESSION_COLS = (
    sessions.c.id,
    sessions.c.user_id,
    sessions.c.device_id,
    sessions.c.created_at,
    sessions.c.revoked_at,
    sessions.c.provider,
)
_REFRESH_COLS = (
    refresh_tokens.c.token_hash,
    refresh_tokens.c.session_id,
    refresh_tokens.c.created_at,
    refresh_tokens.c.expires_at,
    refresh_tokens.c.used_at,
    refresh_tokens.c.successor_sealed,
)
_TICKET_COLS = (
    ws_tickets.c.ticket_hash,
    ws_tickets.c.user_id,
    ws_tickets.c.device_id,
    ws_tickets.c.session_id,
    ws_tickets.c.expires_at,
)


def _user(row: Any, cipher: AtRestCipher) -> UserRecord:
    name = sealed.open_optional(
        cipher, sealed.user_display_name(row.id), row.display_name_sealed, row.display_name
    )
    return UserRecord(
        id=row.id,
        email=row.email,
        display_name=name or "",
        kdf_salt=bytes(row.kdf_salt),
        kdf_params=dict(row.kdf_params),
        auth_hash=row.auth_hash,
        keys=_keys(row),
        vault_version=row.vault_version,
        keys_version=row.keys_version,
        is_admin=bool(row.is_admin),
        created_at=row.created_at,
        disabled_at=row.disabled_at,
        password_login=bool(row.password_login),
    )


def _keys(row: Any) -> AccountKeysRecord | None:
    if row.identity_key is None or row.vault is None:
        return None
    return AccountKeysRecord(
        identity_key=bytes(row.identity_key),
        vault=VaultRecord(
            bytes(row.vault), bytes(row.password_wrapping), bytes(row.recovery_wrapping)
        ),
        recovery_auth_hash=bytes(row.recovery_auth_hash),
    )


def _keys_values(keys: AccountKeysRecord | None) -> dict[str, Any]:
    if keys is None:
        return {}
    return {
        "identity_key": keys.identity_key,
        **_vault_values(keys.vault),
        "recovery_auth_hash": keys.recovery_auth_hash,
    }


def _vault_values(vault: VaultRecord) -> dict[str, Any]:
    return {
        "vault": vault.sealed,
        "password_wrapping": vault.password_wrapping,
        "recovery_wrapping": vault.recovery_wrapping,
    }


def _device(row: Any) -> DeviceRecord:
    return DeviceRecord(
        id=row.id,
        user_id=row.user_id,
        name=row.name,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        last_active_at=row.last_active_at,
        certificate=bytes(row.certificate) if row.certificate is not None else None,
    )


class SqlUserRepository:
    def __init__(self, conn: AsyncConnection, cipher: AtRestCipher) -> None:
        self._conn = conn
        self._cipher = cipher

    async def exists(self, user_id: uuid.UUID) -> bool:
        row = (await self._conn.execute(select(users.c.id).where(users.c.id == user_id))).first()
        return row is not None

    async def create(self, record: UserRecord) -> bool:
        if await self.get_by_email(record.email) is not None or await self.exists(record.id):
            return False
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(
                    insert(users).values(
                        id=record.id,
                        email=record.email,
                        # The NOT NULL plaintext columns hold "" (tables.py).
                        display_name="",
                        display_name_lower="",
                        display_name_sealed=self._cipher.seal(
                            sealed.user_display_name(record.id), record.display_name
                        ),
                        kdf_salt=record.kdf_salt,
                        kdf_params=record.kdf_params,
                        auth_hash=record.auth_hash,
                        **_keys_values(record.keys),
                        vault_version=record.vault_version,
                        keys_version=record.keys_version,
                        is_admin=record.is_admin,
                        created_at=record.created_at,
                        password_login=record.password_login,
                    )
                )
        except IntegrityError:
            return False  # a concurrent registration of the same email won the race
        return True

    async def get(self, user_id: uuid.UUID) -> UserRecord | None:
        row = (await self._conn.execute(select(*_USER_COLS).where(users.c.id == user_id))).first()
        return _user(row, self._cipher) if row else None

    async def get_by_email(self, email: str) -> UserRecord | None:
        row = (await self._conn.execute(select(*_USER_COLS).where(users.c.email == email))).first()
        return _user(row, self._cipher) if row else None

    async def get_credentials(self, email: str) -> Credentials | None:
        row = (
            await self._conn.execute(
                select(users.c.id, users.c.auth_hash, users.c.password_login).where(
                    users.c.email == email
                )
            )
        ).first()
        return Credentials(row[0], row[1], bool(row[2])) if row else None

    async def search(self, name_part: str, email: str, limit: int) -> list[UserRecord]:
        # Display names are sealed: each is opened here (one AES-GCM), matched and sorted, and
        # only the result's rows are fetched whole (docs/decisions/0008 § Search).
        rows = await self._conn.execute(
            select(users.c.id, users.c.email, users.c.display_name, users.c.display_name_sealed)
        )
        needle = name_part.lower()
        keyed: list[tuple[str, uuid.UUID]] = []
        for user_id, user_email, legacy, name_sealed in rows:
            name = sealed.open_optional(
                self._cipher, sealed.user_display_name(user_id), name_sealed, legacy
            )
            lower = (name or "").lower()
            if needle in lower or user_email == email:
                keyed.append((lower, user_id))
        page = [user_id for _, user_id in sorted(keyed)[:limit]]
        if not page:
            return []
        found = {
            r.id: _user(r, self._cipher)
            for r in await self._conn.execute(select(*_USER_COLS).where(users.c.id.in_(page)))
        }
        return [found[user_id] for user_id in page if user_id in found]

    async def set_auth_hash(self, user_id: uuid.UUID, auth_hash: str) -> None:
        await self._conn.execute(
            update(users).where(users.c.id == user_id).values(auth_hash=auth_hash)
        )

    async def set_admin(self, email: str) -> bool:
        result = await self._conn.execute(
            update(users).where(users.c.email == email).values(is_admin=True)
        )
        return bool(result.rowcount)

    async def set_disabled(self, user_id: uuid.UUID, disabled_at: int | None) -> bool:
        # Only a change counts: a repeated disable keeps the first time.
        if disabled_at is not None:
            current = users.c.disabled_at.is_(None)
        else:
            current = users.c.disabled_at.is_not(None)
        result = await self._conn.execute(
            update(users)
            .where(and_(users.c.id == user_id, current))
            .values(disabled_at=disabled_at)
        )
        return bool(result.rowcount)

    async def set_keys(self, user_id: uuid.UUID, keys: AccountKeysRecord) -> bool:
        result = await self._conn.execute(
            update(users)
            .where(and_(users.c.id == user_id, users.c.identity_key.is_(None)))
            .values(
                **_keys_values(keys),
                vault_version=users.c.vault_version + 1,
                keys_version=users.c.keys_version + 1,
            )
        )
        return bool(result.rowcount)

    async def swap_vault(
        self,
        user_id: uuid.UUID,
        expected_version: int,
        vault: VaultRecord,
        *,
        recovery_auth_hash: bytes | None = None,
        password: tuple[bytes, dict[str, Any], str] | None = None,
    ) -> int | None:
        values: dict[str, Any] = _vault_values(vault)
        if recovery_auth_hash is not None:
            values["recovery_auth_hash"] = recovery_auth_hash
        if password is not None:
            values["kdf_salt"], values["kdf_params"], values["auth_hash"] = password
        row = (
            await self._conn.execute(
                update(users)
                .where(
                    and_(
                        users.c.id == user_id,
                        users.c.vault_version == expected_version,
                        users.c.identity_key.is_not(None),
                    )
                )
                .values(**values, vault_version=users.c.vault_version + 1)
                .returning(users.c.vault_version)
            )
        ).first()
        return int(row[0]) if row else None

    async def set_reset_code(self, email: str, code_hash: bytes, expires_at: int) -> bool:
        result = await self._conn.execute(
            update(users)
            .where(users.c.email == email)
            .values(reset_code_hash=code_hash, reset_expires_at=expires_at)
        )
        return bool(result.rowcount)

    async def get_reset_code(self, email: str) -> tuple[uuid.UUID, bytes, int] | None:
        row = (
            await self._conn.execute(
                select(users.c.id, users.c.reset_code_hash, users.c.reset_expires_at).where(
                    and_(users.c.email == email, users.c.reset_code_hash.is_not(None))
                )
            )
        ).first()
        return (row[0], bytes(row[1]), int(row[2])) if row else None

    async def reset_keys(
        self,
        user_id: uuid.UUID,
        code_hash: bytes,
        now: int,
        keys: AccountKeysRecord,
        password: tuple[bytes, dict[str, Any], str],
    ) -> bool:
        kdf_salt, kdf_params, auth_hash = password
        result = await self._conn.execute(
            update(users)
            .where(
                and_(
                    users.c.id == user_id,
                    users.c.reset_code_hash == code_hash,
                    users.c.reset_expires_at > now,
                )
            )
            .values(
                **_keys_values(keys),
                kdf_salt=kdf_salt,
                kdf_params=kdf_params,
                auth_hash=auth_hash,
                reset_code_hash=None,
                reset_expires_at=None,
                vault_version=users.c.vault_version + 1,
                keys_version=users.c.keys_version + 1,
            )
        )
        return bool(result.rowcount)

    async def bump_keys_version(self, user_id: uuid.UUID) -> int:
        row = (
            await self._conn.execute(
                update(users)
                .where(users.c.id == user_id)
                .values(keys_version=users.c.keys_version + 1)
                .returning(users.c.keys_version)
            )
        ).one()
        return int(row[0])


class SqlPukCertificateRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, record: PukCertificateRecord) -> bool:
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(
                    insert(puk_certificates).values(
                        user_id=record.user_id,
                        generation=record.generation,
                        certificate=record.certificate,
                        created_at=record.created_at,
                    )
                )
        except IntegrityError:
            return False
        return True

    async def for_user(self, user_id: uuid.UUID) -> list[PukCertificateRecord]:
        rows = await self._conn.execute(
            select(
                puk_certificates.c.user_id,
                puk_certificates.c.generation,
                puk_certificates.c.certificate,
                puk_certificates.c.created_at,
            )
            .where(puk_certificates.c.user_id == user_id)
            .order_by(puk_certificates.c.generation)
        )
        return [PukCertificateRecord(r[0], r[1], bytes(r[2]), r[3]) for r in rows]

    async def delete_for_user(self, user_id: uuid.UUID) -> None:
        await self._conn.execute(
            delete(puk_certificates).where(puk_certificates.c.user_id == user_id)
        )

    async def latest_generations(self, user_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, int]:
        if not user_ids:
            return {}
        rows = await self._conn.execute(
            select(puk_certificates.c.user_id, func.max(puk_certificates.c.generation))
            .where(puk_certificates.c.user_id.in_(list(user_ids)))
            .group_by(puk_certificates.c.user_id)
        )
        return {r[0]: int(r[1]) for r in rows}

    async def latest_generation(self, user_id: uuid.UUID) -> int:
        value = await self._conn.scalar(
            select(func.max(puk_certificates.c.generation)).where(
                puk_certificates.c.user_id == user_id
            )
        )
        return int(value or 0)


# The send path asks this once per batch of envelopes: built once (see sql/conversations.py).
_CERTIFIED_IDS = select(devices.c.id).where(
    and_(
        devices.c.id.in_(bindparam("ids", expanding=True)),
        devices.c.certificate.is_not(None),
        devices.c.revoked_at.is_(None),
    )
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
                last_active_at=record.last_active_at,
                certificate=record.certificate,
            )
        )

    async def get(self, device_id: uuid.UUID) -> DeviceRecord | None:
        row = (
            await self._conn.execute(select(*_DEVICE_COLS).where(devices.c.id == device_id))
        ).first()
        return _device(row) if row else None

    async def for_user(self, user_id: uuid.UUID) -> list[DeviceRecord]:
        rows = await self._conn.execute(
            select(*_DEVICE_COLS)
            .where(devices.c.user_id == user_id)
            .order_by(devices.c.created_at, devices.c.id)
        )
        return [_device(r) for r in rows]

    async def certified_ids(self, device_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        if not device_ids:
            return set()
        rows = await self._conn.execute(_CERTIFIED_IDS, {"ids": sorted(device_ids)})
        return {r[0] for r in rows}

    async def certify(self, device_id: uuid.UUID, certificate: bytes) -> bool:
        result = await self._conn.execute(
            update(devices)
            .where(
                and_(
                    devices.c.id == device_id,
                    devices.c.certificate.is_(None),
                    devices.c.revoked_at.is_(None),
                )
            )
            .values(certificate=certificate)
        )
        return bool(result.rowcount)

    async def rename(self, device_id: uuid.UUID, name: str) -> None:
        await self._conn.execute(update(devices).where(devices.c.id == device_id).values(name=name))

    async def touch(self, device_id: uuid.UUID, now: int) -> None:
        await self._conn.execute(
            update(devices).where(devices.c.id == device_id).values(last_active_at=now)
        )

    async def revoke(self, device_id: uuid.UUID, now: int) -> bool:
        result = await self._conn.execute(
            update(devices)
            .where(and_(devices.c.id == device_id, devices.c.revoked_at.is_(None)))
            .values(revoked_at=now)
        )
        return bool(result.rowcount)

    async def retire_all(self, user_id: uuid.UUID, now: int) -> None:
        await self._conn.execute(
            update(devices)
            .where(devices.c.user_id == user_id)
            .values(revoked_at=func.coalesce(devices.c.revoked_at, now), certificate=None)
        )


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
                provider=record.provider,
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

    async def revoke_all(
        self, user_id: uuid.UUID, now: int, *, except_session: uuid.UUID | None = None
    ) -> list[uuid.UUID]:
        where = and_(sessions.c.user_id == user_id, sessions.c.revoked_at.is_(None))
        if except_session is not None:
            where = and_(where, sessions.c.id != except_session)
        rows = await self._conn.execute(
            update(sessions).where(where).values(revoked_at=now).returning(sessions.c.id)
        )
        return [r[0] for r in rows]

    async def revoke_device(self, device_id: uuid.UUID, now: int) -> list[uuid.UUID]:
        rows = await self._conn.execute(
            update(sessions)
            .where(and_(sessions.c.device_id == device_id, sessions.c.revoked_at.is_(None)))
            .values(revoked_at=now)
            .returning(sessions.c.id)
        )
        return [r[0] for r in rows]

    async def revoked_since(self, since: int) -> list[tuple[uuid.UUID, int]]:
        rows = await self._conn.execute(
            select(sessions.c.id, sessions.c.revoked_at).where(sessions.c.revoked_at >= since)
        )
        return [(r[0], r[1]) for r in rows]

    async def add_refresh_token(self, record: RefreshTokenRecord) -> None:
        await self._conn.execute(
            insert(refresh_tokens).values(
                token_hash=record.token_hash,
                session_id=record.session_id,
                created_at=record.created_at,
                expires_at=record.expires_at,
                used_at=record.used_at,
                successor_sealed=record.successor_sealed,
            )
        )

    async def get_refresh_token(self, token_hash: bytes) -> RefreshTokenRecord | None:
        row = (
            await self._conn.execute(
                select(*_REFRESH_COLS).where(refresh_tokens.c.token_hash == token_hash)
            )
        ).first()
        if row is None:
            return None
        sealed = bytes(row.successor_sealed) if row.successor_sealed is not None else None
        return RefreshTokenRecord(bytes(row[0]), *row[1:5], successor_sealed=sealed)

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

    async def set_successor(self, token_hash: bytes, successor_sealed: bytes) -> None:
        await self._conn.execute(
            update(refresh_tokens)
            .where(refresh_tokens.c.token_hash == token_hash)
            .values(successor_sealed=successor_sealed)
        )


class SqlTicketRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def create_if_session_live(self, record: TicketRecord) -> bool:
        live = (
            select(
                literal(record.ticket_hash, ws_tickets.c.ticket_hash.type),
                sessions.c.user_id,
                sessions.c.device_id,
                sessions.c.id,
                literal(record.expires_at, ws_tickets.c.expires_at.type),
            )
            .where(sessions.c.id == record.session_id)
            .where(sessions.c.revoked_at.is_(None))
            .where(sessions.c.user_id == record.user_id)
            .where(sessions.c.device_id == record.device_id)
        )
        result = await self._conn.execute(
            insert(ws_tickets).from_select(
                ["ticket_hash", "user_id", "device_id", "session_id", "expires_at"], live
            )
        )
        return bool(result.rowcount)

    async def take(self, ticket_hash: bytes) -> tuple[TicketRecord, bool] | None:
        # DELETE ... RETURNING is atomic: a ticket redeemed twice concurrently is returned once.
        # The session's state comes back in the same statement (a correlated EXISTS).
        session_live = (
            select(sessions.c.id)
            .where(sessions.c.id == ws_tickets.c.session_id)
            .where(sessions.c.revoked_at.is_(None))
            .correlate(ws_tickets)
            .exists()
        )
        row = (
            await self._conn.execute(
                delete(ws_tickets)
                .where(ws_tickets.c.ticket_hash == ticket_hash)
                .returning(*_TICKET_COLS, session_live)
            )
        ).first()
        if row is None:
            return None
        return TicketRecord(bytes(row[0]), *row[1:5]), bool(row[5])

    async def delete_expired(self, now: int) -> int:
        result = await self._conn.execute(delete(ws_tickets).where(ws_tickets.c.expires_at <= now))
        return int(result.rowcount or 0)
