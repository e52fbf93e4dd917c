"""Keys and devices over HTTP (thin routes over KeyService): the vault, the encrypted per-user
stores (UserStoreService), the one-time key set-up, the key directory, devices, revocation and
password change (docs/protocol.md)."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field, StrictBool, StrictInt

from hushroom.api.abuse import AddressDep
from hushroom.api.auth import (
    _MAX_BLOB_B64,
    _MAX_KEY_B64,
    _MAX_SECRET_B64,
    Kdf,
    KeysIn,
    NewPasswordIn,
    VaultIn,
    VaultOut,
)
from hushroom.api.b64 import B64Url, decode_b64url
from hushroom.api.deps import ContainerDep, PrincipalDep
from hushroom.api.schemas import Strict
from hushroom.services.keys import Rekey, Vault
from hushroom.services.views import b64url
from hushroom.storage.accounts import DeviceRecord

router = APIRouter(prefix="/api/v1", tags=["keys"])


class SetupIn(KeysIn):
    device_certificate: B64Url = Field(max_length=_MAX_KEY_B64)


class PukOut(BaseModel):
    generation: int
    certificate: str
    created_at: int


class DirectoryDeviceOut(BaseModel):
    device_id: str
    certificate: str
    created_at: int
    revoked_at: int | None


class DirectoryOut(BaseModel):
    user_id: str
    identity_key: str
    keys_version: int
    puks: list[PukOut]
    devices: list[DirectoryDeviceOut]


class DeviceOut(BaseModel):
    device_id: str
    name: str
    created_at: int
    last_active_at: int | None
    revoked_at: int | None
    certified: bool
    current: bool


class CertificateIn(Strict):
    certificate: B64Url = Field(max_length=_MAX_KEY_B64)


class RenameIn(Strict):
    name: str = Field(min_length=1, max_length=100)


class RevokeIn(Strict):
    auth_secret: B64Url = Field(max_length=_MAX_SECRET_B64)
    vault_version: StrictInt
    vault: VaultIn
    recovery_auth: B64Url = Field(max_length=_MAX_SECRET_B64)
    puk_certificate: B64Url = Field(max_length=_MAX_KEY_B64)


class RevokeOut(BaseModel):
    vault_version: int
    keys_version: int


class PasswordChangeIn(NewPasswordIn):
    current_auth_secret: B64Url = Field(max_length=_MAX_SECRET_B64)
    vault_version: StrictInt
    keep_other_sessions: StrictBool = False


class StoreName(StrEnum):
    """The encrypted per-user stores (docs/crypto.md §6.6): only `contacts` so far."""

    contacts = "contacts"


class UserStoreOut(BaseModel):
    version: int
    blob: str | None


class UserStoreIn(Strict):
    expected_version: StrictInt = Field(ge=0, le=2_000_000_000)
    blob: B64Url = Field(max_length=_MAX_BLOB_B64)


class UserStorePutOut(BaseModel):
    version: int


def _no_store(response: Response) -> None:
    response.headers["Cache-Control"] = "no-store"


def _vault_view(v: Vault) -> dict[str, Any]:
    view = {
        "user_id": str(v.user_id),
        "sealed_vault": b64url(v.vault.sealed),
        "recovery_wrapping": b64url(v.vault.recovery_wrapping),
        "vault_version": v.vault_version,
    }
    if v.password_released:
        view["password_wrapping"] = b64url(v.vault.password_wrapping)
    return view


@router.get("/keys/vault", response_model=VaultOut, response_model_exclude_none=True)
async def get_vault(c: ContainerDep, p: PrincipalDep, response: Response) -> dict[str, Any]:
    """Without `password_wrapping` for a session that signed in through a provider: that one
    comes from `POST /keys/vault/unlock`, after the password or passphrase is proven."""
    v = await c.keys.vault(p)
    _no_store(response)
    return _vault_view(v)


class VaultKdfOut(BaseModel):
    kdf: Kdf
    # "password": the account password; "passphrase": a provider account's chat passphrase.
    secret: Literal["password", "passphrase"]


@router.get("/keys/vault/kdf", response_model=VaultKdfOut)
async def get_vault_kdf(c: ContainerDep, p: PrincipalDep, response: Response) -> dict[str, Any]:
    kdf = await c.keys.vault_kdf(p)
    _no_store(response)
    return {"kdf": kdf.kdf, "secret": "password" if kdf.password_login else "passphrase"}


class VaultUnlockIn(Strict):
    auth_secret: B64Url = Field(max_length=64)


@router.post("/keys/vault/unlock", response_model=VaultOut, response_model_exclude_none=True)
async def unlock_vault(
    c: ContainerDep, p: PrincipalDep, body: VaultUnlockIn, response: Response, addr: AddressDep
) -> dict[str, Any]:
    """The whole vault once the password's (or passphrase's) auth secret is proven; guesses
    count toward the login limits."""
    v = await c.keys.unlock_vault(p, decode_b64url(body.auth_secret), address=addr)
    _no_store(response)
    return _vault_view(v)


@router.get("/keys/stores/{name}", response_model=UserStoreOut)
async def get_user_store(
    c: ContainerDep, p: PrincipalDep, name: StoreName, response: Response
) -> dict[str, Any]:
    stored = await c.user_stores.get(p, name.value)
    _no_store(response)
    return {
        "version": stored.version,
        "blob": b64url(stored.blob) if stored.blob is not None else None,
    }


@router.put("/keys/stores/{name}", response_model=UserStorePutOut)
async def put_user_store(
    c: ContainerDep, p: PrincipalDep, name: StoreName, body: UserStoreIn
) -> dict[str, Any]:
    version = await c.user_stores.put(
        p, name.value, body.expected_version, decode_b64url(body.blob)
    )
    return {"version": version}


@router.post("/keys/setup", status_code=204)
async def setup_keys(c: ContainerDep, p: PrincipalDep, body: SetupIn) -> Response:
    await c.keys.setup(p, body.upload(body.device_certificate))
    return Response(status_code=204)


@router.get("/users/{user_id}/keys", response_model=DirectoryOut)
async def key_directory(c: ContainerDep, _p: PrincipalDep, user_id: uuid.UUID) -> dict[str, Any]:
    d = await c.keys.directory(user_id)
    return {
        "user_id": str(d.user_id),
        "identity_key": b64url(d.identity_key),
        "keys_version": d.keys_version,
        "puks": [
            {
                "generation": k.generation,
                "certificate": b64url(k.certificate),
                "created_at": k.created_at,
            }
            for k in d.puks
        ],
        "devices": [
            {
                "device_id": str(dev.id),
                "certificate": b64url(dev.certificate or b""),
                "created_at": dev.created_at,
                "revoked_at": dev.revoked_at,
            }
            for dev in d.devices
        ],
    }


def _device_view(d: DeviceRecord, current: uuid.UUID) -> dict[str, Any]:
    return {
        "device_id": str(d.id),
        "name": d.name,
        "created_at": d.created_at,
        "last_active_at": d.last_active_at,
        "revoked_at": d.revoked_at,
        "certified": d.certificate is not None,
        "current": d.id == current,
    }


@router.get("/devices", response_model=list[DeviceOut])
async def list_devices(c: ContainerDep, p: PrincipalDep) -> list[dict[str, Any]]:
    return [_device_view(d, p.device_id) for d in await c.keys.devices(p)]


@router.put("/devices/{device_id}/certificate", status_code=204)
async def certify_device(
    c: ContainerDep, p: PrincipalDep, device_id: uuid.UUID, body: CertificateIn
) -> Response:
    await c.keys.certify_device(p, device_id, decode_b64url(body.certificate))
    return Response(status_code=204)


@router.patch("/devices/{device_id}", status_code=204)
async def rename_device(
    c: ContainerDep, p: PrincipalDep, device_id: uuid.UUID, body: RenameIn
) -> Response:
    await c.keys.rename_device(p, device_id, body.name)
    return Response(status_code=204)


@router.post("/devices/{device_id}/revoke", response_model=RevokeOut)
async def revoke_device(
    c: ContainerDep, p: PrincipalDep, device_id: uuid.UUID, body: RevokeIn
) -> dict[str, Any]:
    vault_version, keys_version = await c.keys.revoke_device(
        p,
        device_id,
        decode_b64url(body.auth_secret),
        Rekey(
            vault_version=body.vault_version,
            vault=body.vault.upload(),
            recovery_auth=decode_b64url(body.recovery_auth),
            puk_certificate=decode_b64url(body.puk_certificate),
        ),
    )
    return {"vault_version": vault_version, "keys_version": keys_version}


@router.post("/account/password", status_code=204)
async def change_password(c: ContainerDep, p: PrincipalDep, body: PasswordChangeIn) -> Response:
    await c.keys.change_password(
        p,
        decode_b64url(body.current_auth_secret),
        body.new_password(),
        body.vault_version,
        keep_other_sessions=body.keep_other_sessions,
    )
    return Response(status_code=204)
