"""Multi-node fan-out over Redis pub/sub: one channel per user (`{prefix}u:{user_id}`).

A node SUBSCRIBEs to a user's channel when the user's first socket connects here and
UNSUBSCRIBEs when the last one leaves, so it receives only what its sockets need. `publish`
delivers to this node's sockets directly, then PUBLISHes one serialised copy per recipient in a
single pipeline (one round trip per event); other nodes deliver what they receive to their own
sockets, and every node ignores the copies it published itself.

Events with more than `bulk_threshold` recipients (a message in a big public room) are published
once, recipient list included, on the bulk channel `{prefix}bulk` that every node subscribes to;
each node hands it to the recipients it holds. One PUBLISH and one copy per node instead of one
per member.

Fan-out is a fast path only (docs/architecture.md, invariant 4). When Redis is unreachable,
sockets stay up, local delivery goes on, publishes for other nodes are dropped and counted
(`hushroom_fanout_dropped_total`), and clients recover from the database. The reader reconnects
with capped backoff and re-SUBSCRIBEs every local user's channel, so fan-out resumes well within
5 s of Redis returning.

Nothing may wait for a later message to reveal what fan-out lost (the last message of a
conversation would stay missing), so every loss is announced with a `sync.stale` event, which
makes clients `resume` from the database:
- the subscriber reconnected: events published meanwhile reached nobody here, so once Redis
  confirms the re-subscription (a PING answered after it) every local user is told;
- a publish was dropped: its recipients on other nodes are told, over the bulk channel, as soon
  as Redis takes a publish again (retried with backoff until it does).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry, Counter, Gauge
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from hushroom.events.event import Event
from hushroom.fanout.base import Subscriber, stale_event
from hushroom.fanout.local import LocalHub
from hushroom.redis_connect import redis_client
from hushroom.tasks import cancel_and_wait

log = logging.getLogger("hushroom.fanout")

# Redis commands are sent in chunks of this many channels (re-subscribe after a reconnect).
_CHUNK = 500
_SEP = b"|"
# Users named per `sync.stale` publish, and users remembered from dropped publishes before the
# announcement goes to everyone instead.
_STALE_CHUNK = 5_000
_MISSED_CAP = 100_000


class _Metrics:
    def __init__(self, registry: CollectorRegistry | None) -> None:
        registry = registry if registry is not None else CollectorRegistry()
        self.dropped = Counter(
            "hushroom_fanout_dropped_total",
            "Events not published to other nodes because Redis was unreachable",
            registry=registry,
        )
        self.reconnects = Counter(
            "hushroom_fanout_reconnects_total",
            "Times the fan-out subscriber (re)connected to Redis",
            registry=registry,
        )
        self.connected = Gauge(
            "hushroom_fanout_redis_connected",
            "1 while the fan-out subscriber is connected to Redis",
            # With several workers (metrics.py): 0 when any live worker is disconnected.
            multiprocess_mode="livemin",
            registry=registry,
        )


class RedisFanout:
    """`FanoutBackend` over Redis pub/sub; see the module docstring."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "hushroom:",
        registry: CollectorRegistry | None = None,
        max_backoff_s: float = 1.0,
        ping_interval_s: float = 5.0,
        command_timeout_s: float = 2.0,
        bulk_threshold: int = 200,
    ) -> None:
        self._url = url
        self._bulk_threshold = bulk_threshold
        self._bulk_channel = f"{prefix}bulk"
        self._prefix = prefix
        self._user_prefix = f"{prefix}u:"
        self._node_id = uuid.uuid4().hex.encode()
        self._node_channel = f"{prefix}node:{self._node_id.decode()}"
        self._hub = LocalHub()
        self._metrics = _Metrics(registry)
        self._max_backoff_s = max_backoff_s
        self._ping_interval_s = ping_interval_s
        self._command_timeout_s = command_timeout_s
        self._client: aioredis.Redis | None = None
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._control: asyncio.Task[None] | None = None
        # (kind, name): "sub"/"unsub" a channel, or "ping" a sync() token.
        self._ops: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._syncs: dict[str, asyncio.Future[None]] = {}
        # Channels of the users with sockets here: what the subscriber connection should hold.
        self._wanted: set[str] = set()
        self._up = asyncio.Event()
        # After a re-subscription: the PING token whose answer means the channels are in
        # effect, and the users whose sockets were here before it. Only they may have missed
        # events (a socket that connects later waits for its own SUBSCRIBE, see `sync`).
        self._resubscribed: tuple[str, frozenset[uuid.UUID]] | None = None
        # Recipients of dropped publishes, still to be told (`everyone` once it overflows).
        self._missed: set[uuid.UUID] = set()
        self._missed_everyone = False
        self._missed_pending = asyncio.Event()
        self._announcer: asyncio.Task[None] | None = None
        self._outage_logged = False
        self._stopping = False
        # Counted here too, so tests and the benchmark need not scrape metrics.
        self.dropped = 0
        self.reconnects = 0
        # Last decoded payload: a node holding k recipients of one event receives k equal copies.
        self._last_raw: bytes = b""
        self._last_fields: dict[str, Any] = {}

    # Lifecycle --------------------------------------------------------------------------------
    async def start(self) -> None:
        if self._reader is not None:
            return
        self._stopping = False
        self._client = redis_client(
            self._url, self._command_timeout_s, client_name=self.client_name
        )
        self._reader = asyncio.create_task(self._read_forever(), name="fanout-redis-reader")
        self._control = asyncio.create_task(self._control_forever(), name="fanout-redis-control")
        self._announcer = asyncio.create_task(
            self._announce_forever(), name="fanout-redis-announcer"
        )
        # Wait briefly for the first connection so a fresh node fans out at once; if Redis is
        # down the node still starts (the reader keeps trying).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._up.wait(), self._command_timeout_s)

    async def stop(self) -> None:
        self._stopping = True
        await cancel_and_wait([self._reader, self._control, self._announcer])
        self._reader = self._control = self._announcer = None
        await self._close_pubsub()
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        self._up.clear()
        self._metrics.connected.set(0)

    @property
    def client_name(self) -> str:
        return f"{self._prefix}fanout:{self._node_id.decode()}"

    @property
    def connected(self) -> bool:
        """True while this node receives other nodes' events."""
        return self._up.is_set()

    async def wait_connected(self) -> None:
        """Until the subscriber is connected (callers bound it with `asyncio.timeout`)."""
        await self._up.wait()

    # FanoutBackend ------------------------------------------------------------------------------
    def subscribe(self, subscriber: Subscriber) -> None:
        if self._hub.add(subscriber):
            channel = self._channel(subscriber.user_id)
            self._wanted.add(channel)
            self._ops.put_nowait(("sub", channel))

    def unsubscribe(self, subscriber: Subscriber) -> None:
        if self._hub.remove(subscriber):
            channel = self._channel(subscriber.user_id)
            self._wanted.discard(channel)
            self._ops.put_nowait(("unsub", channel))

    def local_user_ids(self) -> set[uuid.UUID]:
        return self._hub.user_ids()

    async def sync(self) -> None:
        """Until Redis has applied every (un)subscription asked for so far (a PING round trip
        on the subscriber connection). The gateway waits for it (bounded) after subscribing."""
        token = uuid.uuid4().hex
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._syncs[token] = future
        self._ops.put_nowait(("ping", token))
        try:
            await future
        finally:
            self._syncs.pop(token, None)

    async def publish(self, event: Event) -> None:
        """Deliver here at once, then to other nodes; never raises for Redis trouble."""
        await self.publish_many((event,))

    async def publish_many(self, events: Sequence[Event]) -> None:
        """Deliver each here at once, then every PUBLISH in one pipelined round trip."""
        for event in events:
            self._hub.deliver(event)
        events = [e for e in events if e.recipients]
        if not events:
            return
        client = self._client
        if client is None or not self._up.is_set():
            self._drop(events)
            return
        try:
            async with client.pipeline(transaction=False) as pipe:
                for event in events:
                    data = self._node_id + _SEP + _encode(event)
                    if len(event.recipients) > self._bulk_threshold:
                        pipe.publish(self._bulk_channel, data)
                    else:
                        for user_id in event.recipients:
                            pipe.publish(self._channel(user_id), data)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            self._drop(events, exc)

    # Internals ------------------------------------------------------------------------------------
    def _channel(self, user_id: uuid.UUID) -> str:
        return self._user_prefix + user_id.hex

    def _drop(self, events: Sequence[Event], exc: BaseException | None = None) -> None:
        self.dropped += len(events)
        self._metrics.dropped.inc(len(events))
        self._outage(exc)
        if not self._stopping:
            self._remember_missed(*(event.recipients for event in events))

    def _remember_missed(self, *recipients: Iterable[uuid.UUID], everyone: bool = False) -> None:
        """Users to tell `sync.stale`, all of them once there are more than `_MISSED_CAP`."""
        self._missed_everyone |= everyone
        if not self._missed_everyone:
            for users in recipients:
                self._missed.update(users)
            if len(self._missed) > _MISSED_CAP:
                self._missed_everyone = True
        if self._missed_everyone:
            self._missed.clear()
        self._missed_pending.set()

    async def _announce_forever(self) -> None:
        """Tells the recipients of dropped publishes to resume, once Redis takes publishes."""
        backoff = 0.05
        while True:
            await self._missed_pending.wait()
            await self._up.wait()
            self._missed_pending.clear()
            users, self._missed = self._missed, set()
            everyone, self._missed_everyone = self._missed_everyone, False
            try:
                await self._publish_stale(users, everyone=everyone)
                backoff = 0.05
            except (RedisError, OSError) as exc:
                # Not announced: keep them for the next try (new drops may have joined them).
                self._remember_missed(users, everyone=everyone)
                self._outage(exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff_s)

    async def _publish_stale(self, users: set[uuid.UUID], *, everyone: bool) -> None:
        client = self._client
        if client is None:
            raise ConnectionError("fan-out stopped")
        if everyone:
            messages = [_encode(stale_event(frozenset()), everyone=True)]
        else:
            ids = list(users)
            messages = [
                _encode(stale_event(frozenset(ids[i : i + _STALE_CHUNK])))
                for i in range(0, len(ids), _STALE_CHUNK)
            ]
        async with client.pipeline(transaction=False) as pipe:
            for body in messages:
                pipe.publish(self._bulk_channel, self._node_id + _SEP + body)
            await pipe.execute()

    def _announce_local(self, among: frozenset[uuid.UUID] | None = None) -> None:
        """Local users (all, or those `among` still here) resume: this node's subscriber was
        away, or a node dropped publishes and no longer knew to whom."""
        users = frozenset(self._hub.user_ids())
        if among is not None:
            users &= among
        if users:
            self._hub.deliver(stale_event(users, self._hub.subscriber_count(users)))

    def _outage(self, exc: BaseException | None) -> None:
        """Log once per outage; the exception type only (a URL could carry a password)."""
        if self._outage_logged or self._stopping:
            return
        self._outage_logged = True
        log.warning(
            "redis fan-out unavailable; events for other nodes are dropped until it returns",
            extra={"error_type": type(exc).__name__ if exc is not None else "disconnected"},
        )

    async def _close_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _read_forever(self) -> None:
        backoff = 0.05
        while not self._stopping:
            try:
                await self._connect()
                backoff = 0.05
                await self._read(self._pubsub_or_raise())
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # RedisError, OSError, protocol errors: reconnect
                self._up.clear()
                self._metrics.connected.set(0)
                self._outage(exc)
            await self._close_pubsub()
            if self._stopping:
                return
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff_s)

    def _pubsub_or_raise(self) -> PubSub:
        if self._pubsub is None:
            raise ConnectionError("no pubsub connection")
        return self._pubsub

    async def _connect(self) -> None:
        assert self._client is not None
        self._pubsub = self._client.pubsub()
        # Everything queued so far is covered by subscribing the current set.
        while not self._ops.empty():
            self._ops.get_nowait()
        channels = [self._node_channel, self._bulk_channel, *self._wanted]
        for i in range(0, len(channels), _CHUNK):
            await self._pubsub.subscribe(*channels[i : i + _CHUNK])
        for token in list(self._syncs):
            await self._pubsub.ping(token)
        # Events published before the SUBSCRIBEs above took effect reached nobody here; once
        # Redis answers this PING (after them), the users who were here meanwhile resume.
        here = frozenset(self._hub.user_ids())
        self._resubscribed = None
        if here:
            self._resubscribed = (uuid.uuid4().hex, here)
            await self._pubsub.ping(self._resubscribed[0])
        self.reconnects += 1
        self._metrics.reconnects.inc()
        self._metrics.connected.set(1)
        if self._outage_logged:
            log.info("redis fan-out restored", extra={"channels": len(channels)})
        self._outage_logged = False
        self._up.set()

    async def _read(self, pubsub: PubSub) -> None:
        loop = asyncio.get_running_loop()
        last_traffic = last_ping = loop.time()
        while True:
            message = await pubsub.get_message(timeout=1.0)
            now = loop.time()
            if message is None:
                # A silent peer (host gone, no RST) would otherwise go unnoticed for hours.
                if now - last_traffic > 3 * self._ping_interval_s:
                    raise ConnectionError("no answer from Redis to pings")
                if now - max(last_traffic, last_ping) >= self._ping_interval_s:
                    await pubsub.ping()
                    last_ping = now
                continue
            last_traffic = now
            if message["type"] == "pong":
                data = message["data"]
                token = data.decode() if isinstance(data, bytes) else str(data)
                resubscribed = self._resubscribed
                if resubscribed is not None and token == resubscribed[0]:
                    self._resubscribed = None
                    self._announce_local(resubscribed[1])
                    continue
                future = self._syncs.get(token)
                if future is not None and not future.done():
                    future.set_result(None)
                continue
            if message["type"] != "message":
                continue
            channel = message["channel"]
            self._receive(
                channel.decode() if isinstance(channel, bytes) else str(channel), message["data"]
            )

    def _receive(self, channel: str, raw: bytes) -> None:
        bulk = channel == self._bulk_channel
        if not bulk and not channel.startswith(self._user_prefix):
            return
        origin, sep, body = raw.partition(_SEP)
        if not sep or origin == self._node_id:
            return  # our own event: already delivered locally at publish time
        try:
            if body != self._last_raw:
                self._last_fields = _decode(body)
                self._last_raw = body
            fields = self._last_fields
            if bulk and fields["everyone"]:
                self._announce_local()
                return
            recipients: frozenset[uuid.UUID] = fields["recipients"]
            # Bulk: the hub hands it to whichever recipients have sockets here (as the memory
            # backend does). Per-user channel: to that user only, if the event names them.
            if not bulk:
                user_id = uuid.UUID(hex=channel[len(self._user_prefix) :])
                recipients = recipients & {user_id}
                if not recipients:
                    return
            event = Event(
                type=fields["type"],
                payload=fields["payload"],
                recipients=recipients,
                conversation_id=fields["conversation_id"],
                seq=fields["seq"],
                exclude_device=fields["exclude_device"],
                exclude_connection=fields["exclude_connection"],
            )
        except (ValueError, KeyError, TypeError):
            log.warning("malformed fan-out message ignored", extra={"bytes": len(raw)})
            return
        self._hub.deliver(event)

    async def _control_forever(self) -> None:
        """Sends SUBSCRIBE/UNSUBSCRIBE in arrival order; the reader task reads the replies."""
        while True:
            first = await self._ops.get()
            await self._up.wait()
            batch = [first]
            while not self._ops.empty():
                batch.append(self._ops.get_nowait())
            pubsub = self._pubsub
            if pubsub is None:
                continue  # reconnecting: the reader subscribes the whole current set
            # Ops queued before a reconnect may be stale; keep those the current state wants.
            batch = [
                (kind, name)
                for kind, name in batch
                if kind == "ping" or (kind == "sub") == (name in self._wanted)
            ]
            try:
                for kind, group in _runs(batch):
                    if kind == "sub":
                        await pubsub.subscribe(*group)
                    elif kind == "unsub":
                        await pubsub.unsubscribe(*group)
                    else:
                        for token in group:
                            await pubsub.ping(token)
            except (RedisError, OSError) as exc:
                # The reader notices the broken connection and re-subscribes everything.
                self._outage(exc)


