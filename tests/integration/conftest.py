"""One real server process per database, shared by every scenario in this package.

`live_server` (tests/conftest.py) starts a server per test; starting `hushroom serve` takes several
seconds (much more on a busy machine), which would dominate this suite. Every scenario makes its own
users and conversations, so sharing a process shares nothing a scenario checks. The scenarios that
kill or restart it leave it running again, and `server` starts it again should one fail midway.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BACKENDS
from tests.integration.helpers import START_TIMEOUT_S
from tests.support import databases
from tests.support.server import ServerProcess


@pytest.fixture(scope="session", params=BACKENDS)
def shared_server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
) -> Iterator[ServerProcess]:
    pg_name: str | None = None
    if request.param == "sqlite":
        url = databases.fresh_sqlite(sqlite_template, tmp_path_factory.mktemp("shared-sqlite"))
    else:
        if os.environ.get("HUSHROOM_SKIP_POSTGRES") and not os.environ.get("CI"):
            pytest.skip("HUSHROOM_SKIP_POSTGRES is set (never allowed in CI)")
        # Its own database: `database_url` truncates the per-test one under live_server.
        pg_name = f"{databases.PG_TEST_DB}_shared"
        url = databases.make_pg_database(pg_name)
    server = ServerProcess(url, tmp_path_factory.mktemp("shared-server"))
    server.start(START_TIMEOUT_S)
    try:
        yield server
    finally:
        server.stop()
        if pg_name is not None:
            databases.drop_pg_database(pg_name)


@pytest.fixture
def server(shared_server: ServerProcess) -> ServerProcess:
    """The shared server of this test's database, running."""
    proc = shared_server.proc
    if proc is None or proc.poll() is not None:
        shared_server.start(START_TIMEOUT_S)
    return shared_server
