"""Accounts: registration with real keys, prelogin, the caller's own account and user lookup.

The password never reaches the server: clients send a 32-byte `auth_secret` derived from it,
and the server keeps its own Argon2id hash of that secret (services/auth_hash.py). Prelogin
never reveals whether an email is registered: unknown emails get a deterministic fake salt.
Registration uploads every key at once, under ids the client chose, so an account either exists
fully keyed or not at all (docs/decisions/0003).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass, field
from typing import Any

from hushroom.clock import Clock
from hushroom.config import Settings
from hushroom.errors import Conflict, EmailTaken, NotFound, TokenInvalid, ValidationFailed
from hushroom.principal import Principal
from hushroom.services.account_input import (
    KDF_SALT_BYTES,
    MIN_KDF_PARAMS,
    clean_display_name,
    kdf_json,
    normalize_email,
)
from hushroom.services.auth_hash import AuthHasher
from hushroom.services.key_material import NewIdentity, check_new_identity
from hushroom.services.seen_recently import SeenRecently
from hushroom.storage.accounts import DeviceRecord, PukCertificateRecord, UserRecord
from hushroom.storage.unit import Repos, Storage

MAX_SEARCH_RESULTS = 50
MAX_SEARCH_QUERY = 320


@dataclass(frozen=True, slots=True)
class Prelogin:
    kdf: dict[str, Any]  # docs/crypto.md §5.1 JSON form


@dataclass(frozen=True, slots=True)
class NewAccount:
    """A registration checked and hashed, ready to insert."""

    user: UserRecord
    device: DeviceRecord
    puk: PukCertificateRecord


@dataclass(frozen=True, slots=True)
class Registration:
    """A new account as the client built it (ids chosen by the client, keys already made)."""

    user_id: uuid.UUID
    display_name: str
    identity: NewIdentity = field(repr=False)


class AccountService:
    def __init__(
        self, storage: Storage, hasher: AuthHasher, clock: Clock, settings: Settings
    ) -> None:
        self._storage = storage
        self._hasher = hasher
        self._clock = clock
        self._settings = settings
        self._existing = SeenRecently[uuid.UUID](clock, ttl_s=60.0, max_size=65_536)
        # Key for fake prelogin salts, derived from the server secret with its own label.
        self._salt_key = hmac.new(
            settings.resolved_jwt_secret().encode("utf-8"),
            b"hushroom/v1/prelogin-fake-salt",
            hashlib.sha256,
        ).digest()

    def __repr__(self) -> str:
        return "AccountService()"

    def fake_salt(self, email: str) -> bytes:
        return hmac.new(self._salt_key, email.encode("utf-8"), hashlib.sha256).digest()[
            :KDF_SALT_BYTES
        ]

    async def prelogin(self, email: str) -> Prelogin:
        email = normalize_email(email)
        async with self._storage.read() as tx:
            user = await tx.users.get_by_email(email)
        # A provider account's parameters belong to its chat passphrase, which never signs in:
        # it looks like an unknown email here.
        if user is None or not user.password_login:
            return Prelogin(kdf_json(self.fake_salt(email), MIN_KDF_PARAMS))
        return Prelogin(kdf_json(user.kdf_salt, user.kdf_params))

    async def register(self, r: Registration) -> tuple[UserRecord, DeviceRecord]:
        new = await self.prepare(r)
        async with self._storage.write() as tx:
            await self.insert(tx, new)
        return new.user, new.device

    async def prepare(self, r: Registration, *, password_login: bool = True) -> NewAccount:
        """Every field checked and the auth secret hashed, before any transaction. Without
        `password_login` (an account created through a sign-in provider) the secret is the chat
        passphrase's: it unlocks the vault and never signs in."""
        name = clean_display_name(r.display_name)
        if r.user_id.version != 4 or r.identity.device_id.version != 4:
            raise ValidationFailed("user_id and device_id must be random (version 4) UUIDs")
        now = self._clock.now_ms()
        new = await check_new_identity(
            r.identity, r.user_id, now, self._settings.max_vault_bytes, self._hasher
        )
        kdf_salt, kdf_params, auth_hash = new.password
        record = UserRecord(
            id=r.user_id,
            email=new.email,
            display_name=name,
            kdf_salt=kdf_salt,
            kdf_params=kdf_params,
            auth_hash=auth_hash,
            keys=new.keys.keys,
            vault_version=1,
            keys_version=1,
            is_admin=False,
            created_at=now,
            password_login=password_login,
        )
        return NewAccount(record, new.device, new.keys.puk)

    async def insert(self, tx: Repos, new: NewAccount) -> None:
        """The account, its first PUK and device, all or nothing (in the caller's transaction)."""
        if await tx.users.get_by_email(new.user.email) is not None:
            raise EmailTaken(field="email")
        if await tx.users.exists(new.user.id):
            raise Conflict("this user id is taken", field="user_id")
        if await tx.devices.get(new.device.id) is not None:
            raise Conflict("this device id is taken", field="device_id")
        if not await tx.users.create(new.user):
            # A concurrent registration of the same email won the race.
            raise EmailTaken(field="email")
        await tx.puks.add(new.puk)
        await tx.devices.create(new.device)

    async def make_admin(self, email: str) -> bool:
        """The operator's `hushroom create-admin`: False when no user has that email."""
        async with self._storage.write() as tx:
            return await tx.users.set_admin(normalize_email(email))

    async def require_exists(self, user_id: uuid.UUID) -> None:
        """TokenInvalid for a validly signed token whose user no longer exists (deleted, or a
        database restored from an older backup); a user seen lately costs no read."""
        if not await self._existing.which({user_id}, self._existing_among):
            raise TokenInvalid()

    async def _existing_among(self, user_ids: list[uuid.UUID]) -> set[uuid.UUID]:
        async with self._storage.read() as tx:
            return {u for u in user_ids if await tx.users.exists(u)}

    async def me(self, principal: Principal) -> UserRecord:
        async with self._storage.read() as tx:
            session = await tx.sessions.get(principal.session_id)
            user = await tx.users.get(principal.user_id)
        if session is None or session.revoked_at is not None or user is None:
            raise TokenInvalid()
        return user

    async def get_user(self, user_id: uuid.UUID) -> UserRecord:
        async with self._storage.read() as tx:
            user = await tx.users.get(user_id)
        if user is None:
            raise NotFound("no such user")
        return user

    async def search_users(self, query: str, limit: int = MAX_SEARCH_RESULTS) -> list[UserRecord]:
        query = query.strip()
        if not query:
            raise ValidationFailed("a search query is required", field="q")
        if len(query) > MAX_SEARCH_QUERY:
            raise ValidationFailed("the search query is too long", field="q")
        limit = max(1, min(limit, MAX_SEARCH_RESULTS))
        async with self._storage.read() as tx:
            return await tx.users.search(query, normalize_email(query), limit)
