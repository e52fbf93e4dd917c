"""Contacts' keys for end-to-end encryption: a cache of verified key directories, and identity
key pins that survive a restart.

- `ContactKeys`: every other user's verified `KeyDirectory` (identity key, PUK and device
  certificates), fetched once and refreshed when a device or PUK generation is not in it yet.
  Fetching goes through `HushroomClient.key_directory`, so the identity key is pinned on first
  sight (TOFU) and a changed one raises `IdentityKeyChanged` instead of being accepted.
- `FileKeyPins`: a `KeyPinStore` persisted as a JSON file (user id → identity key, base64url),
  for bots that restart: `HushroomClient(url, key_pins=FileKeyPins(path))`.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from hushroom.client.keys import KeyDirectory
from hushroom.client.models import b64url_decode, b64url_encode, id_str
from hushroom.crypto.device import DeviceCertificate
from hushroom.crypto.puk import PukCertificate

DirectoryFetch = Callable[[str], Awaitable[KeyDirectory]]


class FileKeyPins:
    """Identity key pins in a JSON file, written atomically on every new pin."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._pins: dict[str, bytes] = {}
        if self.path.exists():
            data = json.loads(self.path.read_text("utf-8"))
            if not isinstance(data, dict):
                raise ValueError(f"{self.path}: expected a JSON object of pins")
            self._pins = {str(k): b64url_decode(str(v)) for k, v in data.items()}

    def get(self, user_id: str) -> bytes | None:
        return self._pins.get(user_id)

    def pin(self, user_id: str, identity_key: bytes) -> None:
        if self._pins.get(user_id) == identity_key:
            return
        self._pins[user_id] = bytes(identity_key)
        self._save()

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {k: b64url_encode(v) for k, v in sorted(self._pins.items())}
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".pins-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=1)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def __len__(self) -> int:
        return len(self._pins)

    def __repr__(self) -> str:
        return f"FileKeyPins({str(self.path)!r}, {len(self._pins)} users)"


class ContactKeys:
    """Verified key directories by user id, cached; `fetch` pins identity keys (TOFU)."""

    def __init__(self, fetch: DirectoryFetch) -> None:
        self._fetch = fetch
        self._directories: dict[str, KeyDirectory] = {}
        self.fetches = 0

    def cached(self, user_id: str) -> KeyDirectory | None:
        return self._directories.get(id_str(user_id))

    async def directory(self, user_id: str, *, refresh: bool = False) -> KeyDirectory:
        """The user's verified directory (from the cache unless `refresh`)."""
        uid = id_str(user_id)
        directory = self._directories.get(uid)
        if directory is None or refresh:
            self.fetches += 1
            directory = await self._fetch(uid)
            self._directories[uid] = directory
        return directory

    def forget(self, user_id: str | None = None) -> None:
        """Drop one user's cached directory (or all): the next use fetches it again."""
        if user_id is None:
            self._directories.clear()
        else:
            self._directories.pop(id_str(user_id), None)

    async def device_certificate(self, user_id: str, device_id: str) -> DeviceCertificate | None:
        """The verified certificate of a (possibly revoked) device, refetching the directory
        once when the device is not in the cached one; None if the user has no such device."""
        uid, did = id_str(user_id), id_str(device_id)
        directory = await self.directory(uid)
        device = directory.device(did)
        if device is None:
            directory = await self.directory(uid, refresh=True)
            device = directory.device(did)
        return None if device is None else device.certificate

    def cached_certificate(self, user_id: str, device_id: str) -> DeviceCertificate | None:
        directory = self._directories.get(user_id)
        device = None if directory is None else directory.device(device_id)
        return None if device is None else device.certificate

    async def latest_puk(self, user_id: str, *, refresh: bool = False) -> PukCertificate:
        """The user's latest certified PUK (verified under their pinned identity key)."""
        return (await self.directory(user_id, refresh=refresh)).latest_puk
