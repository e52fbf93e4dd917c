"""Account records (users, devices, sessions, refresh tokens, WebSocket tickets) and the
repository interfaces that store them. Secrets and opaque blobs stay out of every `repr`."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: uuid.UUID
    email: str
    display_name: str
    kdf_salt: bytes = field(repr=False)
    kdf_params: dict[str, Any]
    auth_hash: str = field(repr=False)
    keys: AccountKeysRecord | None
    vault_version: int
    keys_version: int
    is_admin: bool
    created_at: int
    # When a server admin disabled the account (None: it is live).
    disabled_at: int | None = None
    # False for an account created through a sign-in provider: `kdf_*` and `auth_hash` then
    # belong to its chat passphrase, which unlocks the vault but never signs in.
    password_login: bool = True

    @property
    def keys_ready(self) -> bool:
        return self.keys is not None


@dataclass(frozen=True, slots=True)
class VaultRecord:
    """The sealed vault and the two wrappings of its key (docs/crypto.md §6)."""

    sealed: bytes = field(repr=False)
    password_wrapping: bytes = field(repr=False)
    recovery_wrapping: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class AccountKeysRecord:
    """An account's identity key, its vault, and the hash of its recovery authenticator."""

    identity_key: bytes
    vault: VaultRecord = field(repr=False)
    recovery_auth_hash: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class PukCertificateRecord:
    user_id: uuid.UUID
    generation: int
    certificate: bytes = field(repr=False)
    created_at: int


