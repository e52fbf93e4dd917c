"""The vault's secret on any session: `GET /keys/vault/kdf` says which secret unlocks it and how
it is derived, `POST /keys/vault/unlock` releases the whole vault once the secret is proven
(the path a session that signed in through a provider must take; docs/decisions/0007)."""

from __future__ import annotations

import os

import httpx

from tests.support.accounts import b64, register_and_login

AUTH = "/api/v1/auth"


async def test_kdf_of_a_password_account_is_its_prelogin_kdf(client: httpx.AsyncClient) -> None:
    alice = await register_and_login(client, "Alice")
    r = await client.get("/api/v1/keys/vault/kdf", headers=alice.headers)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    pre = await client.post(f"{AUTH}/prelogin", json={"email": alice.email})
    assert r.json() == {"kdf": pre.json()["kdf"], "secret": "password"}


async def test_unlock_with_the_right_secret_releases_the_password_wrapping(
    client: httpx.AsyncClient,
) -> None:
    alice = await register_and_login(client, "Alice")
    plain = (await client.get("/api/v1/keys/vault", headers=alice.headers)).json()
    r = await client.post(
        "/api/v1/keys/vault/unlock",
        json={"auth_secret": b64(alice.auth_secret)},
        headers=alice.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json() == plain  # a password session had the wrapping already
    assert r.json()["password_wrapping"]


async def test_unlock_with_a_wrong_secret_is_refused_and_counted(
    client: httpx.AsyncClient,
) -> None:
    alice = await register_and_login(client, "Alice")
    r = await client.post(
        "/api/v1/keys/vault/unlock",
        json={"auth_secret": b64(os.urandom(32))},
        headers=alice.headers,
    )
    assert r.status_code == 401
    assert r.json()["code"] == "invalid_credentials"
    assert r.json()["field"] == "auth_secret"
    assert "password_wrapping" not in r.text


async def test_unlock_needs_a_session(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/keys/vault/unlock", json={"auth_secret": b64(os.urandom(32))})
    assert r.status_code == 401
    assert (await client.get("/api/v1/keys/vault/kdf")).status_code == 401


async def test_unlock_refuses_a_secret_of_the_wrong_size(client: httpx.AsyncClient) -> None:
    alice = await register_and_login(client, "Alice")
    r = await client.post(
        "/api/v1/keys/vault/unlock",
        json={"auth_secret": b64(os.urandom(12))},
        headers=alice.headers,
    )
    assert r.status_code == 422
