"""Robust at the edges (issue 14, item 7): request body limit, Origin on cookie routes, odd
paths, tokens of users that do not exist, NUL characters. docs/security.md § Edges."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from hushroom.app import create_app
from hushroom.clock import FakeClock
from hushroom.config import Settings
from hushroom.container import Container
from hushroom.errors import ValidationFailed
from hushroom.principal import Principal
from hushroom.services.tokens import TokenService
from tests.support.accounts import REFRESH_COOKIE, b64, register_and_login, register_body
from tests.support.e2ee import create_group, keyed_login

API = "/api/v1"


# -- tokens of users that do not exist ------------------------------------------------------


def _example(schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    """A small valid instance of an OpenAPI request schema (enough to get past validation)."""
    if "$ref" in schema:
        return _example(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return _example(next(s for s in schema[key] if s.get("type") != "null"), defs)
    if "allOf" in schema:
        return _example(schema["allOf"][0], defs)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        required = schema.get("required", [])
        props = schema.get("properties", {})
        return {k: _example(v, defs) for k, v in props.items() if k in required}
    if kind == "array":
        return [_example(schema.get("items", {}), defs)] * schema.get("minItems", 0)
    if kind == "integer":
        return schema.get("minimum", 1)
    if kind == "boolean":
        return False
    if kind == "string":
        if schema.get("format") == "uuid":
            return str(uuid.uuid4())
        if schema.get("pattern") == "^[0-9a-f]{32}$":
            return uuid.uuid4().hex
        return "A" * max(4, schema.get("minLength", 0))
    return None


def _ghost_token(settings: Settings, clock: FakeClock) -> str:
    tokens = TokenService(settings.resolved_jwt_secret(), clock, settings.access_token_ttl_s)
    return tokens.issue(Principal(uuid.uuid4(), uuid.uuid4(), uuid.uuid4()))


async def test_a_token_for_a_user_that_does_not_exist_gets_401_on_every_route(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    """Every authenticated route of the OpenAPI schema, with real resources in the path (a
    room, a group, a user) and a valid body, answers 401 problem+json to a validly signed
    token whose user, device and session do not exist (it answered 200, 204, 409 or 500)."""
    ada = await keyed_login(client, "Ada")
    room = (await client.post(f"{API}/rooms", json={"name": "r"}, headers=ada.headers)).json()
    group = await create_group(client, ada, "g", [ada])
    schema = create_app(settings).openapi()
    defs = schema.get("components", {}).get("schemas", {})
    params = {
        "room_id": room["id"],
        "conversation_id": group,
        "user_id": ada.user_id,
        "device_id": ada.device_id,
        "message_id": "1",
        "generation": "1",
    }
    headers = {"Authorization": f"Bearer {_ghost_token(settings, clock)}"}
    seen: dict[str, int] = {}
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            if not op.get("security"):
                continue
            path_params = {
                q["name"]: params.get(q["name"], _example(q["schema"], defs))
                for q in op.get("parameters", [])
                if q["in"] == "path"
            }
            url = path.format(**path_params)
            if path.startswith(f"{API}/conversations/") and method == "get":
                url = url.replace(group, room["id"]) if "key-sets" not in path else url
            body = None
            content = op.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                body = _example(content["application/json"]["schema"], defs)
            query = {
                p["name"]: _example(p["schema"], defs)
                for p in op.get("parameters", [])
                if p["in"] == "query" and p.get("required")
            }
            r = await client.request(method, url, json=body, params=query, headers=headers)
            assert r.headers["content-type"] == "application/problem+json", (path, r.text)
            seen[f"{method.upper()} {path}"] = (r.status_code, r.json()["code"])
    assert len(seen) > 40
    wrong = {k: v for k, v in seen.items() if v != (401, "token_invalid")}
    assert not wrong, wrong


# -- the request body limit -------------------------------------------------------------------


@pytest.fixture
def small_limit(settings: Settings) -> Settings:
    settings.max_request_body_bytes = 64 * 1024
    return settings


async def test_a_declared_body_over_the_limit_is_refused_before_it_is_read(
    small_limit: Settings, client: httpx.AsyncClient
) -> None:
    r = await client.post(f"{API}/auth/prelogin", content=b"x" * (64 * 1024 + 1))
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "body_too_large"
    assert r.json()["limit"] == 64 * 1024
    # At the limit: read, and judged on its content.
    r = await client.post(f"{API}/auth/prelogin", content=b"x" * (64 * 1024))
    assert r.status_code == 422


async def test_a_streamed_body_is_refused_as_it_passes_the_limit(
    small_limit: Settings, client: httpx.AsyncClient
) -> None:
    chunks_read = 0

    async def chunked() -> Any:
        nonlocal chunks_read
        for _ in range(1000):  # 16 MB if it were all read
            chunks_read += 1
            yield b"x" * 16 * 1024

    r = await client.post(f"{API}/auth/prelogin", content=chunked())
    assert "content-length" not in r.request.headers
    assert r.status_code == 413
    assert r.json()["code"] == "body_too_large"


async def test_a_bad_content_length_is_refused(client: httpx.AsyncClient) -> None:
    r = await client.post(f"{API}/auth/prelogin", content=b"{}", headers={"content-length": "12a"})
    assert r.status_code == 400


async def test_the_default_limit_fits_the_largest_legitimate_body(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    """A key set for a group at the member limit (1,000 X-Wing boxes, as large as its schema
    allows) passes the body limit; what it is then is for the route to judge."""
    from hushroom.api.conversations import MAX_KEY_SET_B64

    ada = await keyed_login(client, "Ada")
    group = await create_group(client, ada, "g", [ada])
    body = {"generation": 2, "upload": "A" * MAX_KEY_SET_B64}
    r = await client.post(f"{API}/conversations/{group}/key-sets", json=body, headers=ada.headers)
    assert r.json()["code"] != "body_too_large", r.text
    assert settings.max_request_body_bytes >= 2 * MAX_KEY_SET_B64


# -- Origin on the routes that trust the refresh cookie ---------------------------------------


async def test_refresh_from_a_foreign_origin_is_refused(client: httpx.AsyncClient) -> None:
    ada = await register_and_login(client, "Ada")
    r = await client.post(
        f"{API}/auth/login",
        json={"email": ada.email, "auth_secret": b64(ada.auth_secret)},
    )
    assert r.status_code == 200
    assert REFRESH_COOKIE in client.cookies
    for evil in ("https://evil.example", "null", "https://testserver.evil.example"):
        r = await client.post(f"{API}/auth/refresh", headers={"Origin": evil})
        assert r.status_code == 403, evil
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == "origin_forbidden"
        # The token in the body does not open the door either.
        r = await client.post(
            f"{API}/auth/refresh",
            json={"refresh_token": ada.refresh_token},
            headers={"Origin": evil},
        )
        assert r.json()["code"] == "origin_forbidden"
        r = await client.post(
            f"{API}/auth/login",
            json={"email": ada.email, "auth_secret": b64(ada.auth_secret)},
            headers={"Origin": evil},
        )
        assert r.json()["code"] == "origin_forbidden"
    # The cookie was not spent by the refused attempts: the app's own page refreshes with it.
    r = await client.post(f"{API}/auth/refresh", headers={"Origin": "https://testserver"})
    assert r.status_code == 200, r.text
    r = await client.post(f"{API}/auth/refresh", headers={"Origin": "http://127.0.0.1:8000"})
    assert r.status_code == 200, r.text
    # No Origin: not a browser page (browsers send it on every POST); the SDK refreshes so.
    r = await client.post(f"{API}/auth/refresh")
    assert r.status_code == 200, r.text


# -- odd paths ---------------------------------------------------------------------------------

ODD_TARGETS = [
    b"/index.html%00.js",
    b"/%00",
    b"/assets/%00",
    b"/api/v1/users/%00",
    b"/" + b"a" * 10_000,
    b"/assets/" + b"a" * 10_000,
    b"/" + b"a" * 300,  # one file name longer than the file system allows
    b"/" + b"a/" * 600,
    b"/../../etc/passwd",
    b"/assets/../../secret.txt",
    b"/%2e%2e/%2e%2e/etc/passwd",
    b"/assets/%2e%2e/%2e%2e/secret.txt",
    b"/assets/..%2f..%2fsecret.txt",
    b"/..%5c..%5csecret.txt",
    b"/%c0%ae%c0%ae/secret.txt",
    b"/%ff%fe%fd",
    b"/assets/%ff.js",
    b"/%",
    b"/%zz",
    b"/.env",
    b"/assets/.env",
    b"/rooms?q=%00",
    b"/api/v1/rooms?q=%ff%fe",
    b"/api/v1/rooms?%00=1",
    b"/?" + b"q=" * 5000,
]


async def _raw_get(app: Any, target: bytes, accept: bytes = b"*/*") -> tuple[int, bytes, bytes]:
    """A GET as uvicorn hands it to the app (percent-decoded path, raw query), bypassing the
    URL normalisation of HTTP clients."""
    from urllib.parse import unquote

    raw_path, _, query = target.partition(b"?")
    path = raw_path.decode("ascii")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": unquote(path) if "%" in path else path,
        "raw_path": raw_path,
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"accept", accept)],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
        "state": {},
    }
    sent: list[dict[str, Any]] = []
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client stays connected
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = sent[0]
    headers = dict(start["headers"])
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], headers.get(b"content-type", b""), body


async def test_odd_paths_get_4xx_never_500(tmp_path: Path) -> None:
    from asgi_lifespan import LifespanManager

    from tests.api.test_web_static import _settings, make_dist

    app = create_app(_settings(tmp_path, make_dist(tmp_path)))
    async with LifespanManager(app) as manager:
        for target in ODD_TARGETS:
            status, ctype, body = await _raw_get(manager.app, target)
            assert 400 <= status < 500, (target[:80], status, body[:200])
            assert ctype == b"application/problem+json", target[:80]
            # A browser navigation gets the SPA's index.html or a 4xx, never another file.
            status, ctype, body = await _raw_get(manager.app, target, b"text/html")
            assert status < 500, (target[:80], status)
            assert b"outside the dist" not in body and b"hidden" not in body
    codes = {
        b"/index.html%00.js": "validation_failed",
        b"/" + b"a" * 10_000: "uri_too_long",
    }
    async with LifespanManager(app) as manager:
        for target, code in codes.items():
            _, _, body = await _raw_get(manager.app, target)
            assert json.loads(body)["code"] == code


# -- NUL characters: one answer on SQLite and PostgreSQL --------------------------------------


async def test_nul_in_any_text_field_is_422_on_both_databases(client: httpx.AsyncClient) -> None:
    ada = await keyed_login(client, "Ada")
    room = (await client.post(f"{API}/rooms", json={"name": "r"}, headers=ada.headers)).json()
    group = await create_group(client, ada, "g", [ada])
    nul = "a\x00b"
    body = register_body("Ben")
    attempts: list[tuple[str, str, dict[str, Any] | None, dict[str, str] | None]] = [
        ("POST", f"{API}/auth/register", {**body, "display_name": nul}, None),
        ("POST", f"{API}/auth/prelogin", {"email": nul}, None),
        (
            "POST",
            f"{API}/auth/login",
            {"email": ada.email, "auth_secret": b64(ada.auth_secret), "device_name": nul},
            None,
        ),
        ("POST", f"{API}/rooms", {"name": nul}, None),
        ("POST", f"{API}/rooms", {"name": "ok", "topic": nul}, None),
        (
            "POST",
            f"{API}/conversations/{room['id']}/messages",
            {"client_msg_id": uuid.uuid4().hex, "body": nul},
            None,
        ),
        ("PATCH", f"{API}/groups/{group}", {"name": nul}, None),
        ("PATCH", f"{API}/devices/{ada.device_id}", {"name": nul}, None),
        ("GET", f"{API}/users", None, {"q": nul}),
        ("GET", f"{API}/rooms", None, {"q": nul}),
    ]
    for method, url, json_body, params in attempts:
        r = await client.request(method, url, json=json_body, params=params, headers=ada.headers)
        assert r.status_code == 422, (method, url, r.text)
        assert r.json()["code"] == "validation_failed", (method, url, r.text)
    # Nothing was stored.
    rooms = (await client.get(f"{API}/rooms", headers=ada.headers)).json()
    assert [x["name"] for x in rooms] == ["r"]


async def test_the_storage_refuses_nul_alike_on_both_databases(container: Container) -> None:
    """The last line, should validation miss a field: SQLite refuses NUL in text as PostgreSQL
    does, and both become the same domain error (422 validation_failed)."""
    with pytest.raises(ValidationFailed):
        async with container.storage.write() as tx:
            await tx.users.set_admin("a\x00b@example.test")
    with pytest.raises(ValidationFailed):
        async with container.storage.read() as tx:
            await tx.users.get_by_email("a\x00b@example.test")
    # Bytes with NUL are fine (keys, ciphertext).
    async with container.storage.read() as tx:
        assert await tx.users.get_by_email("nobody@example.test") is None
