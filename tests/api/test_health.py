from __future__ import annotations

import gc

import httpx

from tests.api.test_messages import make_room, send
from tests.support.accounts import register_and_login
from tests.support.server import METRICS_AUTH


async def test_readyz_reports_ready_on_migrated_database(client: httpx.AsyncClient) -> None:
    r = await client.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ready"}


async def test_unknown_route_is_problem_json(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/nope")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "not_found"


async def test_api_without_token_is_401_problem(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/conversations")
    assert r.status_code == 401
    assert r.json()["code"] == "unauthenticated"


async def test_metrics_count_messages_and_errors(client: httpx.AsyncClient) -> None:
    ana = await register_and_login(client, "Ana")
    room = await make_room(client, ana)
    assert (await send(client, ana, room, "hi")).status_code == 201
    text = (await client.get("/metrics", headers=METRICS_AUTH)).text
    assert 'hushroom_messages_sent_total{kind="text"} 1.0' in text
    assert "hushroom_send_seconds_count 1.0" in text
    assert "hushroom_ws_connections 0.0" in text


async def test_metrics_show_gc_pauses(client: httpx.AsyncClient) -> None:
    gc.collect()
    text = (await client.get("/metrics", headers=METRICS_AUTH)).text
    assert 'hushroom_gc_pause_seconds_count{generation="2"}' in text
