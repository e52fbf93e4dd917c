"""The server's Argon2id hash of a client's auth secret (the password never reaches us).

Hashing runs in a thread: Argon2 must never block the event loop. Unknown accounts are verified
against a dummy hash, so they cost what a wrong secret costs.
"""

from __future__ import annotations

import asyncio
import secrets

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from hushroom.config import Settings
from hushroom.services.account_input import AUTH_SECRET_BYTES


class AuthHasher:
    def __init__(self, settings: Settings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.auth_hash_time_cost,
            memory_cost=settings.auth_hash_memory_kib,
            parallelism=1,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )
        self._dummy_hash = self._hasher.hash(secrets.token_bytes(AUTH_SECRET_BYTES))

    def __repr__(self) -> str:
        return "AuthHasher()"

    async def hash(self, auth_secret: bytes) -> str:
        return await asyncio.to_thread(self._hasher.hash, auth_secret)

    async def verify(self, auth_hash: str | None, auth_secret: bytes) -> bool:
        """False for a wrong secret; with `auth_hash=None` the same work against the dummy."""

        def verify() -> bool:
            try:
                return self._hasher.verify(auth_hash or self._dummy_hash, auth_secret)
            except (VerificationError, InvalidHashError):
                return False

        return await asyncio.to_thread(verify) and auth_hash is not None

    def needs_rehash(self, auth_hash: str) -> bool:
        return self._hasher.check_needs_rehash(auth_hash)
