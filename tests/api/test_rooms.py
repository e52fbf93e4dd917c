"""Public rooms through the HTTP API."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text

from hushroom.clock import SystemClock
from hushroom.config import Settings
from hushroom.storage.at_rest import AtRestCipher
from hushroom.storage.conversations import ConversationRecord
from hushroom.storage.engine import Database
from hushroom.storage.sql.at_rest_keys import AtRestKeys
from hushroom.storage.sql.tables import ROOM_NAME_INDEX
from hushroom.storage.unit import Storage
from tests.support import databases
from tests.support.accounts import login, register_and_login
from tests.support.e2ee import create_group


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
    for name in ("delta", "alpha", "Charlie", "bravo"):
        await client.post("/api/v1/rooms", json={"name": name}, headers=ana.headers)
    first = (await client.get("/api/v1/rooms?limit=2", headers=ana.headers)).json()
    assert [r["name"] for r in first] == ["alpha", "bravo"]
    rest = await client.get(
        "/api/v1/rooms", params={"limit": 2, "after": first[-1]["id"]}, headers=ana.headers
    )
    assert [r["name"] for r in rest.json()] == ["Charlie", "delta"]


@pytest.fixture
async def rooms_may_share_names(database_url: str) -> AsyncIterator[None]:
    """The unique index on room names dropped, as for rooms that shared a name before it.

    Paging must not depend on the index; this is the only way to store such rooms now."""
    db = Database(database_url)
    try:
        async with db.write() as conn:
            await conn.execute(text(f"DROP INDEX {ROOM_NAME_INDEX}"))
    finally:
        await db.dispose()
    yield
    if database_url.startswith("postgresql"):  # shared by the session: restore it
        await databases.truncate_pg(database_url)
        db = Database(database_url)
        try:
            async with db.write() as conn:
                await conn.execute(
                    text(
                        f"CREATE UNIQUE INDEX {ROOM_NAME_INDEX} ON conversations (name_hash)"
                        " WHERE kind = 'room'"
                    )
                )
        finally:
            await db.dispose()


async def test_room_search_with_equal_names_pages_every_room_once(
    client: httpx.AsyncClient, database_url: str, settings: Settings, rooms_may_share_names: None
) -> None:
    ana = await register_and_login(client, "Ana")
    for name in ("beta", "alpha", "delta"):
        await client.post("/api/v1/rooms", json={"name": name}, headers=ana.headers)
    # A second "Beta" cannot be created over HTTP any more; store it directly.
    db = Database(database_url)
    try:
        keys = AtRestKeys(AtRestCipher(settings.resolved_at_rest_key()), SystemClock())
        async with Storage(db, keys).write() as tx:
            await tx.conversations.create(
                ConversationRecord(
                    id=uuid.uuid4(),
                    kind="room",
                    name="Beta",
                    topic=None,
                    created_by=uuid.UUID(ana.user_id),
                    created_at=0,
                    last_seq=0,
                    member_count=0,
                )
            )
    finally:
        await db.dispose()
    seen: list[str] = []
    after: str | None = None
    for _ in range(6):
        params = {"limit": 1} | ({"after": after} if after else {})
        page = (await client.get("/api/v1/rooms", params=params, headers=ana.headers)).json()
        if not page:
            break
        seen += [f"{r['name']}:{r['id']}" for r in page]
        after = page[-1]["id"]
    names = [entry.split(":")[0] for entry in seen]
    assert len(seen) == len(set(seen)) == 4
    assert names[0] == "alpha"
    assert sorted(names[1:3]) == ["Beta", "beta"]
    assert names[3] == "delta"


async def test_room_names_are_unique_ignoring_case_and_spacing(
    client: httpx.AsyncClient,
) -> None:
    ana = await register_and_login(client, "Ana")
    ben = await register_and_login(client, "Ben")
    r = await client.post("/api/v1/rooms", json={"name": "Garden club"}, headers=ana.headers)
    assert r.status_code == 201
    for name in ("garden club", "  GARDEN   Club "):
        r = await client.post("/api/v1/rooms", json={"name": name}, headers=ben.headers)
        assert r.status_code == 409, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == "room_name_taken"
        assert r.json()["field"] == "name"
    # Private groups may share a room's name: the rule is for the public directory.
    ben = await login(client, ben, device_id=ben.registered_device_id)  # certified: signs
    await create_group(client, ben, "Garden club", [ana])
    found = await client.get("/api/v1/rooms", params={"q": "garden"}, headers=ana.headers)
    assert [x["name"] for x in found.json()] == ["Garden club"]


async def test_room_search_matches_like_wildcards_literally(client: httpx.AsyncClient) -> None:
    ana = await register_and_login(client, "Ana")
    for name in ("100% cotton", "a_b", "axb", "back\\slash", "plain"):
        r = await client.post("/api/v1/rooms", json={"name": name}, headers=ana.headers)
        assert r.status_code == 201, r.text

    async def names(q: str) -> list[str]:
        r = await client.get("/api/v1/rooms", params={"q": q}, headers=ana.headers)
        return [x["name"] for x in r.json()]

    assert await names("%") == ["100% cotton"]
    assert await names("_") == ["a_b"]
    assert await names("\\") == ["back\\slash"]
    assert await names("A") == ["a_b", "axb", "back\\slash", "plain"]


async def test_room_search_after_an_unknown_room_is_422(client: httpx.AsyncClient) -> None:
    ana = await register_and_login(client, "Ana")
    r = await client.get("/api/v1/rooms", params={"after": str(uuid.uuid4())}, headers=ana.headers)
    assert r.status_code == 422
    assert r.json()["field"] == "after"
    r = await client.get("/api/v1/rooms", params={"after": "bravo"}, headers=ana.headers)
    assert r.status_code == 422
    assert r.json()["field"] == "after"


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
