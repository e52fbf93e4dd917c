"""The caller's own account and other users' public profiles."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.support.accounts import Account, b64, register, register_and_login

PUBLIC_FIELDS = {"user_id", "display_name", "keys_version"}


def sealed_vault(account: Account) -> str:
    assert account.keys is not None
    return b64(account.keys.vault.sealed)


async def test_me_returns_own_account_without_its_vault(client: httpx.AsyncClient) -> None:
    alice = await register_and_login(client, "Alice")
    r = await client.get("/api/v1/me", headers=alice.headers)
    assert r.status_code == 200
    me = r.json()
    assert me["user_id"] == alice.user_id
    assert me["email"] == alice.email
    assert me["device_id"] == alice.device_id
    assert me["keys"] == "ready"
    assert me["vault_version"] == 1
    assert sealed_vault(alice) not in r.text  # only GET /keys/vault serves it


async def test_get_user_returns_public_fields_only(client: httpx.AsyncClient) -> None:
    alice = await register_and_login(client, "Alice")
    bob = await register(client, "Bob")
    r = await client.get(f"/api/v1/users/{bob.user_id}", headers=alice.headers)
    assert r.status_code == 200
    data = r.json()
    assert set(data) == PUBLIC_FIELDS
    assert data == {
        "user_id": bob.user_id,
        "display_name": "Bob",
        "keys_version": 1,
    }
    assert bob.email not in r.text
    assert sealed_vault(bob) not in r.text


async def test_get_unknown_user_is_404(client: httpx.AsyncClient) -> None:
    alice = await register_and_login(client, "Alice")
    r = await client.get(f"/api/v1/users/{uuid.uuid4()}", headers=alice.headers)
    assert r.status_code == 404
    assert r.json()["code"] == "not_found"
    r = await client.get("/api/v1/users/not-a-uuid", headers=alice.headers)
    assert r.status_code == 422


async def test_search_by_name_substring_is_case_insensitive(client: httpx.AsyncClient) -> None:
    alice = await register_and_login(client, "Alice")
    await register(client, "Bobby Tables")
    await register(client, "Rob Bobson")
    await register(client, "Carol")
    r = await client.get("/api/v1/users", params={"q": "BOB"}, headers=alice.headers)
    assert r.status_code == 200
    assert [u["display_name"] for u in r.json()] == ["Bobby Tables", "Rob Bobson"]


async def test_search_by_exact_email(client: httpx.AsyncClient) -> None:
    alice = await register_and_login(client, "Alice")
    carol = await register(client, "Carol", email="c.unique@example.test")
    r = await client.get(
        "/api/v1/users", params={"q": " C.Unique@Example.test "}, headers=alice.headers
    )
    assert [u["user_id"] for u in r.json()] == [carol.user_id]
    # A partial email is not a match (no enumeration by email fragments).
    r = await client.get("/api/v1/users", params={"q": "c.unique@"}, headers=alice.headers)
    assert r.json() == []


async def test_search_never_returns_emails_or_vaults_of_others(
    client: httpx.AsyncClient,
) -> None:
    alice = await register_and_login(client, "Alice")
    others = [await register(client, f"Member {i}") for i in range(3)]
    for q in ("member", others[0].email, "example"):
        r = await client.get("/api/v1/users", params={"q": q}, headers=alice.headers)
        assert r.status_code == 200
        for user in r.json():
            assert set(user) == PUBLIC_FIELDS
        for other in others:
            assert other.email not in r.text
            assert sealed_vault(other) not in r.text
    # "example" is in every email but in no name: nothing matches.
    r = await client.get("/api/v1/users", params={"q": "example"}, headers=alice.headers)
    assert r.json() == []


async def test_search_treats_like_wildcards_literally(client: httpx.AsyncClient) -> None:
    alice = await register_and_login(client, "Alice")
    await register(client, "100% Bob")
    await register(client, "Under_score")
    for q, expected in (("%", ["100% Bob"]), ("_", ["Under_score"]), ("\\", [])):
        r = await client.get("/api/v1/users", params={"q": q}, headers=alice.headers)
        assert [u["display_name"] for u in r.json()] == expected


@pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": "x" * 321}, {"q": "a", "limit": 0}])
async def test_search_validates_the_query(
    client: httpx.AsyncClient, params: dict[str, str | int]
) -> None:
    alice = await register_and_login(client, "Alice")
    r = await client.get("/api/v1/users", params=params, headers=alice.headers)
    assert r.status_code == 422
    assert r.json()["code"] == "validation_failed"


async def test_blank_search_is_422(client: httpx.AsyncClient) -> None:
    alice = await register_and_login(client, "Alice")
    r = await client.get("/api/v1/users", params={"q": "   "}, headers=alice.headers)
    assert r.status_code == 422


async def test_search_results_are_bounded(client: httpx.AsyncClient) -> None:
    alice = await register_and_login(client, "Alice")
    for i in range(4):
        await register(client, f"Zed {i}")
    r = await client.get("/api/v1/users", params={"q": "zed", "limit": 2}, headers=alice.headers)
    assert [u["display_name"] for u in r.json()] == ["Zed 0", "Zed 1"]


@pytest.mark.parametrize(
    "path",
    ["/api/v1/me", "/api/v1/users?q=a", "/api/v1/users/5030f4d0-1e28-4ae2-9f06-23be997815b8"],
)
async def test_user_routes_require_authentication(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path)
    assert r.status_code == 401
    assert r.json()["code"] == "unauthenticated"
