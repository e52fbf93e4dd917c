"""One contract for every fan-out backend (`memory`, `redis`).

"Nodes" are separate backend instances sharing one Redis; the memory backend is a single node,
so there the two "nodes" are the same instance and the contract still has to hold.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

import orjson
import pytest
import redis.asyncio as aioredis

from hushroom.events.event import Event
from hushroom.fanout.base import SYNC_STALE as STALE
from hushroom.fanout.base import FanoutBackend
from hushroom.fanout.redis import RedisFanout
from tests.contract.conftest import REDIS_URL, FanoutFactory, Recorder

WAIT_S = 5.0


def event(*recipients: uuid.UUID, **fields: object) -> Event:
    return Event(
        type=str(fields.get("type", "message.new")),
        payload=dict(fields.get("payload", {"n": 1})),  # type: ignore[call-overload]
        recipients=frozenset(recipients),
        conversation_id=fields.get("conversation_id"),  # type: ignore[arg-type]
        seq=fields.get("seq"),  # type: ignore[arg-type]
        exclude_device=fields.get("exclude_device"),  # type: ignore[arg-type]
    )


async def until(condition: Callable[[], bool], within: float = WAIT_S) -> None:
    """Poll `condition()` until it is true (or fail after `within` seconds)."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def settled(*nodes: FanoutBackend) -> None:
    """Until every SUBSCRIBE/UNSUBSCRIBE asked of Redis so far has taken effect."""
    for node in nodes:
        if isinstance(node, RedisFanout):
            async with asyncio.timeout(WAIT_S):
                await node.wait_connected()
            await node.sync()


async def quiet(seconds: float = 0.2) -> None:
    """Give a wrongly routed event time to show up before asserting it did not."""
    await asyncio.sleep(seconds)


async def test_local_subscriber_receives_event(fanout_factory: FanoutFactory) -> None:
    node = await fanout_factory()
    alice = Recorder(uuid.uuid4())
    node.subscribe(alice)
    await settled(node)
    await node.publish(event(alice.user_id, payload={"hello": "world"}))
    await until(lambda: len(alice.events) == 1)
    await quiet()
    assert len(alice.events) == 1
    assert alice.events[0].payload == {"hello": "world"}


async def test_event_reaches_subscribers_on_another_node(fanout_factory: FanoutFactory) -> None:
    a, b = await fanout_factory(), await fanout_factory()
    alice, bob = Recorder(uuid.uuid4()), Recorder(uuid.uuid4())
    a.subscribe(alice)
    b.subscribe(bob)
    await settled(a, b)
    await a.publish(event(alice.user_id, bob.user_id, type="message.new"))
    await b.publish(event(alice.user_id, type="typing"))
    await until(lambda: len(alice.events) == 2 and len(bob.events) == 1)
    await quiet()
    assert sorted(e.type for e in alice.events) == ["message.new", "typing"]
    assert [e.type for e in bob.events] == ["message.new"]


async def test_user_on_both_nodes_gets_one_copy_per_socket(fanout_factory: FanoutFactory) -> None:
    a, b = await fanout_factory(), await fanout_factory()
    user = uuid.uuid4()
    on_a, on_b, also_on_b = Recorder(user), Recorder(user), Recorder(user)
    for node, sub in ((a, on_a), (b, on_b), (b, also_on_b)):
        node.subscribe(sub)
    await settled(a, b)
    await a.publish(event(user))
    await until(lambda: all(len(s.events) == 1 for s in (on_a, on_b, also_on_b)))
    await quiet()
    assert [len(s.events) for s in (on_a, on_b, also_on_b)] == [1, 1, 1]


async def test_recipients_are_never_widened(fanout_factory: FanoutFactory) -> None:
    a, b = await fanout_factory(), await fanout_factory()
    alice, bob, carol = Recorder(uuid.uuid4()), Recorder(uuid.uuid4()), Recorder(uuid.uuid4())
    a.subscribe(alice)
    b.subscribe(bob)
    b.subscribe(carol)
    await settled(a, b)
    await a.publish(event(alice.user_id, bob.user_id, payload={"secret": "for two"}))
    await until(lambda: len(alice.events) == 1 and len(bob.events) == 1)
    await quiet()
    assert carol.events == []
    # What a node hands to a socket names only that socket's user as recipient.
    assert bob.events[0].recipients <= {alice.user_id, bob.user_id}
    assert bob.user_id in bob.events[0].recipients


