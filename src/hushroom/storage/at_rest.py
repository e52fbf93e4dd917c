"""Sealing of the free text the server can read (docs/decisions/0008-at-rest-encryption.md).

Public-room bodies, room names and topics, display names and audit details are stored as
AES-256-GCM ciphertext under random data keys; each data key is stored wrapped by the
operator's key-encryption key (KEK). A sealed value is

    version (1 byte) | data key id (4 bytes, big endian) | nonce (12 bytes) | ciphertext + tag

and its associated data is that header followed by the row's identity (table, column and the
row's stable key), so a value copied onto another row, or another column, fails to open.

Pure: no I/O. The database side (loading and creating keys) is storage/sql/at_rest_keys.py.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from hushroom.errors import HushroomError

VERSION = 1
KEY_BYTES = 32
NONCE_BYTES = 12
HEADER_BYTES = 5
_WRAP_LABEL = b"hushroom at-rest data key v1"
_INDEX_LABEL = b"hushroom at-rest blind index v1"

AadParts = Sequence[str]

log = logging.getLogger("hushroom.at_rest")


class AtRestIntegrityError(HushroomError):
    """A stored value does not open: tampered, moved to another row, or under a key this
    server does not hold. Rendered as problem+json 500 `at_rest_integrity` (docs/protocol.md);
    the detail names no row and no content."""

    status = 500
    code = "at_rest_integrity"
    title = "A stored value failed its integrity check"


class UnknownDataKey(AtRestIntegrityError):
    """The value names a data key id this process has not loaded."""

    def __init__(self, key_id: int) -> None:
        super().__init__("a stored value names an unknown data key")
        self.key_id = key_id


class KekMismatch(Exception):
    """The configured KEK does not unwrap a stored data key (a wrong HUSHROOM_AT_REST_KEY)."""


def key_id_of(blob: bytes) -> int:
    """The data key id a sealed value names (without opening it)."""
    return int.from_bytes(blob[1:HEADER_BYTES], "big")


def key_id_prefix(key_id: int) -> bytes:
    """Header bytes 2..5 (SQL `substr(col, 2, 4)`) of every value sealed under `key_id`."""
    return key_id.to_bytes(4, "big")


def _aad(header: bytes, parts: AadParts) -> bytes:
    out = bytearray(header)
    for part in parts:
        raw = part.encode()
        # Length-prefixed: ("ab", "c") and ("a", "bc") must differ.
        out += len(raw).to_bytes(2, "big") + raw
    return bytes(out)


class AtRestCipher:
    """The key ring (data keys unwrapped in memory, never logged) and seal / open.

    `current_id` is the key new values are sealed under; older keys stay for opening until
    `hushroom keys rotate` has re-sealed their rows.
    """

    def __init__(self, kek: bytes) -> None:
        if len(kek) != KEY_BYTES:
            raise ValueError("the at-rest key must be 32 bytes")
        self._kek = AESGCM(kek)
        index_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INDEX_LABEL).derive(
            kek
        )
        self._index_key = index_key
        self._keys: dict[int, AESGCM] = {}
        self.current_id: int | None = None

    def __repr__(self) -> str:  # never the keys
        return f"AtRestCipher(keys={sorted(self._keys)}, current={self.current_id})"

    # Data keys.

    def wrap(self, key_id: int, key: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._kek.encrypt(nonce, key, _WRAP_LABEL + key_id.to_bytes(4, "big"))

    def _unwrap(self, key_id: int, wrapped: bytes) -> bytes:
        label = _WRAP_LABEL + key_id.to_bytes(4, "big")
        try:
            return self._kek.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], label)
        except InvalidTag as exc:
            raise KekMismatch(
                f"the at-rest key does not unwrap data key {key_id}: is HUSHROOM_AT_REST_KEY "
                "(or data_dir/at_rest.key) the one this database was created with?"
            ) from exc

    def add_wrapped(self, key_id: int, wrapped: bytes) -> None:
        self._keys[key_id] = AESGCM(self._unwrap(key_id, wrapped))

    def rewrapped(self, key_id: int, wrapped: bytes, new: AtRestCipher) -> bytes:
        """Data key `key_id` unwrapped with this KEK and wrapped with `new`'s."""
        return new.wrap(key_id, self._unwrap(key_id, wrapped))

    def knows(self, key_id: int) -> bool:
        return key_id in self._keys

    @property
    def key_ids(self) -> list[int]:
        return sorted(self._keys)

    # Values.

    def seal(self, parts: AadParts, plaintext: str) -> bytes:
        key_id = self.current_id
        if key_id is None:
            raise RuntimeError("no at-rest data key is loaded")
        header = bytes([VERSION]) + key_id.to_bytes(4, "big")
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._keys[key_id].encrypt(nonce, plaintext.encode(), _aad(header, parts))
        return header + nonce + sealed

    def open(self, parts: AadParts, blob: bytes) -> str:
        if len(blob) < HEADER_BYTES + NONCE_BYTES + 16 or blob[0] != VERSION:
            raise self._failed(parts, "not a sealed value")
        key_id = key_id_of(blob)
        key = self._keys.get(key_id)
        if key is None:
            log.warning("at-rest value of %s names unknown data key %d", "/".join(parts), key_id)
            raise UnknownDataKey(key_id)
        header, nonce = blob[:HEADER_BYTES], blob[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES]
        try:
            return key.decrypt(
                nonce, blob[HEADER_BYTES + NONCE_BYTES :], _aad(header, parts)
            ).decode()
        except (InvalidTag, UnicodeDecodeError) as exc:
            raise self._failed(parts, "tampered, or moved from another row") from exc

    @staticmethod
    def _failed(parts: AadParts, why: str) -> AtRestIntegrityError:
        # The row's identity only: never the value, sealed or not.
        log.error("at-rest value of %s does not open: %s", "/".join(parts), why)
        return AtRestIntegrityError()

    def blind_index(self, text: str) -> bytes:
        """HMAC-SHA256 of the case-folded text under a key derived from the KEK: equal names
        (ignoring case) index equal, and the index reveals nothing without the KEK."""
        return hmac.new(self._index_key, text.lower().encode(), hashlib.sha256).digest()
