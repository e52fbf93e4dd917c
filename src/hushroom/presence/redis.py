"""Multi-node presence and typing in Redis, with TTLs so a dead node's users go offline.

Keys (all under the configured prefix):

- `p:{user}`  sorted set: connection id -> expiry (Redis server time, ms). A connection counts
  while its expiry is in the future. Each node refreshes the expiry of its own connections every
  `heartbeat_s` (default 15 s) to now + `conn_ttl_s` (default 45 s); a node that dies stops
  refreshing, so its users are offline at most `conn_ttl_s` (45 s) after it died.
- `ps:{user}` hash: connection id -> "online" | "away".
- `ls:{user}` last seen (ms, from the injected clock), kept `last_seen_ttl_s` (30 days).
- `w:{user}` sorted set: "{watcher}/{connection id}" -> expiry, the connections watching this
  user's presence (`presence.watch`), refreshed by the heartbeat like `p:{user}`, so a dead
  node's watches lapse after `conn_ttl_s`; a disconnect removes its connection's entries.
- `t:{conversation}:{user}` typing marker: `SET NX PX ttl`, so a notice is relayed at most once
  per TTL per user and conversation, on every node.

Expiry uses the Redis server's clock (`TIME` inside scripts), so node clocks need not agree.
The heartbeat re-asserts every live local connection (not only its expiry), so presence also
recovers by itself after Redis restarts empty. When Redis is unreachable, calls degrade instead
of failing the socket: `connect`/`set_status` report "online", `disconnect` reports "online" (no
offline announcement we cannot back up), `get` reports "offline" without last seen, `set_typing`
reports False; a warning is logged once per outage.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Collection

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from hushroom.presence.base import PresenceInfo, Status
from hushroom.redis_connect import redis_client
from hushroom.tasks import cancel_and_wait

log = logging.getLogger("hushroom.presence")

_CHUNK = 200

# Shared Lua: current server time in ms, and the aggregate status of one user after pruning.
_PRELUDE = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function aggregate(zkey, hkey, now)
  local dead = redis.call('ZRANGEBYSCORE', zkey, '-inf', now)
  if #dead > 0 then
    redis.call('ZREMRANGEBYSCORE', zkey, '-inf', now)
    redis.call('HDEL', hkey, unpack(dead))
  end
  local conns = redis.call('ZRANGE', zkey, 0, -1)
  if #conns == 0 then return 'offline' end
  local statuses = redis.call('HMGET', hkey, unpack(conns))
  for _, s in ipairs(statuses) do
    if s == 'online' or s == false then return 'online' end
  end
  return 'away'
end
"""

# KEYS: zkey hkey lskey   ARGV: conn_id conn_ttl_ms last_seen_ms last_seen_ttl_ms
_CONNECT = (
    _PRELUDE
    + """
local now = now_ms()
local before = aggregate(KEYS[1], KEYS[2], now)
local ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], 'online')
redis.call('PEXPIRE', KEYS[1], ttl * 2)
redis.call('PEXPIRE', KEYS[2], ttl * 2)
redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[4])
return before
"""
)

# KEYS: zkey hkey lskey   ARGV: conn_id last_seen_ms last_seen_ttl_ms
_DISCONNECT = (
    _PRELUDE
    + """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[3])
return aggregate(KEYS[1], KEYS[2], now_ms())
"""
)

# KEYS: zkey hkey lskey   ARGV: conn_id status last_seen_ms last_seen_ttl_ms
_SET_STATUS = (
    _PRELUDE
    + """
local now = now_ms()
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) > now and ARGV[2] ~= 'offline' then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
end
redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[4])
return aggregate(KEYS[1], KEYS[2], now)
"""
)

# KEYS: zkey1 hkey1 lskey1 zkey2 ...   returns {status1, last_seen1, status2, ...}
_GET = (
    _PRELUDE
    + """
local now = now_ms()
local out = {}
for i = 1, #KEYS, 3 do
  out[#out + 1] = aggregate(KEYS[i], KEYS[i + 1], now)
  out[#out + 1] = redis.call('GET', KEYS[i + 2]) or ''
end
return out
"""
)

# KEYS: zkey1 hkey1 zkey2 hkey2 ...   ARGV: conn_ttl_ms conn1 status1 conn2 status2 ...
_HEARTBEAT = (
    _PRELUDE
    + """
local ttl = tonumber(ARGV[1])
local expiry = now_ms() + ttl
for i = 1, #KEYS, 2 do
  local j = i + 1
  redis.call('ZADD', KEYS[i], expiry, ARGV[j])
  redis.call('HSET', KEYS[i + 1], ARGV[j], ARGV[j + 1])
  redis.call('PEXPIRE', KEYS[i], ttl * 2)
  redis.call('PEXPIRE', KEYS[i + 1], ttl * 2)
end
return #KEYS / 2
"""
)

