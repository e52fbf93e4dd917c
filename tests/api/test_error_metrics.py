"""`hushroom_errors_total` counts HTTP problem responses by their stable `code`
(transport="http"), and `hushroom_http_requests_total` counts every response, 500s included."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from prometheus_client.parser import text_string_to_metric_families

from hushroom.api.http_metrics import problem_code
from hushroom.app import create_app
from hushroom.clock import FakeClock
from hushroom.config import Settings
from hushroom.container import Container
from hushroom.errors import RateLimited
from tests.support.metrics import sample
from tests.support.server import METRICS_AUTH


async def scrape(client: httpx.AsyncClient) -> str:
    r = await client.get("/metrics", headers=METRICS_AUTH)
    assert r.status_code == 200
    return r.text


def http_errors(text: str, code: str) -> float:
    return sample(text, "hushroom_errors_total", code=code, transport="http")


@pytest.fixture
async def app_client(settings: Settings, clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    """The app with two extra routes: an unexpected exception (500) and a rate limit (429)."""
    app = create_app(container=Container(settings, clock=clock))

    @app.get("/test/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    @app.get("/test/limited")
    async def limited() -> None:
        raise RateLimited(retry_after=3)

    async with LifespanManager(app) as manager:
        # ServerErrorMiddleware answers 500 and then re-raises, for servers to log.
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
            yield c


async def test_problem_responses_count_by_code(app_client: httpx.AsyncClient) -> None:
    before = await scrape(app_client)
    assert http_errors(before, "not_found") == 0

    for _ in range(3):
        r = await app_client.get("/api/v1/nope")
        assert r.status_code == 404
    r = await app_client.get("/api/v1/conversations")
    assert r.json()["code"] == "unauthenticated"
    r = await app_client.post("/api/v1/auth/register", json={})
    assert r.status_code == 422 and r.json()["code"] == "validation_failed"
    r = await app_client.get("/test/limited")
    assert r.status_code == 429 and r.json()["code"] == "rate_limited"
    r = await app_client.get("/test/boom")
    assert r.status_code == 500 and r.json()["code"] == "internal_error"
    # Refused by api/edges.py before any route: 413 from the declared length.
    r = await app_client.post(
        "/api/v1/auth/register", content=b"x" * (5 * 1024 * 1024), headers={"content-type": "a/b"}
    )
    assert r.status_code == 413
    too_large = r.json()["code"]

    text = await scrape(app_client)
    assert http_errors(text, "not_found") == 3
    assert http_errors(text, "unauthenticated") == 1
    assert http_errors(text, "validation_failed") == 1
    assert http_errors(text, "rate_limited") == 1
    assert http_errors(text, "internal_error") == 1
    assert http_errors(text, too_large) == 1
    # Every response is a request, the 500 too (it is written outside the app's middleware).
    requests = "hushroom_http_requests_total"
    assert sample(text, requests, method="GET", status="404") == 3
    assert sample(text, requests, method="GET", status="500") == 1
    assert sample(text, requests, method="GET", status="429") == 1
    assert sample(text, requests, method="POST", status="413") == 1
    # Successes are not errors: the first scrape is counted as a request only.
    assert sample(text, requests, method="GET", status="200") == 1
    assert not any(
        s.labels.get("transport") == "ws"
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "hushroom_errors_total"
    )


async def test_metrics_401_is_itself_counted(client: httpx.AsyncClient) -> None:
    r = await client.get("/metrics", headers={"authorization": "Bearer wrong"})
    assert r.status_code == 401
    assert http_errors(await scrape(client), "unauthenticated") == 1


def test_problem_code_is_a_bounded_label() -> None:
    assert problem_code(404, b'{"code":"not_found","status":404}') == "not_found"
    # Not a problem document, or a code that does not look like one: the status only.
    assert problem_code(502, None) == "http_502"
    assert problem_code(400, b"not json") == "http_400"
    assert problem_code(400, b"[1, 2]") == "http_400"
    assert problem_code(400, b'{"code": "Robert\'); DROP"}') == "http_400"
    assert problem_code(400, b'{"code": "' + b"a" * 65 + b'"}') == "http_400"
