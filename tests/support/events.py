"""Fixtures for API tests that check what the services publish: the app over the test's own
container (so its services and presence are shared with the test) and every published event.

Import both fixtures into a test module: `from tests.support.events import app_client, published`.
"""

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
from tests.support.accounts import Account


@pytest.fixture
async def app_client(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(container=container)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
            yield c


@pytest.fixture
def published(container: Container, monkeypatch: pytest.MonkeyPatch) -> list[Event]:
    """Every event published from now on, in order (those with no recipients included)."""
    events: list[Event] = []
    real_one, real_many = container.events.publish, container.events.publish_many

    async def capture_one(event: Event) -> None:
        events.append(event)
        await real_one(event)

    async def capture_many(batch: list[Event]) -> None:
        events.extend(batch)
        await real_many(batch)

    monkeypatch.setattr(container.events, "publish", capture_one)
    monkeypatch.setattr(container.events, "publish_many", capture_many)
    return events


def principal(account: Account) -> Principal:
    return Principal(
        uuid.UUID(account.user_id), uuid.UUID(account.device_id), uuid.UUID(account.session_id)
    )


def received(events: list[Event], to: Account, kind: str | None = None) -> list[Event]:
    """The events `to` would receive (optionally of one type)."""
    who = uuid.UUID(to.user_id)
    return [e for e in events if who in e.recipients and (kind is None or e.type == kind)]


def presence_of(events: list[Event], about: Account, to: Account) -> list[str]:
    """The statuses of `about` that `to` was sent."""
    return [
        str(e.payload["status"])
        for e in received(events, to, "presence")
        if e.payload["user_id"] == about.user_id
    ]


def signals_from(events: list[Event], about: Account, to: Account) -> list[str]:
    """The typing notices and receipts of `about` that `to` was sent."""
    return [
        e.type
        for e in received(events, to)
        if e.type in ("typing", "receipt") and e.payload.get("user_id") == about.user_id
    ]
