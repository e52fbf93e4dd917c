"""Sign-in provider records (docs/decisions/0007): identities linked to accounts, sign-in flows
in progress and provider sign-ups waiting for the browser's keys, with their repositories.

Flows and sign-ups are stored by the SHA-256 of their secret (the `state`, the sign-up cookie),
so the database alone cannot complete or replay one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Literal, Protocol

Intent = Literal["sign_in", "link"]


@dataclass(frozen=True, slots=True)
class IdentityLinkRecord:
    provider: str
    subject: str
    user_id: uuid.UUID
    email: str | None
    created_at: int
    last_used_at: int | None = None


@dataclass(frozen=True, slots=True)
class SignInFlowRecord:
    state_hash: bytes = field(repr=False)
    provider: str
    intent: Intent
    binding_hash: bytes = field(repr=False)
    # The account a `link` flow links to; None for `sign_in`.
    user_id: uuid.UUID | None
    # This browser's device, when it has one already (a sign-in then reuses it).
    device_id: uuid.UUID | None
    device_name: str | None
    created_at: int
    expires_at: int


@dataclass(frozen=True, slots=True)
class PendingSignupRecord:
    token_hash: bytes = field(repr=False)
    provider: str
    subject: str
    email: str
    display_name: str
    device_name: str | None
    created_at: int
    expires_at: int


class IdentityLinkRepository(Protocol):
    async def get(self, provider: str, subject: str) -> IdentityLinkRecord | None: ...

    async def for_user(self, user_id: uuid.UUID) -> list[IdentityLinkRecord]:
        """Oldest link first."""
        ...

    async def add(self, record: IdentityLinkRecord) -> bool:
        """False when this (provider, subject) is linked already (to anyone)."""
        ...

    async def remove(self, user_id: uuid.UUID, provider: str) -> int:
        """Unlink every identity of `provider` from the account; how many were removed."""
        ...

    async def touch(self, provider: str, subject: str, now: int) -> None: ...


class SignInFlowRepository(Protocol):
    async def create(self, record: SignInFlowRecord) -> None: ...

    async def take(self, state_hash: bytes) -> SignInFlowRecord | None:
        """Delete and return the flow: a state can be redeemed once."""
        ...

    async def delete_expired(self, now: int) -> int: ...


class PendingSignupRepository(Protocol):
    async def create(self, record: PendingSignupRecord) -> None: ...

    async def get(self, token_hash: bytes) -> PendingSignupRecord | None: ...

    async def take(self, token_hash: bytes) -> PendingSignupRecord | None:
        """Delete and return the sign-up: it creates one account at most."""
        ...

    async def delete_expired(self, now: int) -> int: ...