async def test_event_fields_survive_the_trip(fanout_factory: FanoutFactory) -> None:
    a, b = await fanout_factory(), await fanout_factory()
    bob = Recorder(uuid.uuid4())
    b.subscribe(bob)
    await settled(a, b)
    conv, device = uuid.uuid4(), uuid.uuid4()
    payload = {"conversation_id": str(conv), "nested": {"list": [1, "two", None, True]}, "n": 7}
    await a.publish(
        event(
            bob.user_id,
            type="typing",
            payload=payload,
            conversation_id=conv,
            seq=42,
            exclude_device=device,
        )
    )
    await until(lambda: len(bob.events) == 1)
    got = bob.events[0]
    assert (got.type, got.payload, got.conversation_id, got.seq, got.exclude_device) == (
        "typing",
        payload,
        conv,
        42,
        device,
    )
    assert got.frame() == {"type": "typing", **payload}


async def test_unsubscribe_stops_delivery_and_tracks_local_users(
    fanout_factory: FanoutFactory,
) -> None:
    a, b = await fanout_factory(), await fanout_factory()
    user = uuid.uuid4()
    first, second = Recorder(user), Recorder(user)
    b.subscribe(first)
    b.subscribe(second)
    assert user in b.local_user_ids()
    b.unsubscribe(first)
    assert user in b.local_user_ids()  # one socket left
    await settled(a, b)
    await a.publish(event(user, payload={"n": 1}))
    await until(lambda: len(second.events) == 1)
    b.unsubscribe(second)
    assert user not in b.local_user_ids()
    b.unsubscribe(second)  # unsubscribing twice is harmless
    await settled(a, b)
    await a.publish(event(user, payload={"n": 2}))
    await quiet()
    assert first.events == []
    assert [e.payload for e in second.events] == [{"n": 1}]


async def test_resubscribe_after_last_socket_left(fanout_factory: FanoutFactory) -> None:
    a, b = await fanout_factory(), await fanout_factory()
    user = uuid.uuid4()
    old, new = Recorder(user), Recorder(user)
    b.subscribe(old)
    b.unsubscribe(old)
    b.subscribe(new)  # unsubscribe and subscribe again before Redis hears of either
    await settled(a, b)
    await a.publish(event(user))
    await until(lambda: len(new.events) == 1)
    assert old.events == []
    # Subscribed after the node's first connection: nothing was missed, nothing announced.
    await quiet()
    assert [e.type for e in new.events] == ["message.new"]


async def test_many_recipients_across_nodes(fanout_factory: FanoutFactory) -> None:
    a, b = await fanout_factory(), await fanout_factory()
    subs = [Recorder(uuid.uuid4()) for _ in range(300)]
    for i, sub in enumerate(subs):
        (a if i % 2 else b).subscribe(sub)
    await settled(a, b)
    await a.publish(event(*(s.user_id for s in subs), conversation_id=uuid.uuid4(), seq=1))
    await until(lambda: all(len(s.events) == 1 for s in subs))
    await quiet()
    assert all(len(s.events) == 1 for s in subs)


async def test_per_user_order_is_kept(fanout_factory: FanoutFactory) -> None:
    a, b = await fanout_factory(), await fanout_factory()
    bob = Recorder(uuid.uuid4())
    b.subscribe(bob)
    await settled(a, b)
    for seq in range(1, 201):
        await a.publish(event(bob.user_id, seq=seq))
    await until(lambda: len(bob.events) == 200)
    assert [e.seq for e in bob.events] == list(range(1, 201))