def _runs(batch: list[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    """Consecutive operations of one kind, merged (order between kinds is kept)."""
    out: list[tuple[str, list[str]]] = []
    for kind, name in batch:
        if out and out[-1][0] == kind and len(out[-1][1]) < _CHUNK:
            out[-1][1].append(name)
        else:
            out.append((kind, [name]))
    return out


def _encode(event: Event, *, everyone: bool = False) -> bytes:
    """`everyone`: for every user with a socket on the receiving node (recipients ignored)."""
    return orjson.dumps(
        {
            "t": event.type,
            "p": event.payload,
            "r": [u.hex for u in event.recipients],
            "c": event.conversation_id.hex if event.conversation_id is not None else None,
            "s": event.seq,
            "x": event.exclude_device.hex if event.exclude_device is not None else None,
            "o": event.exclude_connection,
            "e": everyone,
        }
    )


def _decode(body: bytes) -> dict[str, Any]:
    data = orjson.loads(body)
    if not isinstance(data, dict) or not isinstance(data["t"], str):
        raise ValueError("not an event")
    payload = data["p"]
    if not isinstance(payload, dict):
        raise ValueError("payload is not an object")
    conv = data["c"]
    excl = data["x"]
    seq = data["s"]
    if seq is not None and not isinstance(seq, int):
        raise ValueError("seq is not an integer")
    # Absent from nodes older than protocol 2 (a rolling upgrade): nobody is excluded.
    origin = data.get("o")
    if origin is not None and not isinstance(origin, str):
        raise ValueError("origin is not a string")
    return {
        "type": data["t"],
        "payload": payload,
        "recipients": frozenset(uuid.UUID(hex=u) for u in data["r"]),
        "conversation_id": uuid.UUID(hex=conv) if conv is not None else None,
        "seq": seq,
        "exclude_device": uuid.UUID(hex=excl) if excl is not None else None,
        "exclude_connection": origin,
        "everyone": data.get("e") is True,
    }
