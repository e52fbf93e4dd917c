from __future__ import annotations

import httpx


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
