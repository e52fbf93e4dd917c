"""Account helpers for API tests: register (with real keys) and log in over HTTP.

The auth secret and the password key are random bytes here: deriving them from a password with
Argon2id is the SDK's job, and the server never sees either. The keys themselves are real
(identity, PUK, device certificate, sealed vault), built by the Python core.
"""

from __future__ import annotations

import base64
import os
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from hushroom.crypto.account import AccountKeys, create_account_keys
from hushroom.crypto.device import DeviceKey
from hushroom.crypto.primitives import Secret
from hushroom.services.accounts import Registration
from hushroom.services.key_material import KeyUpload, NewIdentity
from hushroom.storage.accounts import VaultRecord

REFRESH_COOKIE = "__Host-hushroom_refresh"
# As storage keeps them (the salt in its own column) ...
KDF_PARAMS: dict[str, Any] = {"alg": "argon2id", "version": 1, "m_kib": 65536, "t": 3, "p": 1}
# ... and the wire's `kdf` (docs/crypto.md §5.1 JSON form) without its salt.
KDF: dict[str, Any] = {"v": 1, "alg": "argon2id", "m": 65536, "t": 3, "p": 1}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def kdf_json(salt: bytes | None = None, **overrides: Any) -> dict[str, Any]:
    """A wire `kdf` (docs/crypto.md §5.1): the minimum parameters and a fresh 16-byte salt."""
    return {**KDF, "salt": b64(salt if salt is not None else os.urandom(16)), **overrides}


def unb64(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


@dataclass
class Account:
    name: str
    email: str
    auth_secret: bytes = field(repr=False)
    user_id: str = ""
    device_id: str = ""
    session_id: str = ""
    access_token: str = field(default="", repr=False)
    refresh_token: str = field(default="", repr=False)
    keys: AccountKeys | None = field(default=None, repr=False)
    password_key: Secret | None = field(default=None, repr=False)
    device_key: DeviceKey | None = field(default=None, repr=False)
    registered_device_id: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def email_for(name: str) -> str:
    return f"{name.lower().replace(' ', '.')}@example.test"


@dataclass(frozen=True)
class KeyedBody:
    """A registration body and the secrets behind it."""

    body: dict[str, Any]
    keys: AccountKeys = field(repr=False)
    password_key: Secret = field(repr=False)
    device_key: DeviceKey = field(repr=False)


def vault_json(keys: AccountKeys) -> dict[str, str]:
    return {
        "sealed": b64(keys.vault.sealed),
        "password_wrapping": b64(keys.vault.password_wrapping),
        "recovery_wrapping": b64(keys.vault.recovery_wrapping),
    }


def keys_json(keys: AccountKeys) -> dict[str, Any]:
    """The key fields shared by registration and the one-time set-up."""
    return {
        "identity_key": b64(keys.identity_public),
        "puk_certificate": b64(keys.puk_certificate),
        "vault": vault_json(keys),
        "recovery_auth": b64(keys.recovery_auth),
    }


def keyed_register_body(
    name: str,
    email: str | None = None,
    secret: bytes | None = None,
    **overrides: Any,
) -> KeyedBody:
    user_id, device_id = str(uuid.uuid4()), str(uuid.uuid4())
    password_key = Secret(os.urandom(32))
    device_key = DeviceKey.generate()
    keys = create_account_keys(user_id, password_key, 1, device=(device_id, device_key.public_key))
    assert keys.device_certificate is not None
    body: dict[str, Any] = {
        "user_id": user_id,
        "display_name": name,
        "email": email or email_for(name),
        "kdf": kdf_json(),
        "auth_secret": b64(secret if secret is not None else os.urandom(32)),
        **keys_json(keys),
        "device": {
            "device_id": device_id,
            "name": "registering device",
            "certificate": b64(keys.device_certificate),
        },
    }
    body.update(overrides)
    return KeyedBody(body, keys, password_key, device_key)


def register_body(
    name: str,
    email: str | None = None,
    secret: bytes | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    return keyed_register_body(name, email, secret, **overrides).body


async def register(client: httpx.AsyncClient, name: str, email: str | None = None) -> Account:
    secret = os.urandom(32)
    keyed = keyed_register_body(name, email, secret)
    r = await client.post("/api/v1/auth/register", json=keyed.body)
    assert r.status_code == 201, r.text
    return Account(
        name=name,
        email=keyed.body["email"],
        auth_secret=secret,
        user_id=r.json()["user_id"],
        keys=keyed.keys,
        password_key=keyed.password_key,
        device_key=keyed.device_key,
        registered_device_id=r.json()["device_id"],
    )


async def login(
    client: httpx.AsyncClient,
    account: Account,
    *,
    device_id: str | None = None,
    device_name: str | None = "test device",
) -> Account:
    """Log in (again) as `account`; updates and returns it with fresh tokens."""
    body: dict[str, Any] = {
        "email": account.email,
        "auth_secret": b64(account.auth_secret),
        "return_refresh_token": True,
    }
    if device_name is not None:
        body["device_name"] = device_name
    if device_id is not None:
        body["device_id"] = device_id
    r = await client.post("/api/v1/auth/login", json=body)
    assert r.status_code == 200, r.text
    data = r.json()
    account.access_token = data["access_token"]
    account.refresh_token = data["refresh_token"]
    account.device_id = data["device_id"]
    account.session_id = data["session_id"]
    return account


async def register_and_login(
    client: httpx.AsyncClient, name: str, email: str | None = None
) -> Account:
    return await login(client, await register(client, name, email))


def registration(body: dict[str, Any]) -> Registration:
    """A register body as the service's command (for tests that call the service directly)."""
    return Registration(
        user_id=uuid.UUID(body["user_id"]),
        display_name=body["display_name"],
        identity=NewIdentity(
            email=body["email"],
            kdf=dict(body["kdf"]),
            auth_secret=unb64(body["auth_secret"]),
            device_id=uuid.UUID(body["device"]["device_id"]),
            device_name=body["device"]["name"],
            keys=KeyUpload(
                identity_key=unb64(body["identity_key"]),
                puk_certificate=unb64(body["puk_certificate"]),
                device_certificate=unb64(body["device"]["certificate"]),
                vault=VaultRecord(
                    unb64(body["vault"]["sealed"]),
                    unb64(body["vault"]["password_wrapping"]),
                    unb64(body["vault"]["recovery_wrapping"]),
                ),
                recovery_auth=unb64(body["recovery_auth"]),
            ),
        ),
    )