async def test_publish_many_delivers_each_event_once_in_order(
    fanout_factory: FanoutFactory,
) -> None:
    """One commit's messages go out together: mixed audiences, local and remote, order kept."""
    a, b = await fanout_factory(), await fanout_factory()
    ana, bob, outsider = Recorder(uuid.uuid4()), Recorder(uuid.uuid4()), Recorder(uuid.uuid4())
    crowd = [Recorder(uuid.uuid4()) for _ in range(250)]
    a.subscribe(ana)
    b.subscribe(bob)
    b.subscribe(outsider)
    for i, sub in enumerate(crowd):
        (a if i % 2 else b).subscribe(sub)
    await settled(a, b)
    room = [*(c.user_id for c in crowd), bob.user_id]
    batch = [
        event(ana.user_id, bob.user_id, seq=1),
        event(*room, seq=2),  # a big audience (Redis: the bulk channel)
        event(bob.user_id, seq=3),
        event(seq=4),  # nobody: dropped
        event(ana.user_id, bob.user_id, seq=5),
    ]
    await a.publish_many(batch)
    await until(lambda: len(bob.events) == 4 and all(len(c.events) == 1 for c in crowd))
    await until(lambda: len(ana.events) == 2)
    await quiet()
    assert [e.seq for e in bob.events] == [1, 2, 3, 5]
    assert [e.seq for e in ana.events] == [1, 5]
    assert all([e.seq for e in c.events] == [2] for c in crowd)
    assert outsider.events == []


async def test_subscriber_may_unsubscribe_itself_while_receiving(
    fanout_factory: FanoutFactory,
) -> None:
    node = await fanout_factory()
    user = uuid.uuid4()

    class SlowConsumer(Recorder):
        def deliver(self, event: Event) -> None:
            super().deliver(event)
            node.unsubscribe(self)  # what the gateway does with an overflowing socket

    slow, steady = SlowConsumer(user), Recorder(user)
    node.subscribe(slow)
    node.subscribe(steady)
    await settled(node)
    await node.publish(event(user))
    await until(lambda: len(steady.events) == 1)
    await node.publish(event(user))
    await until(lambda: len(steady.events) == 2)
    assert len(slow.events) == 1


# Redis only: what the memory backend cannot lose ------------------------------------------------


def redis_only(factory: FanoutFactory) -> None:
    if getattr(factory, "backend", None) != "redis":
        pytest.skip("capability: a Redis connection that can drop (memory has none)")


async def kill_pubsub_connection(admin: aioredis.Redis, node: RedisFanout) -> None:
    """Drop this node's subscriber connection only (never other tests' connections)."""
    clients = await admin.client_list(_type="pubsub")
    ids = [c["id"] for c in clients if c.get("name") == node.client_name]
    assert ids, "the node's pub/sub connection is not in CLIENT LIST"
    for client_id in ids:
        await admin.client_kill_filter(_id=client_id)


@pytest.mark.timeout(30)
async def test_fanout_resumes_within_5s_after_connection_loss(
    fanout_factory: FanoutFactory, redis_admin: aioredis.Redis, redis_prefix: str
) -> None:
    redis_only(fanout_factory)
    a, b = await fanout_factory(), await fanout_factory()
    assert isinstance(b, RedisFanout)
    bob = Recorder(uuid.uuid4())
    b.subscribe(bob)
    await settled(a, b)
    await kill_pubsub_connection(redis_admin, b)
    lost = time.monotonic()
    # Sockets come and go while the connection is down.
    dave, gone = Recorder(uuid.uuid4()), Recorder(uuid.uuid4())
    b.subscribe(dave)
    b.subscribe(gone)
    b.unsubscribe(gone)
    # Keep publishing (as services do); none of it may raise, and delivery must come back.
    n = 0
    while not bob.without(STALE):
        n += 1
        await a.publish(event(bob.user_id, seq=n))
        assert time.monotonic() - lost < WAIT_S, "fan-out did not resume within 5 s"
        await asyncio.sleep(0.02)
    resumed = time.monotonic() - lost
    assert resumed < WAIT_S
    assert b.reconnects >= 2  # it really reconnected (and re-subscribed) rather than never lost
    # A user who connects after the reconnect is subscribed too.
    carol = Recorder(uuid.uuid4())
    b.subscribe(carol)
    await settled(a, b)
    await a.publish(event(carol.user_id, dave.user_id, gone.user_id))
    await until(lambda: len(carol.without(STALE)) == 1 and len(dave.without(STALE)) == 1)
    await quiet()
    assert gone.events == []
    channel = f"{redis_prefix}u:{gone.user_id.hex}"
    assert dict(await redis_admin.pubsub_numsub(channel)) == {channel.encode(): 0}


