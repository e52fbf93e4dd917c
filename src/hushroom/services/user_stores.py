"""Encrypted per-user stores: one opaque blob per user and store name, that only the user's
live sessions read and replace. The first store, `contacts`, holds the verified contacts
sealed under a key derived from the identity seed (docs/crypto.md §6.6), so verification
follows the user to every browser.

The server checks the blob's outer shape and size only. Every write is a compare-and-swap on
the store's version: of two browsers writing at once one wins, the other gets
`store_conflict` with the current version, fetches, merges and writes again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from hushroom.clock import Clock
from hushroom.crypto.contacts_store import MAX_STORE_BYTES, STORE_LABEL
from hushroom.crypto.encoding import decode
from hushroom.crypto.errors import CryptoError
from hushroom.crypto.primitives import GCM_NONCE_SIZE, GCM_TAG_SIZE
from hushroom.errors import InvalidKeyMaterial, NotFound, PayloadTooLarge, StoreConflict
from hushroom.principal import Principal
from hushroom.services.sessions import live_session
from hushroom.storage.unit import Storage

STORE_NAMES: Final = ("contacts",)


@dataclass(frozen=True, slots=True)
class StoredBlob:
    """A store as the client reads it: version 0 and no blob before the first write."""

    version: int
    blob: bytes | None = field(repr=False)


def _check_blob(blob: bytes) -> bytes:
    """A sealed user store (docs/crypto.md §6.6): label, 12-byte nonce, at least a GCM tag."""
    if len(blob) > MAX_STORE_BYTES:
        raise PayloadTooLarge(f"a store is limited to {MAX_STORE_BYTES} bytes", field="blob")
    try:
        record = decode(blob, STORE_LABEL, 1, 2)
        record.fixed(0, GCM_NONCE_SIZE)
        ok = len(record.raw(1)) >= GCM_TAG_SIZE
    except CryptoError as exc:
        raise InvalidKeyMaterial(f"blob: {exc}", field="blob") from None
    if not ok:
        raise InvalidKeyMaterial("blob: the ciphertext is shorter than its tag", field="blob")
    return blob


def _check_name(name: str) -> str:
    if name not in STORE_NAMES:
        raise NotFound("no such store", field="name")
    return name


class UserStoreService:
    def __init__(self, storage: Storage, clock: Clock) -> None:
        self._storage = storage
        self._clock = clock

    def __repr__(self) -> str:
        return "UserStoreService()"

    async def get(self, principal: Principal, name: str) -> StoredBlob:
        _check_name(name)
        async with self._storage.read() as tx:
            await live_session(tx, principal)
            record = await tx.user_stores.get(principal.user_id, name)
        if record is None:
            return StoredBlob(0, None)
        return StoredBlob(record.version, record.blob)

    async def put(self, principal: Principal, name: str, expected_version: int, blob: bytes) -> int:
        """Store `blob` as version `expected_version + 1`; `store_conflict` (with the current
        version) when the store is no longer at `expected_version`."""
        _check_name(name)
        _check_blob(blob)
        now = self._clock.now_ms()
        async with self._storage.write() as tx:
            await live_session(tx, principal)
            version = await tx.user_stores.swap(
                principal.user_id, name, expected_version, blob, now
            )
            if version is None:
                current = await tx.user_stores.get(principal.user_id, name)
                raise StoreConflict(current.version if current is not None else 0)
        return version
