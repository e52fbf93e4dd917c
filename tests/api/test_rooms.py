"""Public rooms through the HTTP API."""

from __future__ import annotations

import uuid

import httpx

from tests.support.accounts import register_and_login


async def test_create_search_join_leave_room(client: httpx.AsyncClient) -> None:
    ana = await register_and_login(client, "Ana")
    ben = await register_and_login(client, "Ben")
    r = await client.post(
        "/api/v1/rooms", json={"name": "  Garden   club ", "topic": "roses"}, headers=ana.headers
    )
    assert r.status_code == 201, r.text
    room = r.json()
    assert room["name"] == "Garden club"
    assert room["kind"] == "room"
    assert room["member_count"] == 1

    found = await client.get("/api/v1/rooms", params={"q": "GARDEN"}, headers=ben.headers)
    assert [x["id"] for x in found.json()] == [room["id"]]
    none = await client.get("/api/v1/rooms", params={"q": "%"}, headers=ben.headers)
    assert none.json() == []

    joined = await client.post(f"/api/v1/rooms/{room['id']}/join", headers=ben.headers)
    assert joined.json()["member_count"] == 2
    again = await client.post(f"/api/v1/rooms/{room['id']}/join", headers=ben.headers)
    assert again.json()["member_count"] == 2

    members = await client.get(f"/api/v1/conversations/{room['id']}/members", headers=ana.headers)
    assert {m["user_id"] for m in members.json()["members"]} == {ana.user_id, ben.user_id}

    left = await client.post(f"/api/v1/rooms/{room['id']}/leave", headers=ben.headers)
    assert left.status_code == 204
    room_now = await client.get(f"/api/v1/rooms/{room['id']}", headers=ben.headers)
    assert room_now.json()["member_count"] == 1
    not_member = await client.post(f"/api/v1/rooms/{room['id']}/leave", headers=ben.headers)
    assert not_member.status_code == 403
    assert not_member.json()["code"] == "not_a_member"


async def test_room_list_pages_by_name(client: httpx.AsyncClient) -> None:
    ana = await register_and_login(client, "Ana")
    for name in ("delta", "alpha", "charlie", "bravo"):
        await client.post("/api/v1/rooms", json={"name": name}, headers=ana.headers)
    first = (await client.get("/api/v1/rooms?limit=2", headers=ana.headers)).json()
    assert [r["name"] for r in first] == ["alpha", "bravo"]
    rest = await client.get(
        "/api/v1/rooms", params={"limit": 2, "after": "bravo"}, headers=ana.headers
    )
    assert [r["name"] for r in rest.json()] == ["charlie", "delta"]


async def test_room_validation_names_the_field(client: httpx.AsyncClient) -> None:
    ana = await register_and_login(client, "Ana")
    r = await client.post("/api/v1/rooms", json={"name": "   "}, headers=ana.headers)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["field"] == "name"
    r = await client.post("/api/v1/rooms", json={"name": "x", "extra": 1}, headers=ana.headers)
    assert r.status_code == 422
    assert r.json()["field"] == "extra"


async def test_joining_unknown_or_private_conversation_as_room_is_404(
    client: httpx.AsyncClient,
) -> None:
    ana = await register_and_login(client, "Ana")
    ben = await register_and_login(client, "Ben")
    r = await client.post(f"/api/v1/rooms/{uuid.uuid4()}/join", headers=ana.headers)
    assert r.status_code == 404
    dm = (
        await client.post("/api/v1/dms", json={"user_id": ben.user_id}, headers=ana.headers)
    ).json()
    carl = await register_and_login(client, "Carl")
    r = await client.post(f"/api/v1/rooms/{dm['id']}/join", headers=carl.headers)
    assert r.status_code == 404


async def test_nul_and_huge_numbers_are_422_not_500(client: httpx.AsyncClient) -> None:
    ana = await register_and_login(client, "Ana")
    r = await client.get("/api/v1/rooms", params={"q": "a\x00b"}, headers=ana.headers)
    assert r.status_code == 422
    assert r.json()["field"] == "q"
    r = await client.post("/api/v1/rooms", json={"name": "a\x00b"}, headers=ana.headers)
    assert r.status_code == 422
    room = (await client.post("/api/v1/rooms", json={"name": "ok"}, headers=ana.headers)).json()
    r = await client.get(
        f"/api/v1/conversations/{room['id']}/messages",
        params={"before": 2**70},
        headers=ana.headers,
    )
    assert r.status_code == 422
    assert r.json()["field"] == "before"
