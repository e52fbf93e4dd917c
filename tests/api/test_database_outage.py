"""An unreachable database answers 503 + Retry-After (problem+json), never a 500 or a hang."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from hushroom.app import create_app
from hushroom.config import Settings
from hushroom.container import Container
from hushroom.principal import Principal
from tests.support.server import free_port

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def down(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    # Nothing listens on this port: every connection attempt is refused at once.
    settings = Settings(
        database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nothing",
        data_dir=tmp_path,
        jwt_secret="outage-secret-" + "z" * 40,  # type: ignore[arg-type]
    )
    container = Container(settings)
    token = container.tokens.issue(Principal(uuid.uuid4(), uuid.uuid4(), uuid.uuid4()))
    app = create_app(container=container)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
            yield c, token


async def test_database_down_gives_503_with_retry_after(
    down: tuple[httpx.AsyncClient, str],
) -> None:
    client, token = down
    for method, url in [
        ("GET", "/api/v1/conversations"),
        ("GET", "/api/v1/rooms"),
        ("POST", "/api/v1/auth/prelogin"),
    ]:
        body = {"email": "a@example.test"} if "prelogin" in url else None
        r = await client.request(
            method, url, json=body, headers={"Authorization": f"Bearer {token}"}
        )
        assert r.status_code == 503, (url, r.status_code, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == "service_unavailable"
        assert int(r.headers["retry-after"]) >= 1


async def test_readyz_reports_database_unreachable(down: tuple[httpx.AsyncClient, str]) -> None:
    client, _ = down
    r = await client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["code"] == "database_unreachable"
    assert (await client.get("/healthz")).status_code == 200
