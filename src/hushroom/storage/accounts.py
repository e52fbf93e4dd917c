"""Account records (users, devices, sessions, refresh tokens, WebSocket tickets) and the
repository interfaces that store them. Secrets and opaque blobs stay out of every `repr`."""

from __future__ import annotations

import uuid
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
    key_bundle: bytes = field(repr=False)
    key_bundle_version: int
    vault: bytes = field(repr=False)
    vault_version: int
    is_admin: bool
    created_at: int


@dataclass(frozen=True, slots=True)
class Credentials:
    """Just what a login verifies, so a login reads the same small row for every user."""

    user_id: uuid.UUID
    auth_hash: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    id: uuid.UUID
    user_id: uuid.UUID
    name: str
    created_at: int
    revoked_at: int | None = None


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One login: the family of every refresh token rotated from it."""

    id: uuid.UUID
    user_id: uuid.UUID
    device_id: uuid.UUID
    created_at: int
    revoked_at: int | None = None


@dataclass(frozen=True, slots=True)
class RefreshTokenRecord:
    # SHA-256 of the token; the token itself is never stored.
    token_hash: bytes = field(repr=False)
    session_id: uuid.UUID
    created_at: int
    expires_at: int
    used_at: int | None = None


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


class DeviceRepository(Protocol):
    async def create(self, record: DeviceRecord) -> None: ...

    async def get(self, device_id: uuid.UUID) -> DeviceRecord | None: ...


class SessionRepository(Protocol):
    async def create(self, record: SessionRecord) -> None: ...

    async def get(self, session_id: uuid.UUID) -> SessionRecord | None: ...

    async def revoke(self, session_id: uuid.UUID, now: int) -> bool:
        """Mark the session revoked; False when it was already revoked or does not exist."""
        ...

    async def revoke_all(self, user_id: uuid.UUID, now: int) -> list[uuid.UUID]:
        """Revoke every live session of the user; returns the ids revoked now."""
        ...

    async def add_refresh_token(self, record: RefreshTokenRecord) -> None: ...

    async def get_refresh_token(self, token_hash: bytes) -> RefreshTokenRecord | None: ...

    async def use_refresh_token(self, token_hash: bytes, now: int) -> bool:
        """Mark the token used; False when it was already used (a concurrent or replayed use)."""
        ...


class TicketRepository(Protocol):
    async def create(self, record: TicketRecord) -> None: ...

    async def take(self, ticket_hash: bytes) -> TicketRecord | None:
        """Delete the ticket and return it; None when unknown or already taken (single use)."""
        ...

    async def delete_expired(self, now: int) -> int: ...
