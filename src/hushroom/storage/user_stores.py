"""Encrypted per-user stores (one opaque blob per user and store name, versioned) and the
repository interface that stores them. The server never sees inside a blob: the first store,
`contacts`, is sealed under a key only the user's unlocked vault yields (docs/crypto.md §6.6)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class UserStoreRecord:
    user_id: uuid.UUID
    name: str
    # 1 for the first blob stored, +1 for each replacement.
    version: int
    blob: bytes = field(repr=False)
    updated_at: int


class UserStoreRepository(Protocol):
    async def get(self, user_id: uuid.UUID, name: str) -> UserStoreRecord | None:
        """The user's store of that name, or None when nothing was stored yet."""
        ...

    async def swap(
        self, user_id: uuid.UUID, name: str, expected_version: int, blob: bytes, now: int
    ) -> int | None:
        """Compare-and-swap on `version` (as `UserRepository.swap_vault`): store `blob` as
        version `expected_version + 1` if the stored version is still `expected_version` (0:
        nothing stored yet). Returns the new version, or None when another write won."""
        ...
