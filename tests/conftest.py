"""Shared fixtures. Storage-backed tests run twice: ids `sqlite` and `postgres`."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from hushroom.app import create_app
from hushroom.clock import FakeClock
from hushroom.config import Settings
from hushroom.container import Container
from tests.support import databases
from tests.support.server import METRICS_TOKEN, ServerProcess

BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return databases.make_sqlite_template(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    if os.environ.get("HUSHROOM_SKIP_POSTGRES") and not os.environ.get("CI"):
        pytest.skip("HUSHROOM_SKIP_POSTGRES is set (never allowed in CI)")
    url = databases.make_pg_database()
    yield url
    databases.drop_pg_database()


@pytest.fixture(params=BACKENDS)
async def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield databases.fresh_sqlite(sqlite_template, tmp_path)
    else:
        url: str = request.getfixturevalue("pg_database")
        await databases.truncate_pg(url)
        yield url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        jwt_secret="test-secret-" + "x" * 40,  # type: ignore[arg-type]
        metrics_token=METRICS_TOKEN,  # type: ignore[arg-type]
        log_json=True,
        # Tests log in and register many times from one address; tests/api/test_abuse_limits.py
        # runs the defaults.
        rate_limit_scale=1000,
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def container(settings: Settings, clock: FakeClock) -> AsyncIterator[Container]:
    c = Container(settings, clock=clock)
    await c.start()
    try:
        yield c
    finally:
        await c.stop()


@pytest.fixture
async def client(settings: Settings, clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    """The ASGI app in-process (HTTP only; real-socket tests use tests/support/server.py)."""
    app = create_app(container=Container(settings, clock=clock))
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
            yield c


@pytest.fixture
def live_server(database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    """A real `hushroom serve` process on the parametrized database (sqlite / postgres)."""
    server = ServerProcess(database_url, tmp_path / "server")
    server.start()
    try:
        yield server
    finally:
        server.stop()
