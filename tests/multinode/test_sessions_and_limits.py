"""Two nodes sharing PostgreSQL and Redis, behind nginx: the abuse limits count across nodes,
and a logout on one node refuses the token on every authenticated route of both within 1 s."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.multinode.conftest import Cluster, _truncate, running_cluster
from tests.support.abuse import (
    AUTH,
    ENDING,
    authenticated_operations,
    call,
    client_from,
    right,
    wrong_logins,
)
from tests.support.accounts import login, register, register_and_login

ATTACKER, OWNER, OTHER = "127.0.0.1", "127.0.0.2", "127.0.0.3"


async def _closed(ws: ClientConnection) -> int | None:
    """Read until the server closes the socket; its close code."""
    try:
        while True:
            await ws.recv()
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else None


@pytest.fixture(scope="module")
def strict_cluster(pg_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The default limits (scale 1); loopback (nginx) is the nodes' trusted proxy."""
    _truncate(pg_database)
    directory: Path = tmp_path_factory.mktemp("strict-cluster")
    with running_cluster(pg_database, directory, env={"HUSHROOM_RATE_LIMIT_SCALE": "1"}) as cluster:
        yield cluster


async def test_wrong_logins_split_over_two_nodes_leave_the_owner_free(
    strict_cluster: Cluster,
) -> None:
    node_a, node_b = (n.base_url for n in strict_cluster.nodes)
    async with client_from(OTHER, node_a) as other:
        alice = await register(other, "Alice")
    async with client_from(ATTACKER, node_a) as a, client_from(ATTACKER, node_b) as b:
        statuses = await wrong_logins([a, b], alice.email, 1000)
    refused = statuses.count(429)
    assert refused >= 950, f"only {refused} of 1000 refused"
    # Counted in Redis: the two nodes together admitted one budget, not one each.
    assert statuses.count(401) <= 10, statuses.count(401)

    # The owner, from a second address, through nginx (a trusted proxy: its X-Forwarded-For
    # names 127.0.0.2) and straight to either node, logs in at once.
    for base in (strict_cluster.nginx.base_url, node_a, node_b):
        async with client_from(OWNER, base) as owner:
            ok = await owner.post(f"{AUTH}/login", json=right(alice))
            assert ok.status_code == 200, (base, ok.text)
    async with client_from(ATTACKER, node_b) as attacker:
        assert (await attacker.post(f"{AUTH}/login", json=right(alice))).status_code == 429


async def test_logout_on_one_node_is_refused_on_every_route_of_both(
    strict_cluster: Cluster,
) -> None:
    node_a, node_b = (n.base_url for n in strict_cluster.nodes)
    # Not from 127.0.0.1: the guesses of the other scenario spent that address's logins.
    async with client_from("127.0.0.5", node_a) as http:
        schema = (await http.get("/openapi.json")).json()
        operations = authenticated_operations(schema)
        assert len(operations) >= 40
        alice = await register_and_login(http, "Bob")
        other = await login(http, alice.__class__(**{**alice.__dict__}))
        token = alice.access_token
    async with (
        httpx.AsyncClient(base_url=node_a, timeout=30) as a,
        httpx.AsyncClient(base_url=node_b, timeout=30) as b,
    ):
        for http in (a, b):
            for method, path in operations:
                if (method, path) in ENDING:
                    continue
                r = await call(http, method, path, token)
                assert r.status_code != 401, (http.base_url, method, path, r.text)

        # A socket of the session, on node B.
        ticket = (await b.post("/api/v1/ws-ticket", headers=alice.headers)).json()["ticket"]
        ws = await connect(strict_cluster.nodes[1].ws_url)
        await ws.send(orjson.dumps({"type": "auth", "ticket": ticket}).decode())
        async with asyncio.timeout(10):
            while orjson.loads(await ws.recv())["type"] != "ready":
                pass

        assert (await a.post(f"{AUTH}/logout", headers=alice.headers)).status_code == 204
        logged_out = time.monotonic()
        # Node B heard of it within 1 s ...
        while (await b.get("/api/v1/me", headers=alice.headers)).status_code != 401:
            assert time.monotonic() - logged_out < 1.0, "node B still accepts the token"
            await asyncio.sleep(0.02)
        took = time.monotonic() - logged_out
        # The socket on node B closes as well ("session revoked", 1008).
        async with asyncio.timeout(1.0 - took + 0.5):
            code = await _closed(ws)
        assert code == 1008
        # ... and so every route of both nodes refuses it.
        for http in (a, b):
            for method, path in operations:
                r = await call(http, method, path, token)
                assert r.status_code == 401, (http.base_url, method, path, r.text)
        # The user's other session is untouched.
        assert (await b.get("/api/v1/me", headers=other.headers)).status_code == 200
    assert took < 1.0