# KEYS: the w-keys to leave (the first ARGV[3]), then the w-keys to join
# ARGV: member ("{watcher}/{conn}") conn_ttl_ms n_leave
_WATCH = (
    _PRELUDE
    + """
local n = tonumber(ARGV[3])
local ttl = tonumber(ARGV[2])
local expiry = now_ms() + ttl
for i = 1, n do redis.call('ZREM', KEYS[i], ARGV[1]) end
for i = n + 1, #KEYS do
  redis.call('ZADD', KEYS[i], expiry, ARGV[1])
  redis.call('PEXPIRE', KEYS[i], ttl * 2)
end
return #KEYS - n
"""
)

# KEYS: w-key   returns the live members ("{watcher}/{conn}") after pruning the expired ones
_WATCHERS = (
    _PRELUDE
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms())
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""
)

# KEYS: w-key1 w-key2 ...   ARGV: conn_ttl_ms member1 member2 ...
_WATCH_HEARTBEAT = (
    _PRELUDE
    + """
local ttl = tonumber(ARGV[1])
local expiry = now_ms() + ttl
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], expiry, ARGV[i + 1])
  redis.call('PEXPIRE', KEYS[i], ttl * 2)
end
return #KEYS
"""
)


class RedisPresence:
    """`PresenceBackend` in Redis; see the module docstring. `start` runs the heartbeat."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "hushroom:",
        conn_ttl_s: float = 45.0,
        heartbeat_s: float = 15.0,
        last_seen_ttl_s: int = 30 * 24 * 3600,
        command_timeout_s: float = 2.0,
    ) -> None:
        if heartbeat_s >= conn_ttl_s:
            raise ValueError("heartbeat_s must be shorter than conn_ttl_s")
        self._url = url
        self._prefix = prefix
        self._conn_ttl_ms = int(conn_ttl_s * 1000)
        self._heartbeat_s = heartbeat_s
        self._last_seen_ttl_ms = last_seen_ttl_s * 1000
        self._command_timeout_s = command_timeout_s
        self._client: aioredis.Redis | None = None
        # This node's live connections: conn id -> (user, status); re-asserted by the heartbeat.
        self._local: dict[str, tuple[uuid.UUID, Status]] = {}
        # This node's watches: conn id -> (watcher, targets); re-asserted by the heartbeat too.
        self._local_watch: dict[str, tuple[uuid.UUID, frozenset[uuid.UUID]]] = {}
        self._heartbeat: asyncio.Task[None] | None = None
        self._outage_logged = False
        self._scripts: dict[str, AsyncScript] = {}

    async def start(self) -> None:
        if self._client is None:
            self._client = redis_client(self._url, self._command_timeout_s)
        if self._heartbeat is None:
            self._heartbeat = asyncio.create_task(self._beat_forever(), name="presence-heartbeat")

    async def stop(self) -> None:
        if self._heartbeat is not None:
            await cancel_and_wait([self._heartbeat])
            self._heartbeat = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None
            self._scripts.clear()

    # Keys ---------------------------------------------------------------------------------------
    def _keys(self, user_id: uuid.UUID) -> list[str]:
        u = user_id.hex
        return [f"{self._prefix}p:{u}", f"{self._prefix}ps:{u}", f"{self._prefix}ls:{u}"]

    def _watch_key(self, user_id: uuid.UUID) -> str:
        return f"{self._prefix}w:{user_id.hex}"

    def _redis(self) -> aioredis.Redis:
        if self._client is None:
            raise RuntimeError("RedisPresence.start() was not called")
        return self._client

    async def _eval(self, script: str, keys: list[str], args: list[str | int]) -> object:
        # EVALSHA, loading the script on NOSCRIPT (e.g. after a Redis restart).
        scripted = self._scripts.get(script)
        if scripted is None:
            scripted = self._scripts[script] = self._redis().register_script(script)
        result: object = await scripted(keys=keys, args=args)
        return result

    def _failed(self, exc: BaseException) -> None:
        if not self._outage_logged:
            self._outage_logged = True
            log.warning(
                "redis presence unavailable; presence is approximate until it returns",
                extra={"error_type": type(exc).__name__},
            )

    def _ok(self) -> None:
        if self._outage_logged:
            self._outage_logged = False
            log.info("redis presence restored")

    # PresenceBackend ----------------------------------------------------------------------------
    async def connect(self, user_id: uuid.UUID, conn_id: str, now_ms: int) -> Status:
        self._local[conn_id] = (user_id, "online")
        try:
            before = await self._eval(
                _CONNECT,
                self._keys(user_id),
                [conn_id, self._conn_ttl_ms, now_ms, self._last_seen_ttl_ms],
            )
        except (RedisError, OSError) as exc:
            self._failed(exc)
            return "online"
        self._ok()
        return _status(before)

    async def disconnect(self, user_id: uuid.UUID, conn_id: str, now_ms: int) -> Status:
        self._local.pop(conn_id, None)
        try:
            await self._set_watch(conn_id, user_id, frozenset())
            after = await self._eval(
                _DISCONNECT, self._keys(user_id), [conn_id, now_ms, self._last_seen_ttl_ms]
            )
        except (RedisError, OSError) as exc:
            self._failed(exc)
            return "online"
        self._ok()
        return _status(after)

    async def set_status(
        self, user_id: uuid.UUID, conn_id: str, status: Status, now_ms: int
    ) -> Status:
        if conn_id in self._local and status != "offline":
            self._local[conn_id] = (user_id, status)
        try:
            after = await self._eval(
                _SET_STATUS,
                self._keys(user_id),
                [conn_id, status, now_ms, self._last_seen_ttl_ms],
            )
        except (RedisError, OSError) as exc:
            self._failed(exc)
            return "online"
        self._ok()
        return _status(after)

    async def get(self, user_ids: list[uuid.UUID]) -> list[PresenceInfo]:
        out: list[PresenceInfo] = []
        for i in range(0, len(user_ids), _CHUNK):
            chunk = user_ids[i : i + _CHUNK]
            keys = [k for u in chunk for k in self._keys(u)]
            try:
                raw = await self._eval(_GET, keys, [])
            except (RedisError, OSError) as exc:
                self._failed(exc)
                out.extend(PresenceInfo(u, "offline", None) for u in chunk)
                continue
            assert isinstance(raw, list)
            for j, user_id in enumerate(chunk):
                status, seen = raw[2 * j], raw[2 * j + 1]
                seen_text = seen.decode() if isinstance(seen, bytes) else str(seen)
                out.append(
                    PresenceInfo(user_id, _status(status), int(seen_text) if seen_text else None)
                )
        return out

    async def set_typing(
        self, conversation_id: uuid.UUID, user_id: uuid.UUID, now_ms: int, ttl_ms: int
    ) -> bool:
        key = f"{self._prefix}t:{conversation_id.hex}:{user_id.hex}"
        try:
            return bool(await self._redis().set(key, b"1", nx=True, px=ttl_ms))
        except (RedisError, OSError) as exc:
            self._failed(exc)
            return False

    async def watch(self, conn_id: str, watcher: uuid.UUID, targets: Collection[uuid.UUID]) -> None:
        try:
            await self._set_watch(conn_id, watcher, frozenset(targets))
        except (RedisError, OSError) as exc:
            # Kept locally: the heartbeat writes it once Redis is back.
            self._failed(exc)
            return
        self._ok()

    async def _set_watch(
        self, conn_id: str, watcher: uuid.UUID, targets: frozenset[uuid.UUID]
    ) -> None:
        old = self._local_watch.pop(conn_id, None)
        if targets:
            self._local_watch[conn_id] = (watcher, targets)
        leave = sorted(old[1] - targets) if old is not None else []
        join = sorted(targets)  # all of them: refreshes the expiry of the kept ones
        if not leave and not join:
            return
        keys = [self._watch_key(u) for u in (*leave, *join)]
        await self._eval(_WATCH, keys, [f"{watcher.hex}/{conn_id}", self._conn_ttl_ms, len(leave)])

    async def watchers(self, user_id: uuid.UUID) -> set[uuid.UUID]:
        try:
            raw = await self._eval(_WATCHERS, [self._watch_key(user_id)], [])
        except (RedisError, OSError) as exc:
            self._failed(exc)
            return set()
        self._ok()
        assert isinstance(raw, list)
        out: set[uuid.UUID] = set()
        for member in raw:
            text = member.decode() if isinstance(member, bytes) else str(member)
            out.add(uuid.UUID(text.partition("/")[0]))
        return out

    # Heartbeat ----------------------------------------------------------------------------------
    async def heartbeat(self) -> None:
        """Refresh (or re-create) every local connection; runs every `heartbeat_s`."""
        items = list(self._local.items())
        for i in range(0, len(items), _CHUNK):
            keys: list[str] = []
            args: list[str | int] = [self._conn_ttl_ms]
            for conn_id, (user_id, status) in items[i : i + _CHUNK]:
                zkey, hkey, _ = self._keys(user_id)
                keys += [zkey, hkey]
                args += [conn_id, status]
            await self._eval(_HEARTBEAT, keys, args)
        pairs = [
            (self._watch_key(target), f"{watcher.hex}/{conn_id}")
            for conn_id, (watcher, targets) in list(self._local_watch.items())
            for target in targets
        ]
        for i in range(0, len(pairs), _CHUNK):
            chunk = pairs[i : i + _CHUNK]
            await self._eval(
                _WATCH_HEARTBEAT, [k for k, _ in chunk], [self._conn_ttl_ms, *(m for _, m in chunk)]
            )

    async def _beat_forever(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_s)
            try:
                await self.heartbeat()
            except (RedisError, OSError) as exc:
                self._failed(exc)
            else:
                self._ok()


def _status(raw: object) -> Status:
    text = raw.decode() if isinstance(raw, bytes) else raw
    if text == "online":
        return "online"
    if text == "away":
        return "away"
    return "offline"
