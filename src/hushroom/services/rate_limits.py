"""Abuse limits: how often one client address, one account, or one (address, account) pair may
do something costly or sensitive (docs/security.md § Abuse limits).

Built on the `limits` library's sliding-window counter: two counters per rule and key, in
Redis when `HUSHROOM_REDIS_URL` is set (so every node and worker process counts together),
in this process's memory otherwise. A refused request costs one counter read: the checks run
before anything expensive (Argon2id on login and registration, a database write elsewhere).

Keys are never an account alone. Failed logins count against the (address, account) pair and
against the address, so whoever guesses a password slows down only themselves: the owner, from
any other address, still logs in (`login_attempt`). Identities reach the storage hashed, so
Redis holds no email or address in clear.

When Redis is unreachable, counting falls back to this process's memory (per node, not
shared) until it is back, rather than refusing everyone or limiting no one; a warning is
logged once per outage.

Windows are measured by the library on the wall clock (the Redis server's clock in scripts),
not the injected `Clock`.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import time
from collections.abc import Mapping
from typing import Any

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError
from redis.exceptions import RedisError

from hushroom.config import Settings
from hushroom.errors import RateLimited
from hushroom.services.account_input import normalize_email

log = logging.getLogger("hushroom.limits")

# Rule name -> limits ("N/period" items joined by ";"; every item must hold). The suffix says
# what is counted: `.address` per client address (IPv6: its /64), `.user` per account,
# `.address_account` per (address, account) pair. Overridden by `settings.rate_limits`.
DEFAULT_RULES: Mapping[str, str] = {
    # Cheap (no Argon2), but it is the first step of every login.
    "prelogin.address": "30/minute;300/hour",
    # Logins, and the recovery-code and reset-code checks, which guess the same way.
    "login.address": "30/minute;300/hour",
    # Cleared by a successful login from that address.
    "login.address_account": "10/15minutes",
    # Argon2id per registration; also what bounds probing emails through 409 email_taken.
    "register.address": "10/hour;50/day",
    # Every open tab refreshes about every 15 minutes; many people may share one address.
    "refresh.address": "120/minute",
    "ws_ticket.user": "30/minute",
    "ws_ticket.address": "300/minute",
    # Exact-email lookup finds accounts: bounded per account (docs/security.md § Enumeration).
    "user_search.user": "30/minute;300/day",
    "user_search.address": "120/minute",
    # Sign-in through a provider: each start costs a discovery fetch, each callback a token
    # exchange with the provider.
    "provider_sign_in.address": "30/minute;300/hour",
    "room_create.user": "10/hour;50/day",
    "room_create.address": "30/hour",
    # HTTP sends (the WebSocket has its own frame budget, ws_frames_per_second).
    "send.user": "300/minute",
    "send.address": "1200/minute",
}

UNKNOWN_ADDRESS = "unknown"


def client_address(scope: Mapping[str, Any]) -> str:
    """The client's address as counted: the socket peer, or what a trusted proxy said
    (uvicorn rewrites `client` from X-Forwarded-For only for `settings.trusted_proxies`).
    IPv6 addresses count by their /64: one host usually holds a whole /64."""
    client = scope.get("client")
    host = client[0] if client else None
    if not host:
        return UNKNOWN_ADDRESS
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return str(host)[:100]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def parse_rules(overrides: Mapping[str, str], scale: float = 1.0) -> dict[str, list[RateLimitItem]]:
    """The rules in force; raises ValueError for an unknown rule name or bad notation."""
    unknown = sorted(set(overrides) - set(DEFAULT_RULES))
    if unknown:
        raise ValueError(f"unknown rate limit rule(s): {', '.join(unknown)}")
    rules: dict[str, list[RateLimitItem]] = {}
    for name, default in DEFAULT_RULES.items():
        text = overrides.get(name, default)
        try:
            items = parse_many(text)
        except ValueError as exc:
            raise ValueError(f"rate limit {name}: cannot parse {text!r}") from exc
        rules[name] = [
            type(item)(max(1, math.ceil(item.amount * scale)), item.multiples, namespace=name)
            for item in items
        ]
    return rules


class _MemoryStorage(MemoryStorage):
    """The library's memory storage, sweeping expired counters at most once a second.

    As shipped it starts a sweep over every key after each hit (O(keys) per request: 590 µs
    per hit with 22,000 keys, measured). Expired counters are dropped when read anyway, so the
    sweep only frees memory. Overrides a private method of limits 5.8 (pinned);
    tests/api/test_abuse_limits.py fails if it is renamed.
    """

    _last_sweep = 0.0

    async def _MemoryStorage__schedule_expiry(self) -> None:
        now = time.monotonic()
        if now - self._last_sweep < 1.0:
            return
        self._last_sweep = now
        await MemoryStorage._MemoryStorage__schedule_expiry(self)  # type: ignore[attr-defined]


def _digest(identity: str) -> str:
    return hashlib.blake2b(identity.encode("utf-8"), digest_size=12).hexdigest()


def redis_storage_uri(url: str) -> str:
    """The `limits` storage URI for a redis-py URL (redis://, rediss://, unix://)."""
    if url.startswith("unix://"):
        return "async+redis+unix://" + url.removeprefix("unix://")
    return "async+" + url


class RateLimits:
    def __init__(self, settings: Settings) -> None:
        self.rules = parse_rules(settings.rate_limits, settings.rate_limit_scale)
        self._memory = SlidingWindowCounterRateLimiter(_MemoryStorage())
        self._redis: RedisStorage | None = None
        self._shared = self._memory
        if settings.redis_url:
            self._redis = RedisStorage(
                redis_storage_uri(settings.redis_url),
                wrap_exceptions=True,
                implementation="redispy",
                key_prefix=f"{settings.redis_prefix}rl",
                socket_timeout=1.0,
                socket_connect_timeout=1.0,
            )
            self._shared = SlidingWindowCounterRateLimiter(self._redis)
        self._outage = False

    def __repr__(self) -> str:
        return f"RateLimits(redis={self._redis is not None})"

    @property
    def storage(self) -> Storage:
        return self._shared.storage

    async def stop(self) -> None:
        client = getattr(getattr(self._redis, "bridge", None), "storage", None)
        if client is not None:
            await client.aclose()

    async def hit(self, rule: str, identity: str) -> None:
        """Count one request of `identity` under `rule`; RateLimited (429 with Retry-After)
        when any of the rule's limits is spent. A refused request is not counted."""
        key = _digest(identity)
        for item in self.rules[rule]:
            if not await self._call("hit", item, key):
                raise RateLimited(
                    "too many requests; try again later",
                    retry_after=await self._retry_after(item, key),
                )

    async def clear(self, rule: str, identity: str) -> None:
        key = _digest(identity)
        for item in self.rules[rule]:
            await self._call("clear", item, key)

    # Logins -----------------------------------------------------------------------------------
    async def login_attempt(self, address: str, email: str) -> None:
        """Before the password is checked: counted as a failure until `login_succeeded`, so
        parallel guesses cannot all slip under the limit. Known and unknown emails alike."""
        await self.hit("login.address", address)
        await self.hit("login.address_account", _pair(address, email))

    async def login_succeeded(self, address: str, email: str) -> None:
        await self.clear("login.address_account", _pair(address, email))

    # Internals ----------------------------------------------------------------------------------
    async def _call(self, op: str, item: RateLimitItem, key: str) -> Any:
        if self._shared is not self._memory:
            try:
                result = await getattr(self._shared, op)(item, key)
            except (StorageError, RedisError, OSError) as exc:
                self._down(exc)
            else:
                if self._outage:
                    self._outage = False
                    log.info("rate limit storage restored")
                return result
        return await getattr(self._memory, op)(item, key)

    async def _retry_after(self, item: RateLimitItem, key: str) -> float:
        try:
            stats = await self._call("get_window_stats", item, key)
            return float(max(1.0, stats.reset_time - time.time()))
        except Exception:  # the 429 matters, not the hint
            return float(item.get_expiry())

    def _down(self, exc: BaseException) -> None:
        if not self._outage:
            self._outage = True
            # The exception type only: a Redis URL may carry a password.
            log.warning(
                "rate limit storage unavailable; counting in this process until it returns",
                extra={"error_type": type(exc).__name__},
            )


def _pair(address: str, email: str) -> str:
    return f"{address}\n{normalize_email(email)}"
