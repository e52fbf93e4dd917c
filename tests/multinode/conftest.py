"""Several real nodes (`hushroom serve`) sharing PostgreSQL and Redis, behind a real nginx.

`cluster` is shared by the scenarios that leave every node running; scenarios that kill or stop
a node build their own with `make_cluster`. Each cluster has its own Redis key prefix, so it
shares nothing with other suites using the same Redis. Scenarios that kill Redis itself pass
`make_cluster(redis_url=...)` with a private `redis-server` (tests/support/redis_server.py).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from tests.support import databases
from tests.support.nginx import NginxProcess
from tests.support.server import ServerProcess

REDIS_URL = os.environ.get("HUSHROOM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# Importing and starting a node takes 5-10 s of CPU; several at once on a busy 2-core machine
# need far more than the single-server default.
START_TIMEOUT_S = 120.0


@dataclass
class Cluster:
    nodes: list[ServerProcess]
    nginx: NginxProcess
    redis_prefix: str
    database_url: str
    redis_url: str = REDIS_URL

    def kill_pubsub_connections(self) -> int:
        """Drop the Redis subscriber connections of this cluster's nodes (and nobody else's),
        as a Redis restart would; returns how many were killed."""
        client = redis.Redis.from_url(self.redis_url)
        try:
            killed = 0
            for info in client.client_list(_type="pubsub"):
                if str(info.get("name", "")).startswith(f"{self.redis_prefix}fanout:"):
                    client.client_kill_filter(_id=info["id"])
                    killed += 1
            return killed
        finally:
            client.close()


def require_redis(url: str = REDIS_URL) -> None:
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        message = f"Redis at {url} is unreachable ({type(exc).__name__}); run make services"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def _delete_prefix(prefix: str, url: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@contextmanager
def running_cluster(
    database_url: str,
    directory: Path,
    nodes: int = 2,
    redis_url: str = REDIS_URL,
    env: dict[str, str] | None = None,
) -> Iterator[Cluster]:
    """`env`: more settings for every node (e.g. HUSHROOM_RATE_LIMIT_SCALE="1")."""
    require_redis(redis_url)
    prefix = f"hushroom-test:{secrets.token_hex(6)}:"
    nginx = NginxProcess(directory / "nginx", [])
    # Every node of a deployment shares the at-rest key-encryption key (as it shares the JWT
    # secret): without it each node would generate its own in its data directory.
    at_rest_key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    servers = [
        ServerProcess(
            database_url,
            directory / f"node{i}",
            HUSHROOM_REDIS_URL=redis_url,
            HUSHROOM_REDIS_PREFIX=prefix,
            **{"HUSHROOM_AT_REST_KEY": at_rest_key, **(env or {})},
        )
        for i in range(nodes)
    ]
    for server in servers:
        server.extra_env["HUSHROOM_ALLOWED_ORIGINS"] = json.dumps(
            [f"http://127.0.0.1:{server.port}", nginx.origin]
        )
    nginx.upstreams = [s.port for s in servers]
    with ExitStack() as stack:
        if redis_url == REDIS_URL:  # a private Redis is thrown away, keys and all
            stack.callback(_delete_prefix, prefix, redis_url)
        for server in servers:
            stack.callback(server.stop)
        # In parallel: a node takes seconds to import and start on a busy machine.
        with ThreadPoolExecutor(max_workers=len(servers)) as pool:
            for future in [pool.submit(server.start, START_TIMEOUT_S) for server in servers]:
                future.result()
        stack.callback(nginx.stop)
        nginx.start()
        yield Cluster(servers, nginx, prefix, database_url, redis_url)


def _truncate(url: str) -> None:
    asyncio.run(databases.truncate_pg(url))


@pytest.fixture(scope="module")
def cluster(pg_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    _truncate(pg_database)
    with running_cluster(pg_database, tmp_path_factory.mktemp("cluster")) as c:
        yield c


MakeCluster = Callable[..., Cluster]


@pytest.fixture
def make_cluster(pg_database: str, tmp_path: Path) -> Iterator[MakeCluster]:
    """For scenarios that kill or stop nodes: a fresh cluster (and a truncated database)."""
    with ExitStack() as stack:

        def make(nodes: int = 2, redis_url: str = REDIS_URL) -> Cluster:
            _truncate(pg_database)
            return stack.enter_context(
                running_cluster(pg_database, tmp_path / "cluster", nodes, redis_url)
            )

        yield make
