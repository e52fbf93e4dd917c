"""New co-members learn each other's presence at once (not only at the next status change)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from hushroom.container import Container
from hushroom.events.event import Event
from tests.support.accounts import Account, register_and_login
from tests.support.events import app_client, principal, published

__all__ = ["app_client", "published"]  # fixtures used by the tests below


@pytest.fixture
def client(app_client: httpx.AsyncClient) -> httpx.AsyncClient:
    return app_client


def _presence_to(events: list[Event], about: Account, to: Account) -> list[str]:
    return [
        str(e.payload["status"])
        for e in events
        if e.type == "presence"
        and e.payload["user_id"] == about.user_id
        and uuid.UUID(to.user_id) in e.recipients
    ]


async def test_joining_a_room_exchanges_presence_only_with_watchers(
    client: httpx.AsyncClient, container: Container, published: list[Event]
) -> None:
    # Room-wide presence is gone (docs/protocol.md "Presence"): a joiner is shown only to
    # members watching them, and learns others' presence by watching them.
    alice = await register_and_login(client, "Alice")
    bob = await register_and_login(client, "Bob")
    carol = await register_and_login(client, "Carol")
    await container.presence.connected(principal(alice), "a1")
    await container.presence.connected(principal(bob), "b1")
    await container.presence.connected(principal(carol), "c1")
    r = await client.post("/api/v1/rooms", json={"name": "Garden"}, headers=alice.headers)
    room = r.json()["id"]
    await client.post(f"/api/v1/rooms/{room}/join", headers=carol.headers)
    # Alice already watches Bob (say, his id was on her screen), Carol does not.
    await container.presence.watch(principal(alice), "a1", [uuid.UUID(bob.user_id)])
    published.clear()

    r = await client.post(f"/api/v1/rooms/{room}/join", headers=bob.headers)
    assert r.status_code == 200, r.text
    assert _presence_to(published, bob, alice) == ["online"]
    assert _presence_to(published, bob, carol) == []
    assert _presence_to(published, carol, bob) == []


async def test_a_dm_shows_the_partner_online_once_accepted(
    client: httpx.AsyncClient, container: Container, published: list[Event]
) -> None:
    alice = await register_and_login(client, "Alice")
    bob = await register_and_login(client, "Bob")
    await container.presence.connected(principal(bob), "b1")
    r = await client.post("/api/v1/dms", json={"user_id": bob.user_id}, headers=alice.headers)
    assert r.status_code == 201
    # A stranger's DM is a request: Bob's presence stays his until he accepts (decision 0006).
    assert _presence_to(published, bob, alice) == []
    r = await client.post(f"/api/v1/conversations/{r.json()['id']}/accept", headers=bob.headers)
    assert r.status_code == 204
    assert _presence_to(published, bob, alice) == ["online"]
    assert _presence_to(published, alice, bob) == []  # Alice has no socket: offline
