"""Encrypted per-user stores over HTTP (`/api/v1/keys/stores/contacts`): the verified contacts,
sealed by the client (docs/crypto.md §6.6), read and replaced by compare-and-swap only by the
user's own live sessions."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from hushroom.crypto.account import rekey_account
from hushroom.crypto.contacts_store import (
    MAX_STORE_BYTES,
    STORE_LABEL,
    open_contacts_store,
    seal_contacts_store,
)
from hushroom.crypto.encoding import encode
from hushroom.crypto.primitives import Secret
from tests.support.accounts import (
    Account,
    b64,
    login,
    register_and_login,
    unb64,
    vault_json,
)

URL = "/api/v1/keys/stores/contacts"


def _seed(account: Account) -> Secret:
    assert account.keys is not None
    return account.keys.identity.seed


def _blob(account: Account, version: int, verified: dict[str, str]) -> str:
    return b64(seal_contacts_store(_seed(account), account.user_id, version, verified))


async def _put(
    client: httpx.AsyncClient, account: Account, expected: int, blob: str
) -> httpx.Response:
    return await client.put(
        URL, json={"expected_version": expected, "blob": blob}, headers=account.headers
    )


async def test_round_trip_and_compare_and_swap(client: httpx.AsyncClient) -> None:
    alice = await register_and_login(client, "Alice")
    r = await client.get(URL, headers=alice.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"version": 0, "blob": None}
    assert r.headers["cache-control"] == "no-store"

    first = {"0a9e8d7c-6b5a-4f3e-9d2c-1b0a9f8e7d6c": "ab" * 32}
    r = await _put(client, alice, 0, _blob(alice, 1, first))
    assert r.status_code == 200, r.text
    assert r.json() == {"version": 1}

    r = await client.get(URL, headers=alice.headers)
    data = r.json()
    assert data["version"] == 1
    assert open_contacts_store(_seed(alice), alice.user_id, 1, unb64(data["blob"])) == first

    # A write on top of an old version loses, and is told the current one.
    second = {**first, "d2b7c1e0-5a4f-4e8b-8c3d-1f0e9a7b6c55": "cd" * 32}
    for stale in (0, 2):
        r = await _put(client, alice, stale, _blob(alice, stale + 1, second))
        assert r.status_code == 409
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == "store_conflict"
        assert r.json()["current_version"] == 1
    r = await _put(client, alice, 1, _blob(alice, 2, second))
    assert r.json() == {"version": 2}

    # Another session (another browser) of the same user reads the same store.
    other = await login(client, Account(**{**alice.__dict__}))
    r = await client.get(URL, headers=other.headers)
    assert r.json()["version"] == 2
    assert open_contacts_store(_seed(alice), alice.user_id, 2, unb64(r.json()["blob"])) == second


async def test_racing_writes_one_wins(client: httpx.AsyncClient) -> None:
    alice = await register_and_login(client, "Alice")
    for expected in (0, 1):
        blobs = [_blob(alice, expected + 1, {f"user-{i}": "ab" * 32}) for i in range(2)]
        results = await asyncio.gather(*(_put(client, alice, expected, b) for b in blobs))
        assert sorted(r.status_code for r in results) == [200, 409]
    r = await client.get(URL, headers=alice.headers)
    assert r.json()["version"] == 2


async def test_each_user_reads_only_their_own_store(client: httpx.AsyncClient) -> None:
    alice = await register_and_login(client, "Alice")
    bob = await register_and_login(client, "Bob")
    assert (await _put(client, alice, 0, _blob(alice, 1, {}))).status_code == 200
    r = await client.get(URL, headers=bob.headers)
    assert r.json() == {"version": 0, "blob": None}
    # Bob's write goes to his own store, not over Alice's.
    assert (await _put(client, bob, 0, _blob(bob, 1, {}))).json() == {"version": 1}
    r = await client.get(URL, headers=alice.headers)
    data = r.json()
    assert open_contacts_store(_seed(alice), alice.user_id, 1, unb64(data["blob"])) == {}


async def test_size_limit_shape_and_store_names(client: httpx.AsyncClient) -> None:
    alice = await register_and_login(client, "Alice")
    nonce = bytes(12)
    too_big = encode(STORE_LABEL, 1, [nonce, bytes(MAX_STORE_BYTES)])
    r = await _put(client, alice, 0, b64(too_big))
    assert r.status_code == 413
    assert r.json()["code"] == "payload_too_large"
    assert r.json()["field"] == "blob"

    for bad in (b"", b"not a store", encode("hushroom/v1/vault", 1, [nonce, bytes(16)])):
        r = await _put(client, alice, 0, b64(bad))
        assert r.status_code == 422, bad
        assert r.json()["field"] == "blob"
    r = await _put(client, alice, 0, b64(encode(STORE_LABEL, 1, [nonce, bytes(15)])))
    assert r.status_code == 422

    bodies: list[dict[str, Any]] = [
        {"expected_version": -1, "blob": _blob(alice, 1, {})},
        {"expected_version": "0", "blob": _blob(alice, 1, {})},
        {"expected_version": 0, "blob": _blob(alice, 1, {}) + "="},
        {"expected_version": 0},
    ]
    for body in bodies:
        r = await client.put(URL, json=body, headers=alice.headers)
        assert r.status_code == 422, body
    r = await client.get("/api/v1/keys/stores/devices", headers=alice.headers)
    assert r.status_code == 422
    r = await client.put(
        "/api/v1/keys/stores/devices",
        json={"expected_version": 0, "blob": _blob(alice, 1, {})},
        headers=alice.headers,
    )
    assert r.status_code == 422
    r = await client.get(URL, headers=alice.headers)
    assert r.json()["version"] == 0


async def test_unauthenticated_and_revoked_sessions_are_refused(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get(URL)
    assert r.status_code == 401
    r = await client.put(URL, json={"expected_version": 0, "blob": b64(b"x")})
    assert r.status_code == 401

    laptop = await register_and_login(client, "Alice")
    phone = await login(client, Account(**{**laptop.__dict__}))
    phone_headers = phone.headers
    laptop = await login(client, laptop)
    assert (await _put(client, phone, 0, _blob(phone, 1, {}))).status_code == 200

    assert laptop.keys is not None
    assert laptop.password_key is not None
    rekeyed = rekey_account(laptop.user_id, laptop.keys.contents, laptop.password_key, 10)
    r = await client.post(
        f"/api/v1/devices/{phone.device_id}/revoke",
        json={
            "auth_secret": b64(laptop.auth_secret),
            "vault_version": 1,
            "vault": vault_json(rekeyed),
            "recovery_auth": b64(rekeyed.recovery_auth),
            "puk_certificate": b64(rekeyed.puk_certificate),
        },
        headers=laptop.headers,
    )
    assert r.status_code == 200, r.text

    # The phone's access token has not expired yet, but its session is gone.
    r = await client.get(URL, headers=phone_headers)
    assert r.status_code == 401
    r = await client.put(
        URL,
        json={"expected_version": 1, "blob": _blob(laptop, 2, {})},
        headers=phone_headers,
    )
    assert r.status_code == 401
    # The store outlives the re-key: it is sealed under the identity, not the vault key.
    r = await client.get(URL, headers=laptop.headers)
    assert r.json()["version"] == 1
    opened = open_contacts_store(_seed(laptop), laptop.user_id, 1, unb64(r.json()["blob"]))
    assert opened == {}
