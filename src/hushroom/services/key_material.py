"""Checks of every key object a client uploads (docs/crypto.md §4, §6, §7), before anything is
stored. The server verifies what it can without a secret: the identity key is a valid Ed25519
key, certificates verify under it for this user (and device), PUK keys pass the X-Wing checks,
and the sealed vault and its wrappings decode with the right labels. Failures name the object.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Any

from hushroom.crypto.device import DeviceCertificate, verify_device_certificate
from hushroom.crypto.encoding import decode
from hushroom.crypto.errors import CryptoError
from hushroom.crypto.identity import IdentityPublicKey
from hushroom.crypto.puk import PukCertificate, verify_puk_certificate
from hushroom.crypto.vault import VAULT_LABEL, WRAP_LABEL
from hushroom.errors import InvalidKeyMaterial, PayloadTooLarge
from hushroom.services.account_input import (
    AUTH_SECRET_BYTES,
    check_size,
    clean_device_name,
    clean_email,
    clean_kdf,
)
from hushroom.services.auth_hash import AuthHasher
from hushroom.storage.accounts import (
    AccountKeysRecord,
    DeviceRecord,
    PukCertificateRecord,
    VaultRecord,
)

RECOVERY_AUTH_BYTES = 32
MAX_CERTIFICATE_BYTES = 4096


@dataclass(frozen=True, slots=True)
class KeyUpload:
    """An account's first keys: at registration, or at the one-time set-up of an old account."""

    identity_key: bytes
    puk_certificate: bytes = field(repr=False)
    device_certificate: bytes = field(repr=False)
    vault: VaultRecord = field(repr=False)
    recovery_auth: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class CheckedKeys:
    keys: AccountKeysRecord
    puk: PukCertificateRecord
    device_certificate: bytes = field(repr=False)


def check_key_upload(
    upload: KeyUpload, user_id: uuid.UUID, device_id: uuid.UUID, now: int, max_vault_bytes: int
) -> CheckedKeys:
    """Every object of a first key upload, checked against the uploaded identity key."""
    identity = identity_key(upload.identity_key)
    puk = puk_certificate(upload.puk_certificate, identity, user_id, 1)
    device_certificate(upload.device_certificate, identity, user_id, device_id)
    return CheckedKeys(
        keys=AccountKeysRecord(
            identity_key=identity.key,
            vault=vault(upload.vault, max_vault_bytes),
            recovery_auth_hash=recovery_auth_hash(upload.recovery_auth),
        ),
        puk=PukCertificateRecord(user_id, 1, puk.encoded, now),
        device_certificate=upload.device_certificate,
    )


@dataclass(frozen=True, slots=True)
class NewIdentity:
    """A password and a new identity's keys with a first device, as the client made them:
    registration and account reset."""

    email: str
    kdf: dict[str, Any]  # docs/crypto.md §5.1 JSON form
    auth_secret: bytes = field(repr=False)
    device_id: uuid.UUID
    device_name: str | None
    keys: KeyUpload = field(repr=False)


@dataclass(frozen=True, slots=True)
class CheckedIdentity:
    email: str
    # (kdf_salt, kdf_params, auth_hash): what the server stores of the password.
    password: tuple[bytes, dict[str, Any], str] = field(repr=False)
    keys: CheckedKeys
    device: DeviceRecord


async def check_new_identity(
    n: NewIdentity, user_id: uuid.UUID, now: int, max_vault_bytes: int, hasher: AuthHasher
) -> CheckedIdentity:
    """Every field checked and the auth secret hashed, before anything is stored."""
    email = clean_email(n.email)
    salt, params = clean_kdf(n.kdf)
    check_size(n.auth_secret, AUTH_SECRET_BYTES, "auth_secret")
    keys = check_key_upload(n.keys, user_id, n.device_id, now, max_vault_bytes)
    device = DeviceRecord(
        n.device_id,
        user_id,
        clean_device_name(n.device_name),
        now,
        certificate=keys.device_certificate,
    )
    auth_hash = await hasher.hash(n.auth_secret)
    return CheckedIdentity(email, (salt, params, auth_hash), keys, device)


def identity_key(raw: bytes, name: str = "identity_key") -> IdentityPublicKey:
    try:
        return IdentityPublicKey(bytes(raw))
    except CryptoError as exc:
        raise InvalidKeyMaterial(f"{name}: {exc}", field=name) from None


def puk_certificate(
    data: bytes,
    identity: IdentityPublicKey,
    user_id: uuid.UUID,
    generation: int,
    name: str = "puk_certificate",
) -> PukCertificate:
    _small(data, name)
    try:
        cert = verify_puk_certificate(data, identity, str(user_id))
    except CryptoError as exc:
        raise InvalidKeyMaterial(f"{name}: {exc}", field=name) from None
    if cert.generation != generation:
        raise InvalidKeyMaterial(f"{name} must be for generation {generation}", field=name)
    return cert


def device_certificate(
    data: bytes,
    identity: IdentityPublicKey,
    user_id: uuid.UUID,
    device_id: uuid.UUID,
    name: str = "device_certificate",
) -> DeviceCertificate:
    _small(data, name)
    try:
        return verify_device_certificate(data, identity, str(user_id), str(device_id))
    except CryptoError as exc:
        raise InvalidKeyMaterial(f"{name}: {exc}", field=name) from None


def vault(upload: VaultRecord, max_bytes: int) -> VaultRecord:
    """The sealed vault (label, 12-byte nonce) and two wrappings of the right kinds, as
    uploaded; returned as it came once every part is checked."""
    if len(upload.sealed) > max_bytes:
        raise PayloadTooLarge(f"the vault is limited to {max_bytes} bytes", field="vault")
    try:
        decode(upload.sealed, VAULT_LABEL, 1, 2).fixed(0, 12)
    except CryptoError as exc:
        raise InvalidKeyMaterial(f"vault: {exc}", field="vault") from None
    return VaultRecord(
        upload.sealed,
        wrapping(upload.password_wrapping, "password", "vault"),
        wrapping(upload.recovery_wrapping, "recovery", "vault"),
    )


def wrapping(data: bytes, kind: str, name: str) -> bytes:
    """A wrapping of the 32-byte vault key: label, kind, 12-byte nonce, 32 + 16 bytes of GCM."""
    _small(data, name)
    try:
        record = decode(data, WRAP_LABEL, 1, 3)
        ok = record.ident(0) == kind and len(record.raw(2)) == 48
        record.fixed(1, 12)
    except CryptoError as exc:
        raise InvalidKeyMaterial(f"{name}: {exc}", field=name) from None
    if not ok:
        raise InvalidKeyMaterial(f"{name}: not a {kind} wrapping of a vault key", field=name)
    return data


def recovery_auth_hash(recovery_auth: bytes, name: str = "recovery_auth") -> bytes:
    """What the server stores of the recovery authenticator (§6.5): its SHA-256."""
    check_size(recovery_auth, RECOVERY_AUTH_BYTES, name)
    return hashlib.sha256(recovery_auth).digest()


def _small(data: bytes, name: str) -> None:
    if not data or len(data) > MAX_CERTIFICATE_BYTES:
        raise InvalidKeyMaterial(f"{name} is empty or too large", field=name)
