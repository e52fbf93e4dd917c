"""Backends for the fan-out and presence contract suites: ids `memory` and `redis`.

Every test gets its own random Redis key prefix, so tests (and other suites) can share the one
Redis at 127.0.0.1:6379. When Redis is unreachable the `redis` cases skip loudly, except in CI
(the `CI` environment variable is set), where they fail.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
import redis
import redis.asyncio as aioredis

from hushroom.events.event import Event
from hushroom.fanout.base import FanoutBackend
from hushroom.fanout.memory import MemoryFanout
from hushroom.fanout.redis import RedisFanout
from hushroom.presence.base import PresenceBackend
from hushroom.presence.memory import MemoryPresence
from hushroom.presence.redis import RedisPresence

REDIS_URL = os.environ.get("HUSHROOM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
BACKENDS = ["memory", "redis"]


def require_redis() -> str:
    """The test Redis URL, or a loud skip (a failure in CI) when it is unreachable."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        message = f"Redis at {REDIS_URL} is unreachable ({type(exc).__name__}); run make services"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return REDIS_URL


@dataclass(eq=False)
class Recorder:
    """A fan-out subscriber that records what it gets."""

    user_id: uuid.UUID
    events: list[Event] = field(default_factory=list)

    def deliver(self, event: Event) -> None:
        self.events.append(event)

    def of_type(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.type == kind]

    def without(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.type != kind]


FanoutFactory = Callable[[], Awaitable[FanoutBackend]]


@pytest.fixture
def redis_prefix() -> str:
    return f"hushroom-test:{secrets.token_hex(6)}:"


async def delete_prefix(prefix: str) -> None:
    """Remove every key a test made (all of them start with its prefix)."""
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
async def redis_admin(redis_prefix: str) -> AsyncIterator[aioredis.Redis]:
    """A plain client for inspecting this test's keys and connections."""
    client = aioredis.Redis.from_url(require_redis())
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture(params=BACKENDS)
async def fanout_factory(
    request: pytest.FixtureRequest, redis_prefix: str
) -> AsyncIterator[FanoutFactory]:
    """Makes started fan-out "nodes"; with `memory` every call returns the same single node."""
    started: list[FanoutBackend] = []
    backend: str = request.param
    url = ""
    if backend == "redis":
        url = require_redis()

    async def make() -> FanoutBackend:
        fanout: FanoutBackend
        if backend == "memory":
            if started:
                return started[0]
            fanout = MemoryFanout()
        else:
            fanout = RedisFanout(url, prefix=redis_prefix)
        await fanout.start()
        started.append(fanout)
        return fanout

    make.backend = backend  # type: ignore[attr-defined]
    try:
        yield make
    finally:
        for fanout in started:
            await fanout.stop()
        if backend == "redis":
            await delete_prefix(redis_prefix)


@pytest.fixture(params=BACKENDS)
async def presence(
    request: pytest.FixtureRequest, redis_prefix: str
) -> AsyncIterator[PresenceBackend]:
    if request.param == "memory":
        yield MemoryPresence()
        return
    url = require_redis()
    backend = RedisPresence(url, prefix=redis_prefix, conn_ttl_s=2.0, heartbeat_s=0.5)
    await backend.start()
    try:
        yield backend
    finally:
        await backend.stop()
        await delete_prefix(redis_prefix)
