"""Account helpers for API tests: register and log in over HTTP.

The auth secret is random bytes here: deriving it from a password with Argon2id is the SDK's job.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from typing import Any

import httpx

REFRESH_COOKIE = "__Host-hushroom_refresh"
KDF_PARAMS: dict[str, Any] = {"alg": "argon2id", "version": 1, "m_kib": 65536, "t": 3, "p": 1}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


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
    key_bundle: bytes = b""
    vault: bytes = b""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def email_for(name: str) -> str:
    return f"{name.lower().replace(' ', '.')}@example.test"


def register_body(
    name: str,
    email: str | None = None,
    secret: bytes | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "display_name": name,
        "email": email or email_for(name),
        "kdf_salt": b64(os.urandom(16)),
        "kdf_params": dict(KDF_PARAMS),
        "auth_secret": b64(secret if secret is not None else os.urandom(32)),
        "key_bundle": b64(b"public-keys-of-" + name.encode()),
        "vault": b64(b"sealed-vault-of-" + name.encode()),
    }
    body.update(overrides)
    return body


async def register(client: httpx.AsyncClient, name: str, email: str | None = None) -> Account:
    secret = os.urandom(32)
    body = register_body(name, email, secret)
    r = await client.post("/api/v1/auth/register", json=body)
    assert r.status_code == 201, r.text
    return Account(
        name=name,
        email=body["email"],
        auth_secret=secret,
        user_id=r.json()["user_id"],
        key_bundle=unb64(body["key_bundle"]),
        vault=unb64(body["vault"]),
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
