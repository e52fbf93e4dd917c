"""The Redis client of the fan-out and presence backends under a burst of commands."""

from __future__ import annotations

import asyncio

from hushroom.redis_connect import MAX_CONNECTIONS, redis_client
from tests.contract.conftest import require_redis


async def test_a_burst_beyond_the_pool_waits_for_connections_instead_of_failing() -> None:
    # A reconnect storm: many more commands at once than pooled connections. redis-py's
    # default pool raised MaxConnectionsError past 100; this one queues them.
    client = redis_client(require_redis(), 5.0)
    try:
        burst = max(MAX_CONNECTIONS, 100) * 3
        results = await asyncio.gather(*(client.ping() for _ in range(burst)))
        assert results == [True] * burst
        assert client.connection_pool.max_connections == MAX_CONNECTIONS
    finally:
        await client.aclose()
