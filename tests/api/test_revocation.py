"""Sessions that end when they end: after logout, logout everywhere, a password change or a
device revocation the session's access token is refused on every authenticated route at once
(services/revocations.py), not when it expires."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from hushroom.app import create_app
from hushroom.clock import FakeClock
from hushroom.config import Settings
from hushroom.container import Container
from hushroom.crypto.primitives import Secret
from hushroom.errors import TokenInvalid
from hushroom.events.event import Event
from hushroom.principal import Principal
from hushroom.services.revocations import Revocations
from tests.api.test_account_keys import _new_password, _revoke_body
from tests.support.abuse import ENDING, authenticated_operations, call
from tests.support.accounts import Account, b64, login, register_and_login

AUTH = "/api/v1/auth"
ME = "/api/v1/me"


@pytest.fixture
async def app(settings: Settings, clock: FakeClock) -> AsyncIterator[tuple[FastAPI, Any]]:
    """The app, and the app as served (with its lifespan state)."""
    application = create_app(container=Container(settings, clock=clock))
    async with LifespanManager(application) as manager:
        yield application, manager.app


@pytest.fixture
async def http(app: tuple[FastAPI, Any]) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app[1])
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        yield c


async def test_after_logout_the_token_is_refused_on_every_authenticated_route(
    app: tuple[FastAPI, Any], http: httpx.AsyncClient
) -> None:
    operations = authenticated_operations(app[0].openapi())
    assert len(operations) >= 40, operations  # the schema really lists them
    alice = await register_and_login(http, "Alice")
    token = alice.access_token
    for method, path in operations:
        if (method, path) in ENDING:
            continue
        r = await call(http, method, path, token)
        assert r.status_code != 401, (method, path, r.text)

    assert (await http.post(f"{AUTH}/logout", headers=alice.headers)).status_code == 204
    for method, path in operations:
        r = await call(http, method, path, token)
        assert r.status_code == 401, (method, path, r.text)
        assert r.json()["code"] == "token_invalid", (method, path)


async def test_logout_everywhere_refuses_every_session(http: httpx.AsyncClient) -> None:
    laptop = await register_and_login(http, "Alice")
    phone = await login(http, Account(**{**laptop.__dict__}))
    phone_headers = phone.headers
    laptop = await login(http, laptop)
    bob = await register_and_login(http, "Bob")
    r = await http.post(f"{AUTH}/logout-all", headers=laptop.headers)
    assert r.status_code == 204
    for headers in (laptop.headers, phone_headers):
        assert (await http.get(ME, headers=headers)).status_code == 401
    assert (await http.get(ME, headers=bob.headers)).status_code == 200


async def test_a_password_change_refuses_the_other_sessions(http: httpx.AsyncClient) -> None:
    alice = await register_and_login(http, "Alice")
    other = await login(http, Account(**{**alice.__dict__}))
    other_headers = other.headers
    alice = await login(http, alice)
    _secret, fields = _new_password(alice, Secret(os.urandom(32)), os.urandom(16))
    body = {**fields, "current_auth_secret": b64(alice.auth_secret), "vault_version": 1}
    r = await http.post("/api/v1/account/password", json=body, headers=alice.headers)
    assert r.status_code == 204, r.text
    assert (await http.get(ME, headers=other_headers)).status_code == 401
    assert (await http.get(ME, headers=alice.headers)).status_code == 200


async def test_a_revoked_device_is_refused_at_once(http: httpx.AsyncClient) -> None:
    laptop = await register_and_login(http, "Alice")
    phone = await login(http, Account(**{**laptop.__dict__}))
    phone_headers = phone.headers
    laptop = await login(http, laptop)
    r = await http.post(
        f"/api/v1/devices/{phone.device_id}/revoke",
        json=await _revoke_body(laptop, 1),
        headers=laptop.headers,
    )
    assert r.status_code == 200, r.text
    assert (await http.get(ME, headers=phone_headers)).status_code == 401
    assert (await http.get(ME, headers=laptop.headers)).status_code == 200


# -- the registry itself ------------------------------------------------------------------------


async def test_a_node_that_starts_later_loads_recent_revocations(
    settings: Settings, clock: FakeClock
) -> None:
    first = Container(settings, clock=clock)
    await first.start()
    try:
        app = create_app(container=first)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://t") as http:
            alice = await register_and_login(http, "Alice")
            await http.post(f"{AUTH}/logout", headers=alice.headers)
        principal = Principal(
            uuid.UUID(alice.user_id), uuid.UUID(alice.device_id), uuid.UUID(alice.session_id)
        )
    finally:
        await first.stop()
    # A second node (no event reached it): the database tells it at start.
    second = Container(settings, clock=clock)
    await second.start()
    try:
        with pytest.raises(TokenInvalid):
            await second.revocations.check(principal)
        # Once every token of the session has expired, it is forgotten.
        clock.advance(settings.access_token_ttl_s + 1)
        assert not second.revocations.is_revoked(principal.session_id)
    finally:
        await second.stop()


async def test_a_stale_stream_reloads_from_the_database_and_ends_sockets(
    container: Container, clock: FakeClock
) -> None:
    revocations: Revocations = container.revocations
    ended: list[set[uuid.UUID]] = []
    revocations.on_reloaded(ended.append)
    sid = uuid.uuid4()

    class Rows:
        async def revoked_since(self, since: int) -> list[tuple[uuid.UUID, int]]:
            return [(sid, clock.now_ms() - 1000)]

    class Tx:
        sessions = Rows()

        async def __aenter__(self) -> Tx:
            return self

        async def __aexit__(self, *exc: object) -> None:
            return None

    class Store:
        def read(self) -> Tx:
            return Tx()

    revocations._storage = Store()  # type: ignore[assignment]
    # What the Redis fan-out announces after its subscriber reconnected.
    revocations.deliver(Event(type="sync.stale", payload={}, recipients=frozenset()))
    assert revocations.degraded
    assert revocations._reload_task is not None
    await revocations._reload_task
    assert not revocations.degraded
    assert revocations.is_revoked(sid)
    assert ended == [{sid}]


async def test_an_event_from_another_node_is_enough(container: Container) -> None:
    sid = uuid.uuid4()
    principal = Principal(uuid.uuid4(), uuid.uuid4(), sid)
    await container.revocations.check(principal)  # unknown here: not refused by the registry
    container.revocations.deliver(
        Event(
            type="session.revoked",
            payload={"session_ids": [str(sid)]},
            recipients=frozenset({container.revocations.user_id}),
        )
    )
    with pytest.raises(TokenInvalid):
        await container.revocations.check(principal)


def test_the_listener_id_is_no_one_can_register() -> None:
    from hushroom.services.revocations import listener_id

    assert listener_id("a" * 40) == listener_id("a" * 40)
    assert listener_id("a" * 40) != listener_id("b" * 40)