@dataclass(frozen=True, slots=True)
class Credentials:
    """Just what a login verifies, so a login reads the same small row for every user."""

    user_id: uuid.UUID
    auth_hash: str = field(repr=False)
    password_login: bool = True


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    id: uuid.UUID
    user_id: uuid.UUID
    name: str
    created_at: int
    revoked_at: int | None = None
    last_active_at: int | None = None
    certificate: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One login: the family of every refresh token rotated from it."""

    id: uuid.UUID
    user_id: uuid.UUID
    device_id: uuid.UUID
    created_at: int
    revoked_at: int | None = None
    # The sign-in provider the session signed in with; None: the password.
    provider: str | None = None


@dataclass(frozen=True, slots=True)
class RefreshTokenRecord:
    # SHA-256 of the token; the token itself is never stored.
    token_hash: bytes = field(repr=False)
    session_id: uuid.UUID
    created_at: int
    expires_at: int
    used_at: int | None = None
    # The successor token sealed under a key derived from this token (reuse grace window).
    successor_sealed: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class TicketRecord:
    # SHA-256 of the single-use WebSocket ticket.
    ticket_hash: bytes = field(repr=False)
    user_id: uuid.UUID
    device_id: uuid.UUID
    session_id: uuid.UUID
    expires_at: int


class UserRepository(Protocol):
    async def exists(self, user_id: uuid.UUID) -> bool: ...

    async def create(self, record: UserRecord) -> bool:
        """Insert; False when the email is already registered."""
        ...

    async def get(self, user_id: uuid.UUID) -> UserRecord | None: ...

    async def get_by_email(self, email: str) -> UserRecord | None:
        """`email` is already normalized (stripped, lowercase)."""
        ...

    async def get_credentials(self, email: str) -> Credentials | None: ...

    async def search(self, name_part: str, email: str, limit: int) -> list[UserRecord]:
        """Users whose display name contains `name_part` (case-insensitive) or whose email is
        exactly `email`, ordered by display name."""
        ...

    async def set_auth_hash(self, user_id: uuid.UUID, auth_hash: str) -> None: ...

    async def set_admin(self, email: str) -> bool:
        """Make the user with this (normalized) email a server admin; False when none has it."""
        ...

    async def set_disabled(self, user_id: uuid.UUID, disabled_at: int | None) -> bool:
        """Disable the account at `disabled_at`, or enable it with None; False when it was
        already in that state (or does not exist)."""
        ...

    async def set_keys(self, user_id: uuid.UUID, keys: AccountKeysRecord) -> bool:
        """First keys of an account that has none (the one-time set-up); False when it has."""
        ...

    async def swap_vault(
        self,
        user_id: uuid.UUID,
        expected_version: int,
        vault: VaultRecord,
        *,
        recovery_auth_hash: bytes | None = None,
        password: tuple[bytes, dict[str, Any], str] | None = None,
    ) -> int | None:
        """Compare-and-swap on `vault_version`: store the new vault (and, when given, the new
        recovery authenticator hash and the new password's (kdf_salt, kdf_params, auth_hash)) if
        the stored version is still `expected_version`. Returns the new version, or None when
        another re-key won."""
        ...

    async def bump_keys_version(self, user_id: uuid.UUID) -> int: ...

    async def set_reset_code(self, email: str, code_hash: bytes, expires_at: int) -> bool:
        """Issue an account reset code (replacing any earlier one); False for an unknown email."""
        ...

    async def get_reset_code(self, email: str) -> tuple[uuid.UUID, bytes, int] | None:
        """(user id, code hash, expiry) of a pending reset, or None."""
        ...

    async def reset_keys(
        self,
        user_id: uuid.UUID,
        code_hash: bytes,
        now: int,
        keys: AccountKeysRecord,
        password: tuple[bytes, dict[str, Any], str],
    ) -> bool:
        """Replace the keys and the password if the pending reset code is still this one and
        unexpired, and spend it; False otherwise (another reset won, or it expired)."""
        ...


class PukCertificateRepository(Protocol):
    async def add(self, record: PukCertificateRecord) -> bool:
        """False when this generation already has a certificate."""
        ...

    async def for_user(self, user_id: uuid.UUID) -> list[PukCertificateRecord]:
        """Every generation, ascending."""
        ...

    async def latest_generations(self, user_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, int]:
        """The latest certified PUK generation of each user that has one, in one query."""
        ...

    async def latest_generation(self, user_id: uuid.UUID) -> int:
        """0 when the user has none."""
        ...

    async def delete_for_user(self, user_id: uuid.UUID) -> None:
        """An account reset: the old identity's PUK certificates go with it."""
        ...


class DeviceRepository(Protocol):
    async def create(self, record: DeviceRecord) -> None: ...

    async def get(self, device_id: uuid.UUID) -> DeviceRecord | None: ...

    async def for_user(self, user_id: uuid.UUID) -> list[DeviceRecord]:
        """Every device of the user (revoked ones too), oldest first."""
        ...

    async def certify(self, device_id: uuid.UUID, certificate: bytes) -> bool:
        """Set the certificate of a live device that has none; False otherwise."""
        ...

    async def certified_ids(self, device_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        """Those of the devices that have a certificate and are not revoked, in one query."""
        ...

    async def rename(self, device_id: uuid.UUID, name: str) -> None: ...

    async def touch(self, device_id: uuid.UUID, now: int) -> None:
        """Record activity (login, refresh)."""
        ...

    async def revoke(self, device_id: uuid.UUID, now: int) -> bool:
        """False when already revoked."""
        ...

    async def retire_all(self, user_id: uuid.UUID, now: int) -> None:
        """An account reset: every device is revoked and its certificate (signed by the old
        identity) dropped, so the key directory holds the new identity's devices only."""
        ...


class SessionRepository(Protocol):
    async def create(self, record: SessionRecord) -> None: ...

    async def get(self, session_id: uuid.UUID) -> SessionRecord | None: ...

    async def revoke(self, session_id: uuid.UUID, now: int) -> bool:
        """Mark the session revoked; False when it was already revoked or does not exist."""
        ...

    async def revoke_all(
        self, user_id: uuid.UUID, now: int, *, except_session: uuid.UUID | None = None
    ) -> list[uuid.UUID]:
        """Revoke every live session of the user (but `except_session`); returns the ids
        revoked now."""
        ...

    async def revoke_device(self, device_id: uuid.UUID, now: int) -> list[uuid.UUID]:
        """Revoke every live session of one device; returns the ids revoked now."""
        ...

    async def revoked_since(self, since: int) -> list[tuple[uuid.UUID, int]]:
        """(id, revoked_at) of the sessions revoked at or after `since` (ms): those whose
        access tokens may still be unexpired (services/revocations.py, at start-up)."""
        ...

    async def add_refresh_token(self, record: RefreshTokenRecord) -> None: ...

    async def get_refresh_token(self, token_hash: bytes) -> RefreshTokenRecord | None: ...

    async def use_refresh_token(self, token_hash: bytes, now: int) -> bool:
        """Mark the token used; False when it was already used (a concurrent or replayed use)."""
        ...

    async def set_successor(self, token_hash: bytes, successor_sealed: bytes) -> None: ...


class TicketRepository(Protocol):
    async def create_if_session_live(self, record: TicketRecord) -> bool:
        """Store the ticket if its session exists, is not revoked and belongs to the record's
        user and device (one statement); False, storing nothing, otherwise."""
        ...

    async def take(self, ticket_hash: bytes) -> tuple[TicketRecord, bool] | None:
        """Delete the ticket and return it with whether its session is live (exists, not
        revoked); None when unknown or already taken (single use)."""
        ...

    async def delete_expired(self, now: int) -> int: ...
