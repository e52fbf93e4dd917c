"""The SDK's account keys (docs/decisions/0003, docs/crypto.md §6–§7).

- `UnlockedKeys`: what a logged-in client holds after unlocking its vault (identity key, vault
  contents, vault key, this device's key). Reprs never show a secret.
- `KeyDirectory` / `verify_key_directory`: another user's published keys, every certificate
  checked against the identity key.
- `KeyPinStore` / `MemoryKeyPins`: trust on first use of identity keys; a changed key is reported
  (`IdentityKeyChanged`), never silently accepted.
- `register_body` and friends: the JSON the server expects for registration, set-up and re-keys,
  shared by the SDK and by tools that register many accounts (bench).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from hushroom.client.errors import KeyDirectoryInvalid
from hushroom.client.models import b64url_decode, b64url_encode
from hushroom.crypto.account import AccountKeys
from hushroom.crypto.device import DeviceCertificate, DeviceKey, verify_device_certificate
from hushroom.crypto.errors import CryptoError, Malformed
from hushroom.crypto.identity import IdentityKey, IdentityPublicKey
from hushroom.crypto.password import KdfParams
from hushroom.crypto.puk import PukCertificate, PukKeyPair, verify_puk_certificate
from hushroom.crypto.vault import SealedVault, VaultContents, VaultKey


def vault_json(vault: SealedVault) -> dict[str, str]:
    """`vault` {`sealed`, `password_wrapping`, `recovery_wrapping`} (register, setup, revoke)."""
    return {
        "sealed": b64url_encode(vault.sealed),
        "password_wrapping": b64url_encode(vault.password_wrapping),
        "recovery_wrapping": b64url_encode(vault.recovery_wrapping),
    }


def register_body(
    *,
    user_id: str,
    device_id: str,
    display_name: str,
    email: str,
    params: KdfParams,
    auth_secret: bytes,
    keys: AccountKeys,
    device_name: str | None = None,
) -> dict[str, Any]:
    """`POST /api/v1/auth/register` (docs/protocol.md "Register body"): the account exists fully
    keyed or not at all. ``keys`` must carry the certificate of ``device_id``."""
    if keys.device_certificate is None:
        raise ValueError("registration needs the first device's certificate")
    if keys.user_id != user_id:
        raise ValueError("keys were made for another user id")
    device: dict[str, Any] = {
        "device_id": device_id,
        "certificate": b64url_encode(keys.device_certificate),
    }
    if device_name is not None:
        device["name"] = device_name
    return {
        "user_id": user_id,
        "display_name": display_name,
        "email": email,
        "kdf": params.to_json(),
        "auth_secret": b64url_encode(auth_secret),
        "identity_key": b64url_encode(keys.identity_public),
        "puk_certificate": b64url_encode(keys.puk_certificate),
        "device": device,
        "vault": vault_json(keys.vault),
        "recovery_auth": b64url_encode(keys.recovery_auth),
    }


def setup_body(keys: AccountKeys) -> dict[str, Any]:
    """`POST /api/v1/keys/setup`: the one-time keys of an account created before real keys."""
    if keys.device_certificate is None:
        raise ValueError("set-up needs the calling device's certificate")
    return {
        "identity_key": b64url_encode(keys.identity_public),
        "puk_certificate": b64url_encode(keys.puk_certificate),
        "device_certificate": b64url_encode(keys.device_certificate),
        "vault": vault_json(keys.vault),
        "recovery_auth": b64url_encode(keys.recovery_auth),
    }


@dataclass(frozen=True, slots=True)
class VaultRecord:
    """`GET /api/v1/keys/vault`: the sealed vault, both wrappings, and its version (for CAS)."""

    user_id: str
    vault: SealedVault = field(repr=False)
    vault_version: int

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VaultRecord:
        return cls(
            user_id=str(uuid.UUID(data["user_id"])),
            vault=SealedVault(
                sealed=b64url_decode(data["sealed_vault"]),
                password_wrapping=b64url_decode(data["password_wrapping"]),
                recovery_wrapping=b64url_decode(data["recovery_wrapping"]),
            ),
            vault_version=int(data["vault_version"]),
        )


@dataclass(frozen=True, slots=True)
class UnlockedKeys:
    """An unlocked account on this client. Only ``repr`` shows: ids, public keys, versions."""

    user_id: str
    identity: IdentityKey = field(repr=False)
    contents: VaultContents = field(repr=False)
    vault_key: VaultKey = field(repr=False)
    vault_version: int
    # This client's device and its signing key (None when the session's device is certified
    # with a key this client does not hold).
    device_id: str | None
    device_key: DeviceKey | None = field(repr=False)

    @property
    def identity_public(self) -> bytes:
        return self.identity.public_key

    @property
    def puk_generations(self) -> list[int]:
        return [g for g, _ in self.contents.puk_seeds]

    @property
    def latest_puk_generation(self) -> int:
        return self.contents.latest_puk_generation

    def puk(self, generation: int | None = None) -> PukKeyPair:
        """The PUK key pair of ``generation`` (the latest by default)."""
        generation = self.latest_puk_generation if generation is None else generation
        seed = self.contents.puk_seed(generation)
        if seed is None:
            raise KeyError(f"no PUK generation {generation} in the vault")
        return PukKeyPair(generation, seed)

    def __repr__(self) -> str:
        device = None if self.device_key is None else self.device_key.public_key.hex()
        return (
            f"UnlockedKeys(user_id={self.user_id!r}, identity_public={self.identity_public.hex()}, "
            f"puk_generations={self.puk_generations}, vault_version={self.vault_version}, "
            f"device_id={self.device_id!r}, device_public={device}, secrets=<redacted>)"
        )

    __str__ = __repr__


# --- the key directory -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DirectoryDevice:
    certificate: DeviceCertificate
    created_at: int
    revoked_at: int | None

    @property
    def device_id(self) -> str:
        return self.certificate.device_id

    @property
    def public_key(self) -> bytes:
        return self.certificate.public_key

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class KeyDirectory:
    """A user's published keys, verified: every PUK and device certificate is signed by
    ``identity_key`` for this user (and the listed device)."""

    user_id: str
    identity_key: IdentityPublicKey
    keys_version: int
    puks: tuple[PukCertificate, ...]
    devices: tuple[DirectoryDevice, ...]

    @property
    def latest_puk(self) -> PukCertificate:
        return max(self.puks, key=lambda p: p.generation)

    @property
    def active_devices(self) -> tuple[DirectoryDevice, ...]:
        return tuple(d for d in self.devices if d.active)

    def device(self, device_id: str) -> DirectoryDevice | None:
        return next((d for d in self.devices if d.device_id == device_id), None)

    def __repr__(self) -> str:
        generations = [p.generation for p in self.puks]
        return (
            f"KeyDirectory(user_id={self.user_id!r}, identity_key={self.identity_key.key.hex()}, "
            f"keys_version={self.keys_version}, puk_generations={generations}, "
            f"devices={[d.device_id for d in self.devices]})"
        )


def verify_key_directory(
    data: Mapping[str, Any], expected_user_id: str | None = None
) -> KeyDirectory:
    """Parse `GET /api/v1/users/{id}/keys` and check every certificate against its identity key.

    Raises `KeyDirectoryInvalid` (caused by the crypto core's typed error) on any failure: one bad
    certificate makes the whole directory untrustworthy.
    """
    user_id = str(data.get("user_id"))
    try:
        user_id = str(uuid.UUID(user_id))
        if expected_user_id is not None and user_id != str(uuid.UUID(expected_user_id)):
            raise Malformed("directory of another user")
        identity = IdentityPublicKey(b64url_decode(str(data["identity_key"])))
        puks: list[PukCertificate] = []
        for entry in data["puks"]:
            cert = verify_puk_certificate(
                b64url_decode(str(entry["certificate"])), identity, user_id
            )
            if cert.generation != int(entry["generation"]):
                raise Malformed("listed PUK generation differs from its certificate")
            puks.append(cert)
        generations = [p.generation for p in puks]
        if not puks or len(set(generations)) != len(generations):
            raise Malformed("PUK generations must be present and unique")
        devices: list[DirectoryDevice] = []
        for entry in data["devices"]:
            device_id = str(entry["device_id"])
            device_cert = verify_device_certificate(
                b64url_decode(str(entry["certificate"])), identity, user_id, device_id
            )
            revoked_at = entry.get("revoked_at")
            devices.append(
                DirectoryDevice(
                    device_cert,
                    int(entry["created_at"]),
                    None if revoked_at is None else int(revoked_at),
                )
            )
        return KeyDirectory(
            user_id=user_id,
            identity_key=identity,
            keys_version=int(data["keys_version"]),
            puks=tuple(sorted(puks, key=lambda p: p.generation)),
            devices=tuple(devices),
        )
    except CryptoError as exc:
        raise KeyDirectoryInvalid(user_id, f"{type(exc).__name__}: {exc}") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise KeyDirectoryInvalid(user_id, f"malformed answer: {exc!r}") from exc


class KeyPinStore(Protocol):
    """Where a client remembers the identity key it first saw for each user (TOFU)."""

    def get(self, user_id: str) -> bytes | None: ...

    def pin(self, user_id: str, identity_key: bytes) -> None: ...


class MemoryKeyPins:
    """An in-memory `KeyPinStore` (the default; bots that persist pins bring their own)."""

    def __init__(self) -> None:
        self._pins: dict[str, bytes] = {}

    def get(self, user_id: str) -> bytes | None:
        return self._pins.get(user_id)

    def pin(self, user_id: str, identity_key: bytes) -> None:
        self._pins[user_id] = bytes(identity_key)

    def __len__(self) -> int:
        return len(self._pins)

    def __repr__(self) -> str:
        return f"MemoryKeyPins({len(self._pins)} users)"