@pytest.mark.timeout(30)
async def test_publish_without_redis_drops_counted_and_never_raises(
    fanout_factory: FanoutFactory,
) -> None:
    redis_only(fanout_factory)
    # Nothing listens on port 1: this node never reaches Redis.
    node = RedisFanout("redis://127.0.0.1:1/0", prefix="unused:", command_timeout_s=0.2)
    await node.start()
    try:
        local = Recorder(uuid.uuid4())
        node.subscribe(local)
        await node.publish(event(local.user_id, uuid.uuid4()))
        await node.publish(event(uuid.uuid4()))
        assert node.dropped == 2
        assert not node.connected
        # Sockets on this node still get their events.
        assert len(local.events) == 1
    finally:
        await node.stop()


async def two_redis_nodes(
    factory: FanoutFactory,
) -> tuple[RedisFanout, RedisFanout, tuple[Recorder, Recorder], Recorder]:
    """Nodes a and b, two users with a socket on b and one on a, all subscribed."""
    a, b = await factory(), await factory()
    assert isinstance(a, RedisFanout) and isinstance(b, RedisFanout)
    on_b = Recorder(uuid.uuid4()), Recorder(uuid.uuid4())
    on_a = Recorder(uuid.uuid4())
    for sub in on_b:
        b.subscribe(sub)
    a.subscribe(on_a)
    await settled(a, b)
    return a, b, on_b, on_a


@pytest.mark.timeout(30)
async def test_subscriber_reconnect_tells_every_local_user_to_resync(
    fanout_factory: FanoutFactory, redis_admin: aioredis.Redis
) -> None:
    """Events published while a node's subscription was gone reached nobody there; no later
    event may be needed to reveal them, so every user with a socket there is told to resume."""
    redis_only(fanout_factory)
    a, b, (bob, dave), elsewhere = await two_redis_nodes(fanout_factory)
    await kill_pubsub_connection(redis_admin, b)
    await a.publish(event(bob.user_id, seq=1))  # may reach nobody: bob's node is resubscribing
    await until(lambda: bool(bob.of_type(STALE)) and bool(dave.of_type(STALE)))
    [stale] = bob.of_type(STALE)
    assert stale.frame() == {"type": STALE, "within_ms": 0}  # 2 sockets: at once
    # The notice comes once the re-subscription is in effect: what is published after it
    # arrives live, so a resume started now misses nothing.
    await a.publish(event(bob.user_id, seq=2))
    await until(lambda: any(e.seq == 2 for e in bob.events))
    await quiet()
    assert elsewhere.events == []  # a's subscriber never went away
    assert len(dave.of_type(STALE)) == 1


class FailingPipelines:
    """The next `count` pipelines of a node fail as if Redis had gone (fault injection)."""

    def __init__(self, node: RedisFanout, count: int = 1) -> None:
        client = node._client
        assert client is not None
        self.real = client.pipeline
        self.count = count
        client.pipeline = self  # type: ignore[method-assign,assignment]

    def __call__(self, *args: object, **kwargs: object) -> object:
        if self.count > 0:
            self.count -= 1
            raise ConnectionError("injected: Redis unreachable")
        return self.real(*args, **kwargs)  # type: ignore[arg-type]


@pytest.mark.timeout(30)
async def test_dropped_publish_is_announced_to_its_recipients_on_other_nodes(
    fanout_factory: FanoutFactory,
) -> None:
    redis_only(fanout_factory)
    a, _b, (bob, carol), alice = await two_redis_nodes(fanout_factory)
    # Two publishes fail: the event, then the first try of its announcement (retried).
    injected = FailingPipelines(a, count=2)
    await a.publish(event(bob.user_id, alice.user_id, seq=7))
    assert a.dropped == 1
    await until(lambda: bool(bob.of_type(STALE)))
    assert injected.count == 0
    assert bob.without(STALE) == []  # the event itself is gone from the fast path...
    assert [e.seq for e in alice.events] == [7]  # ...but its sender's node delivered it here
    await quiet()
    assert carol.events == []  # only the dropped event's recipients resume
    assert len(bob.of_type(STALE)) == 1


@pytest.mark.timeout(30)
async def test_a_resync_notice_is_spread_over_the_sockets_that_will_resume(
    fanout_factory: FanoutFactory, redis_admin: aioredis.Redis
) -> None:
    """Every socket resumes, not every user: one user with 12 tabs on a node is 12 resumes."""
    redis_only(fanout_factory)
    a, b = await fanout_factory(), await fanout_factory()
    user = uuid.uuid4()
    tabs = [Recorder(user) for _ in range(12)]
    for tab in tabs:
        b.subscribe(tab)
    await settled(a, b)
    await kill_pubsub_connection(redis_admin, b)
    await until(lambda: all(tab.of_type(STALE) for tab in tabs))
    assert {tab.of_type(STALE)[0].frame()["within_ms"] for tab in tabs} == {3}  # 12 // 4


