"""One way to open a Redis client for the fan-out and presence backends.

A blocking pool: when every pooled connection is busy (a reconnect storm makes thousands of
presence and publish calls at once), a command waits for one up to its timeout instead of
failing at once with "too many connections" as redis-py's default pool (100) does.
"""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

# Connections per client and node; commands beyond it queue for a free one.
MAX_CONNECTIONS = 64


def redis_client(url: str, timeout_s: float, *, client_name: str | None = None) -> aioredis.Redis:
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=timeout_s,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        socket_keepalive=True,
        # One quick retry: the first command after a Redis restart meets a dead pooled socket.
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), 1),
        health_check_interval=30,
        # Named, so an operator (or a test) can find a node's connections in CLIENT LIST.
        client_name=client_name,
    )
    return aioredis.Redis.from_pool(pool)
