"""Security headers on every response (pages, assets, API answers, errors of every kind), and the
operator-only endpoints: /metrics behind a token, /openapi.json behind a setting."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from hushroom.app import create_app
from hushroom.config import Settings
from hushroom.security_headers import CONTENT_SECURITY_POLICY, HEADERS
from tests.api.test_web_static import HTML, make_dist
from tests.support import databases
from tests.support.accounts import register_and_login
from tests.support.server import METRICS_AUTH, METRICS_TOKEN, ServerProcess

EXPECTED = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}
HSTS = "max-age=31536000; includeSubDomains"


def assert_headers(r: httpx.Response, *, https: bool) -> None:
    where = f"{r.request.method} {r.request.url.path} → {r.status_code}"
    for name, value in EXPECTED.items():
        assert r.headers.get_list(name) == [value], f"{name} on {where}"
    assert "camera=()" in r.headers["permissions-policy"], where
    if https:
        assert r.headers.get_list("strict-transport-security") == [HSTS], where
    else:
        assert "strict-transport-security" not in r.headers, where


def make_settings(tmp_path: Path, sqlite_template: Path, **overrides: object) -> Settings:
    tmp_path.mkdir(parents=True, exist_ok=True)
    values: dict[str, object] = {
        "database_url": databases.fresh_sqlite(sqlite_template, tmp_path),
        "data_dir": tmp_path / "data",
        "jwt_secret": "test-secret-" + "x" * 40,
        "web_dist": make_dist(tmp_path),
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


@asynccontextmanager
async def serving(
    settings: Settings,
    base_url: str = "https://testserver",
    prepare: Callable[[FastAPI], None] | None = None,
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    if prepare is not None:
        prepare(app)
    async with LifespanManager(app) as manager:
        # An unhandled error is answered (500) and then re-raised by Starlette: keep the answer.
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as c:
            yield c


def add_failing_route(app: FastAPI) -> None:
    async def boom() -> None:
        raise RuntimeError("boom")

    app.add_api_route("/api/v1/test-boom", boom)


def test_policy_is_strict() -> None:
    directives = dict(
        (d.split(" ", 1)[0], d.split(" ", 1)[1]) for d in CONTENT_SECURITY_POLICY.split("; ")
    )
    tokens = {t for value in directives.values() for t in value.split()}
    assert "'unsafe-inline'" not in tokens
    assert "'unsafe-eval'" not in tokens
    assert not any(
        t.startswith(("http:", "https:", "ws:", "wss:", "data:", "blob:", "*")) for t in tokens
    )
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self' 'wasm-unsafe-eval'"
    assert directives["object-src"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["connect-src"] == "'self'"
    assert directives["require-trusted-types-for"] == "'script'"


async def test_every_response_of_a_crawl_carries_the_headers(
    tmp_path: Path, sqlite_template: Path
) -> None:
    settings = make_settings(tmp_path, sqlite_template, metrics_token=METRICS_TOKEN)
    async with serving(settings, prepare=add_failing_route) as client:
        ana = await register_and_login(client, "Ana")
        responses = [
            # The web client: index, SPA fallback, an asset (whose own nosniff is not doubled),
            # a top-level file, a missing asset.
            await client.get("/", headers=HTML),
            await client.get("/rooms/some-room", headers=HTML),
            await client.get("/assets/index-abc123.js"),
            await client.head("/assets/index-abc123.css"),
            await client.get("/favicon.svg"),
            await client.get("/assets/index-nope.js"),
            # Operations.
            await client.get("/healthz"),
            await client.get("/readyz"),
            await client.get("/metrics", headers=METRICS_AUTH),
            await client.get("/metrics"),
            # API success and every kind of error: 401, 404, 405, 422, 500.
            await client.get("/api/v1/conversations", headers=ana.headers),
            await client.get("/api/v1/conversations"),
            await client.get("/api/v1/nope"),
            await client.delete("/healthz"),
            await client.post("/api/v1/auth/login", json={"email": 1}),
            await client.post(
                "/api/v1/auth/login",
                content=b"{not json",
                headers={"content-type": "application/json"},
            ),
            await client.get("/api/v1/test-boom"),
            # A WebSocket path asked over plain HTTP.
            await client.get("/ws"),
        ]
    statuses = sorted({r.status_code for r in responses})
    assert statuses == [200, 401, 404, 405, 422, 500], statuses
    for r in responses:
        assert_headers(r, https=True)
    errors = [r for r in responses if r.status_code >= 400]
    assert all(r.headers["content-type"] == "application/problem+json" for r in errors)


async def test_hsts_only_over_https(tmp_path: Path, sqlite_template: Path) -> None:
    settings = make_settings(tmp_path, sqlite_template)
    async with serving(settings, base_url="http://testserver") as client:
        for path in ("/", "/healthz", "/api/v1/nope"):
            assert_headers(await client.get(path, headers=HTML), https=False)


async def test_hsts_can_be_turned_off(tmp_path: Path, sqlite_template: Path) -> None:
    settings = make_settings(tmp_path, sqlite_template, hsts_max_age_s=0)
    async with serving(settings) as client:
        r = await client.get("/healthz")
    assert "strict-transport-security" not in r.headers
    assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


async def test_metrics_need_the_token(tmp_path: Path, sqlite_template: Path) -> None:
    async with serving(make_settings(tmp_path / "a", sqlite_template)) as client:
        # No token configured: there is no /metrics, whatever the request carries.
        for headers in ({}, METRICS_AUTH, {"authorization": "Bearer "}):
            r = await client.get("/metrics", headers=headers)
            assert r.status_code == 404
            assert r.json()["code"] == "not_found"
    settings = make_settings(tmp_path / "b", sqlite_template, metrics_token=METRICS_TOKEN)
    async with serving(settings) as client:
        for headers in (
            {},
            {"authorization": "Bearer wrong"},
            {"authorization": METRICS_TOKEN},
            {"authorization": f"Basic {METRICS_TOKEN}"},
            {"authorization": f"Bearer {METRICS_TOKEN}x"},
        ):
            r = await client.get("/metrics", headers=headers)
            assert r.status_code == 401, headers
            assert r.headers["www-authenticate"] == "Bearer"
            assert "hushroom_" not in r.text
        r = await client.get("/metrics", headers=METRICS_AUTH)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/plain")
        assert "hushroom_http_requests_total" in r.text


async def test_api_docs_are_off_by_default(tmp_path: Path, sqlite_template: Path) -> None:
    async with serving(make_settings(tmp_path, sqlite_template)) as client:
        for path in ("/openapi.json", "/docs", "/redoc", "/docs/oauth2-redirect"):
            r = await client.get(path, headers=HTML)
            assert r.status_code == 404, path
            assert r.headers["content-type"] == "application/problem+json"
    # The tooling's in-process schema (web/openapi.json) does not need the setting.
    schema = create_app(make_settings(tmp_path / "x", sqlite_template)).openapi()
    assert "/api/v1/auth/login" in schema["paths"]


async def test_api_docs_setting_serves_openapi_json_only(
    tmp_path: Path, sqlite_template: Path
) -> None:
    async with serving(make_settings(tmp_path, sqlite_template, api_docs=True)) as client:
        r = await client.get("/openapi.json")
        assert r.status_code == 200
        assert "/api/v1/auth/login" in r.json()["paths"]
        assert_headers(r, https=True)
        # No Swagger UI or ReDoc page (they load scripts from a CDN and run inline ones).
        for path in ("/docs", "/redoc"):
            assert (await client.get(path, headers=HTML)).status_code == 404, path


@pytest.fixture
def real_server(tmp_path: Path) -> Iterator[ServerProcess]:
    server = ServerProcess(
        f"sqlite+aiosqlite:///{tmp_path / 'h.db'}",
        tmp_path / "server",
        HUSHROOM_TRUSTED_PROXIES='["127.0.0.1"]',
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_real_server_hsts_behind_a_trusted_proxy(real_server: ServerProcess) -> None:
    """Behind a trusted proxy on the same host (nginx), a request it says came over HTTPS
    (X-Forwarded-Proto) gets HSTS; a plain one does not."""
    with httpx.Client(base_url=real_server.base_url, timeout=10) as http:
        plain = http.get("/healthz")
        assert_headers(plain, https=False)
        proxied = http.get("/healthz", headers={"x-forwarded-proto": "https"})
        assert_headers(proxied, https=True)
        missing = http.get("/nope", headers={"x-forwarded-proto": "https"})
        assert missing.status_code == 404
        assert_headers(missing, https=True)
        assert http.get("/metrics").status_code == 401
        assert http.get("/metrics", headers=METRICS_AUTH).status_code == 200


def test_nginx_sends_the_same_policy() -> None:
    """deploy/nginx/hushroom-headers.conf repeats the policy (nginx hides the nodes' copies and
    adds its own on every answer): the two must not drift apart."""
    conf = (Path(__file__).resolve().parents[2] / "deploy/nginx/hushroom-headers.conf").read_text()
    added = dict(re.findall(r'^add_header ([\w-]+) "([^"]*)" always;$', conf, re.MULTILINE))
    hidden = set(re.findall(r"^proxy_hide_header ([\w-]+);$", conf, re.MULTILINE))
    for name, value in HEADERS:
        assert added[name] == value, name
    assert hidden == set(added) == {name for name, _ in HEADERS} | {"Strict-Transport-Security"}
    assert added["Strict-Transport-Security"].startswith("max-age=")