@pytest.mark.timeout(30)
async def test_too_many_missed_users_tells_everyone_on_every_node(
    fanout_factory: FanoutFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    redis_only(fanout_factory)
    monkeypatch.setattr("hushroom.fanout.redis._MISSED_CAP", 2)
    a, b = await fanout_factory(), await fanout_factory()
    assert isinstance(a, RedisFanout)
    bob, carol = Recorder(uuid.uuid4()), Recorder(uuid.uuid4())
    b.subscribe(bob)
    b.subscribe(carol)
    await settled(a, b)
    FailingPipelines(a)
    await a.publish(event(bob.user_id, uuid.uuid4(), uuid.uuid4()))
    # Three recipients overflow the cap: the notice goes to every user on every other node.
    await until(lambda: bool(bob.of_type(STALE)) and bool(carol.of_type(STALE)))
    assert carol.of_type(STALE)[0].frame() == {"type": STALE, "within_ms": 0}


async def test_node_receives_only_its_users_channels(
    fanout_factory: FanoutFactory, redis_admin: aioredis.Redis, redis_prefix: str
) -> None:
    redis_only(fanout_factory)
    a, b = await fanout_factory(), await fanout_factory()
    user = uuid.uuid4()
    channel = f"{redis_prefix}u:{user.hex}"
    sub = Recorder(user)
    b.subscribe(sub)
    await settled(a, b)
    assert dict(await redis_admin.pubsub_numsub(channel)) == {channel.encode(): 1}
    b.unsubscribe(sub)
    await settled(a, b)
    assert dict(await redis_admin.pubsub_numsub(channel)) == {channel.encode(): 0}


def test_redis_url_is_the_documented_default() -> None:
    assert REDIS_URL.startswith("redis://")


@pytest.mark.parametrize("count", [1, 2, 199, 201, 1000])
async def test_each_recipient_gets_one_copy_whatever_the_audience_size(
    fanout_factory: FanoutFactory, count: int
) -> None:
    """Small audiences go over per-user channels, big ones over the bulk channel (Redis)."""
    a, b = await fanout_factory(), await fanout_factory()
    members = [Recorder(uuid.uuid4()) for _ in range(count)]
    outsider_a, outsider_b = Recorder(uuid.uuid4()), Recorder(uuid.uuid4())
    for i, sub in enumerate(members):
        (a if i % 3 == 0 else b).subscribe(sub)
    a.subscribe(outsider_a)
    b.subscribe(outsider_b)
    await settled(a, b)
    await a.publish(event(*(m.user_id for m in members), conversation_id=uuid.uuid4(), seq=9))
    await until(lambda: all(len(m.events) == 1 for m in members))
    await quiet()
    assert all(len(m.events) == 1 for m in members)
    assert outsider_a.events == outsider_b.events == []
    assert all(m.user_id in m.events[0].recipients for m in members)


async def test_the_origin_socket_to_exclude_crosses_nodes(fanout_factory: FanoutFactory) -> None:
    """An event keeps the sending socket's id (no echo to it, protocol 2) on every node."""
    a, b = await fanout_factory(), await fanout_factory()
    user = uuid.uuid4()
    on_a, on_b = Recorder(user), Recorder(user)
    a.subscribe(on_a)
    b.subscribe(on_b)
    await settled(a, b)
    sent = Event(
        type="message.new",
        payload={"n": 1},
        recipients=frozenset({user}),
        seq=1,
        exclude_connection="0f" * 16,
    )
    await a.publish(sent)
    await until(lambda: len(on_a.events) == 1 and len(on_b.events) == 1)
    assert [e.exclude_connection for e in on_a.events + on_b.events] == ["0f" * 16] * 2


def test_an_event_from_a_node_before_protocol_2_excludes_no_socket() -> None:
    from hushroom.fanout.redis import _decode, _encode

    body = orjson.loads(_encode(event(uuid.uuid4(), seq=3)))
    del body["o"]  # what an older node sends during a rolling upgrade
    assert _decode(orjson.dumps(body))["exclude_connection"] is None
