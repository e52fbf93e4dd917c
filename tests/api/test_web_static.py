"""The server serves the built web client: hashed assets, index.html, SPA fallback, MIME types."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from hushroom.api import web
from hushroom.app import create_app
from hushroom.config import Settings

INDEX = (
    '<!doctype html><html><head><script type="module" src="/assets/index-abc123.js">'
    "</script></head></html>"
)
HTML = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def make_dist(root: Path) -> Path:
    dist = root / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text(INDEX)
    (dist / "assets" / "index-abc123.js").write_text("console.log('hi');")
    (dist / "assets" / "index-abc123.css").write_text("body{}")
    (dist / "assets" / "argon2-worker-def456.js").write_text("self.onmessage=null;")
    (dist / "assets" / "icon-0a1b2c.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (dist / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (root / "secret.txt").write_text("outside the dist")
    (dist / ".env").write_text("hidden")
    return dist


async def _client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


def _settings(tmp_path: Path, dist: Path | None) -> Settings:
    return Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'h.db'}",
        data_dir=tmp_path / "data",
        jwt_secret="test-secret-" + "x" * 40,  # type: ignore[arg-type]
        web_dist=dist,
    )


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async for c in _client(_settings(tmp_path, make_dist(tmp_path))):
        yield c


async def test_index_is_served_with_no_cache(client: httpx.AsyncClient) -> None:
    r = await client.get("/", headers=HTML)
    assert r.status_code == 200
    assert r.text == INDEX
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["cache-control"] == "no-cache"


async def test_hashed_assets_are_immutable_with_mime_types(client: httpx.AsyncClient) -> None:
    for name, mime in [
        ("index-abc123.js", "text/javascript; charset=utf-8"),
        ("index-abc123.css", "text/css; charset=utf-8"),
        ("argon2-worker-def456.js", "text/javascript; charset=utf-8"),
        ("icon-0a1b2c.svg", "image/svg+xml"),
    ]:
        r = await client.get(f"/assets/{name}")
        assert r.status_code == 200, name
        assert r.headers["content-type"] == mime
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert r.headers["x-content-type-options"] == "nosniff"


async def test_head_of_an_asset(client: httpx.AsyncClient) -> None:
    r = await client.head("/assets/index-abc123.js")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")


async def test_top_level_file_is_not_cached_long(client: httpx.AsyncClient) -> None:
    r = await client.get("/favicon.svg")
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/svg+xml"
    assert r.headers["cache-control"] == "no-cache"


async def test_client_routes_fall_back_to_index(client: httpx.AsyncClient) -> None:
    for path in ["/login", "/register", "/rooms/0b5f6a1e-3d4c-4e8a-9a51-6f2f5b8d2c11", "/a/b/c"]:
        r = await client.get(path, headers=HTML)
        assert r.status_code == 200, path
        assert r.text == INDEX
        assert r.headers["cache-control"] == "no-cache"


async def test_no_fallback_without_html_accept(client: httpx.AsyncClient) -> None:
    r = await client.get("/rooms/x", headers={"accept": "application/json"})
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"


async def test_missing_asset_is_404_not_index(client: httpx.AsyncClient) -> None:
    r = await client.get("/assets/index-nope.js", headers=HTML)
    assert r.status_code == 404


async def test_api_and_operations_paths_never_fall_back(client: httpx.AsyncClient) -> None:
    for path in ["/api/v1/nope", "/api", "/ws/x", "/docs/x", "/metrics/x", "/healthz/x"]:
        r = await client.get(path, headers=HTML)
        assert r.status_code == 404, path
        assert r.json()["code"] == "not_found"
    assert (await client.get("/healthz")).status_code == 200
    # Operator-only paths, off by default (HUSHROOM_API_DOCS), are 404s, never index.html.
    for path in ["/openapi.json", "/docs", "/redoc"]:
        r = await client.get(path, headers=HTML)
        assert r.status_code == 404, path
        assert r.json()["code"] == "not_found"
    r = await client.get("/api/v1/conversations", headers=HTML)
    assert r.status_code == 401  # the API route wins over the web client


async def test_wrong_method_on_api_route_is_still_405(client: httpx.AsyncClient) -> None:
    r = await client.put("/api/v1/rooms")
    assert r.status_code == 405


async def test_no_traversal_or_dotfiles(client: httpx.AsyncClient) -> None:
    for path in ["/assets/../../secret.txt", "/assets/%2e%2e/%2e%2e/secret.txt", "/.env"]:
        r = await client.get(path)
        assert r.status_code == 404, path
        assert "outside the dist" not in r.text
        assert "hidden" not in r.text


async def test_status_page_without_a_build(tmp_path: Path) -> None:
    async for c in _client(_settings(tmp_path, tmp_path / "no-dist")):
        r = await c.get("/")
        assert r.status_code == 200
        assert "The server is running" in r.text


def test_default_dist_is_the_repo_web_dist() -> None:
    assert web.default_dist() == Path(__file__).resolve().parents[2] / "web" / "dist"


WEB = Path(__file__).resolve().parents[2] / "web"


async def test_the_clients_favicon_and_manifest_are_linked_and_served(tmp_path: Path) -> None:
    # What `vite build` does with them: web/public/* lands at the root of web/dist.
    index = (WEB / "index.html").read_text()
    assert '<link rel="icon" href="/favicon.svg" type="image/svg+xml" />' in index
    assert '<link rel="manifest" href="/manifest.webmanifest" />' in index
    dist = tmp_path / "dist"
    shutil.copytree(WEB / "public", dist)
    (dist / "index.html").write_text(index)

    async for c in _client(_settings(tmp_path, dist)):
        icon = await c.get("/favicon.svg")
        assert icon.status_code == 200
        assert icon.headers["content-type"] == "image/svg+xml"
        assert icon.text.lstrip().startswith("<svg")

        r = await c.get("/manifest.webmanifest")
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/manifest+json"
        manifest = json.loads(r.text)
        assert manifest["name"] == "Hushroom"
        assert manifest["start_url"] == "/"
        assert manifest["display"] == "standalone"
        for entry in manifest["icons"]:
            served = await c.get(entry["src"])
            assert served.status_code == 200, entry["src"]
            assert served.headers["content-type"] == entry["type"]
