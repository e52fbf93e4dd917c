"""Messages over HTTP: idempotent sends, contiguous seqs, history paging, unread and receipts."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx

from tests.support.accounts import Account, register_and_login


def cmid() -> str:
    return uuid.uuid4().hex


async def make_room(client: httpx.AsyncClient, owner: Account, *members: Account) -> str:
    body = {"name": f"room {uuid.uuid4().hex[:8]}"}  # room names are unique
    room = (await client.post("/api/v1/rooms", json=body, headers=owner.headers)).json()
    for m in members:
        await client.post(f"/api/v1/rooms/{room['id']}/join", headers=m.headers)
    return str(room["id"])


async def send(
    client: httpx.AsyncClient, who: Account, conv: str, body: str, client_msg_id: str | None = None
) -> httpx.Response:
    return await client.post(
        f"/api/v1/conversations/{conv}/messages",
        json={"client_msg_id": client_msg_id or cmid(), "body": body},
        headers=who.headers,
    )


async def test_retry_with_same_client_msg_id_stores_once(client: httpx.AsyncClient) -> None:
    ana = await register_and_login(client, "Ana")
    room = await make_room(client, ana)
    msg_id = cmid()
    first = await send(client, ana, room, "hello", msg_id)
    retry = await send(client, ana, room, "hello", msg_id)
    assert first.status_code == 201
    assert retry.status_code == 200
    assert retry.json()["duplicate"] is True
    assert retry.json()["seq"] == first.json()["seq"] == 1
    hist = (await client.get(f"/api/v1/conversations/{room}/messages", headers=ana.headers)).json()
    assert [m["body"] for m in hist["messages"]] == ["hello"]


async def test_client_msg_id_reused_in_other_conversation_is_conflict(
    client: httpx.AsyncClient,
) -> None:
    ana = await register_and_login(client, "Ana")
    room1, room2 = await make_room(client, ana), await make_room(client, ana)
    msg_id = cmid()
    await send(client, ana, room1, "one", msg_id)
    r = await send(client, ana, room2, "two", msg_id)
    assert r.status_code == 409
    assert r.json()["code"] == "client_msg_id_reused"


async def test_concurrent_senders_get_contiguous_seqs(client: httpx.AsyncClient) -> None:
    users = [await register_and_login(client, f"U{i}") for i in range(5)]
    room = await make_room(client, users[0], *users[1:])

    async def burst(u: Account) -> list[int]:
        seqs = []
        for i in range(20):
            r = await send(client, u, room, f"{u.name}-{i}")
            assert r.status_code == 201, r.text
            seqs.append(r.json()["seq"])
        return seqs

    results = await asyncio.gather(*(burst(u) for u in users))
    all_seqs = sorted(s for seqs in results for s in seqs)
    assert all_seqs == list(range(1, 101))
    for seqs in results:
        assert seqs == sorted(seqs)  # one sender's messages keep their order


async def test_history_pages_backwards_and_forwards(client: httpx.AsyncClient) -> None:
    ana = await register_and_login(client, "Ana")
    room = await make_room(client, ana)
    for i in range(1, 26):
        await send(client, ana, room, f"m{i}")
    url = f"/api/v1/conversations/{room}/messages"
    latest = (await client.get(url, params={"limit": 10}, headers=ana.headers)).json()
    assert [m["seq"] for m in latest["messages"]] == list(range(16, 26))
    assert latest["has_more_before"] is True
    assert latest["last_seq"] == 25
    older = (await client.get(url, params={"limit": 10, "before": 16}, headers=ana.headers)).json()
    assert [m["seq"] for m in older["messages"]] == list(range(6, 16))
    oldest = (await client.get(url, params={"limit": 10, "before": 6}, headers=ana.headers)).json()
    assert [m["seq"] for m in oldest["messages"]] == [1, 2, 3, 4, 5]
    assert oldest["has_more_before"] is False
    fwd = (await client.get(url, params={"after": 20, "limit": 3}, headers=ana.headers)).json()
    assert [m["seq"] for m in fwd["messages"]] == [21, 22, 23]


async def test_unread_counts_and_read_receipts(client: httpx.AsyncClient) -> None:
    ana = await register_and_login(client, "Ana")
    ben = await register_and_login(client, "Ben")
    room = await make_room(client, ana, ben)
    for i in range(3):
        await send(client, ana, room, f"m{i}")

    def unread(listing: list[dict[str, Any]]) -> int:
        return next(c["unread"] for c in listing if c["id"] == room)

    ben_list = (await client.get("/api/v1/conversations", headers=ben.headers)).json()
    ana_list = (await client.get("/api/v1/conversations", headers=ana.headers)).json()
    assert unread(ben_list) == 3
    assert unread(ana_list) == 0  # your own messages are read

    r = await client.post(
        f"/api/v1/conversations/{room}/read", json={"seq": 2}, headers=ben.headers
    )
    assert r.status_code == 204
    assert unread((await client.get("/api/v1/conversations", headers=ben.headers)).json()) == 1
    # Receipts never move backwards, and never past the end.
    await client.post(f"/api/v1/conversations/{room}/read", json={"seq": 1}, headers=ben.headers)
    await client.post(f"/api/v1/conversations/{room}/read", json={"seq": 99}, headers=ben.headers)
    members = (
        await client.get(f"/api/v1/conversations/{room}/members", headers=ana.headers)
    ).json()["members"]
    assert {m["user_id"]: m["last_read_seq"] for m in members}[ben.user_id] == 3


async def test_bad_message_bodies_are_refused_and_store_nothing(client: httpx.AsyncClient) -> None:
    ana = await register_and_login(client, "Ana")
    room = await make_room(client, ana)
    url = f"/api/v1/conversations/{room}/messages"
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"client_msg_id": "nothex", "body": "x"}, 422, "client_msg_id"),
        ({"client_msg_id": cmid(), "body": "   "}, 422, "body"),
        ({"client_msg_id": cmid(), "body": "a\x00b"}, 422, "body"),
        ({"client_msg_id": cmid(), "body": "x" * 8001}, 413, "body"),
        ({"client_msg_id": cmid()}, 422, "body"),
        (
            {"client_msg_id": cmid(), "envelope": {"generation": 0, "ciphertext": "AAAA"}},
            422,
            "body",
        ),
        ({"client_msg_id": cmid(), "body": 5}, 422, "body"),
    ]
    for body, status, field in cases:
        r = await client.post(url, json=body, headers=ana.headers)
        assert r.status_code == status, (body, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["field"] == field, (body, r.json())
    hist = (await client.get(url, headers=ana.headers)).json()
    assert hist["messages"] == []
    assert hist["last_seq"] == 0
