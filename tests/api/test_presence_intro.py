"""New co-members learn each other's presence at once (not only at the next status change)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager

from hushroom.app import create_app
from hushroom.container import Container
from hushroom.events.event import Event
from hushroom.principal import Principal
from tests.support.accounts import Account, register_and_login


def _principal(account: Account) -> Principal:
    return Principal(
        uuid.UUID(account.user_id), uuid.UUID(account.device_id), uuid.UUID(account.session_id)
    )


@pytest.fixture
async def client(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    """The app over the test's own container, so its services and presence are shared."""
    app = create_app(container=container)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
            yield c


@pytest.fixture
def published(container: Container, monkeypatch: pytest.MonkeyPatch) -> list[Event]:
    events: list[Event] = []
    real_many = container.events.publish_many

    async def capture_many(batch: list[Event]) -> None:
        events.extend(batch)
        await real_many(batch)

    monkeypatch.setattr(container.events, "publish_many", capture_many)
    return events


def _presence_to(events: list[Event], about: Account, to: Account) -> list[str]:
    return [
        str(e.payload["status"])
        for e in events
        if e.type == "presence"
        and e.payload["user_id"] == about.user_id
        and uuid.UUID(to.user_id) in e.recipients
    ]


async def test_joining_a_room_exchanges_presence_with_online_members(
    client: httpx.AsyncClient, container: Container, published: list[Event]
) -> None:
    alice = await register_and_login(client, "Alice")
    bob = await register_and_login(client, "Bob")
    carol = await register_and_login(client, "Carol")  # never connects: stays offline
    await container.presence.connected(_principal(alice), "a1")
    await container.presence.connected(_principal(bob), "b1")
    r = await client.post("/api/v1/rooms", json={"name": "Garden"}, headers=alice.headers)
    room = r.json()["id"]
    await client.post(f"/api/v1/rooms/{room}/join", headers=carol.headers)
    published.clear()

    r = await client.post(f"/api/v1/rooms/{room}/join", headers=bob.headers)
    assert r.status_code == 200, r.text
    assert _presence_to(published, bob, alice) == ["online"]
    assert _presence_to(published, alice, bob) == ["online"]
    assert _presence_to(published, carol, bob) == []  # offline is the default: nothing sent


async def test_a_new_dm_shows_the_partner_online(
    client: httpx.AsyncClient, container: Container, published: list[Event]
) -> None:
    alice = await register_and_login(client, "Alice")
    bob = await register_and_login(client, "Bob")
    await container.presence.connected(_principal(bob), "b1")
    r = await client.post("/api/v1/dms", json={"user_id": bob.user_id}, headers=alice.headers)
    assert r.status_code == 201
    assert _presence_to(published, bob, alice) == ["online"]
    assert _presence_to(published, alice, bob) == []  # Alice has no socket: offline
