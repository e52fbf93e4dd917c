"""One contract for every presence backend (`memory`, `redis`)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from hushroom.presence.base import PresenceBackend
from hushroom.presence.redis import RedisPresence
from tests.contract.conftest import REDIS_URL

NOW = 1_800_000_000_000


async def status_of(presence: PresenceBackend, user: uuid.UUID) -> str:
    return (await presence.get([user]))[0].status


async def test_unknown_user_is_offline_and_never_seen(presence: PresenceBackend) -> None:
    user = uuid.uuid4()
    [info] = await presence.get([user])
    assert (info.user_id, info.status, info.last_seen_ms) == (user, "offline", None)


async def test_first_connection_reports_offline_before(presence: PresenceBackend) -> None:
    user = uuid.uuid4()
    assert await presence.connect(user, "c1", NOW) == "offline"
    assert await presence.connect(user, "c2", NOW + 1) == "online"
    assert await status_of(presence, user) == "online"


async def test_user_goes_offline_when_last_connection_leaves(presence: PresenceBackend) -> None:
    user = uuid.uuid4()
    await presence.connect(user, "c1", NOW)
    await presence.connect(user, "c2", NOW)
    assert await presence.disconnect(user, "c1", NOW + 10) == "online"
    assert await presence.disconnect(user, "c2", NOW + 20) == "offline"
    [info] = await presence.get([user])
    assert (info.status, info.last_seen_ms) == ("offline", NOW + 20)


async def test_away_only_when_every_connection_is_away(presence: PresenceBackend) -> None:
    user = uuid.uuid4()
    await presence.connect(user, "c1", NOW)
    await presence.connect(user, "c2", NOW)
    assert await presence.set_status(user, "c1", "away", NOW + 1) == "online"
    assert await presence.set_status(user, "c2", "away", NOW + 2) == "away"
    assert await status_of(presence, user) == "away"
    assert await presence.set_status(user, "c2", "online", NOW + 3) == "online"
    assert await presence.disconnect(user, "c2", NOW + 4) == "away"


async def test_status_of_unknown_connection_changes_nothing(presence: PresenceBackend) -> None:
    user = uuid.uuid4()
    assert await presence.set_status(user, "ghost", "online", NOW) == "offline"
    await presence.connect(user, "c1", NOW)
    assert await presence.set_status(user, "c1", "offline", NOW + 1) == "online"
    [info] = await presence.get([user])
    assert info.last_seen_ms == NOW + 1


async def test_get_keeps_order_for_many_users(presence: PresenceBackend) -> None:
    users = [uuid.uuid4() for _ in range(450)]
    for i, user in enumerate(users[::3]):
        await presence.connect(user, f"c{i}", NOW + i)
    infos = await presence.get(users)
    assert [i.user_id for i in infos] == users
    assert [i.status for i in infos] == ["online" if n % 3 == 0 else "offline" for n in range(450)]


async def test_disconnect_of_unknown_connection_is_harmless(presence: PresenceBackend) -> None:
    user = uuid.uuid4()
    assert await presence.disconnect(user, "never-connected", NOW) == "offline"
    await presence.connect(user, "c1", NOW)
    assert await presence.disconnect(user, "never-connected", NOW) == "online"


async def test_typing_is_relayed_once_per_ttl(presence: PresenceBackend) -> None:
    conv, alice, bob = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    assert await presence.set_typing(conv, alice, NOW, 300) is True
    assert await presence.set_typing(conv, alice, NOW + 50, 300) is False
    # Another user, or the same user elsewhere, is independent.
    assert await presence.set_typing(conv, bob, NOW + 50, 300) is True
    assert await presence.set_typing(uuid.uuid4(), alice, NOW + 50, 300) is True
    await asyncio.sleep(0.5)  # Redis expires by its own clock; memory by the given times
    assert await presence.set_typing(conv, alice, NOW + 1000, 300) is True


async def test_a_watch_replaces_the_last_and_lists_its_watcher(presence: PresenceBackend) -> None:
    ana, ben, cat, dan = (uuid.uuid4() for _ in range(4))
    await presence.connect(ana, "a1", NOW)
    await presence.watch("a1", ana, [ben, cat])
    await presence.connect(dan, "d1", NOW)
    await presence.watch("d1", dan, [ben])
    assert await presence.watchers(ben) == {ana, dan}
    assert await presence.watchers(cat) == {ana}
    await presence.watch("a1", ana, [cat])  # replaces: Ben is no longer watched by her
    assert await presence.watchers(ben) == {dan}
    await presence.watch("a1", ana, [])
    assert await presence.watchers(cat) == set()
    assert await presence.watchers(uuid.uuid4()) == set()


async def test_a_watch_dies_with_its_connection_only(presence: PresenceBackend) -> None:
    ana, ben = uuid.uuid4(), uuid.uuid4()
    await presence.connect(ana, "a1", NOW)
    await presence.connect(ana, "a2", NOW)
    await presence.watch("a1", ana, [ben])
    await presence.watch("a2", ana, [ben])
    await presence.disconnect(ana, "a1", NOW + 1)
    assert await presence.watchers(ben) == {ana}  # her other socket still watches
    await presence.disconnect(ana, "a2", NOW + 2)
    assert await presence.watchers(ben) == set()


# Redis only: several nodes, TTLs, heartbeats ----------------------------------------------------


def redis_only(presence: PresenceBackend) -> RedisPresence:
    if not isinstance(presence, RedisPresence):
        pytest.skip("capability: several nodes and TTL expiry (memory is one node)")
    return presence


async def another_node(redis_prefix: str) -> RedisPresence:
    """A second node on the same Redis keys, timed like the fixture's (conn_ttl 2 s, heartbeat
    0.5 s), started: the caller stops it."""
    node = RedisPresence(REDIS_URL, prefix=redis_prefix, conn_ttl_s=2.0, heartbeat_s=0.5)
    await node.start()
    return node


@pytest.mark.timeout(30)
async def test_presence_is_shared_between_nodes(
    presence: PresenceBackend, redis_prefix: str
) -> None:
    redis_only(presence)
    other = await another_node(redis_prefix)
    try:
        user = uuid.uuid4()
        assert await presence.connect(user, "on-a", NOW) == "offline"
        assert await other.connect(user, "on-b", NOW) == "online"
        assert await presence.disconnect(user, "on-a", NOW + 1) == "online"
        assert await status_of(presence, user) == "online"
        assert await other.disconnect(user, "on-b", NOW + 2) == "offline"
        assert await status_of(presence, user) == "offline"
        # Typing is relayed once across nodes, too.
        conv = uuid.uuid4()
        assert await presence.set_typing(conv, user, NOW, 5000) is True
        assert await other.set_typing(conv, user, NOW, 5000) is False
    finally:
        await other.stop()


@pytest.mark.timeout(30)
async def test_dead_node_users_go_offline_after_ttl_while_live_ones_stay(
    presence: PresenceBackend, redis_prefix: str
) -> None:
    live = redis_only(presence)  # conn_ttl 2 s, heartbeat 0.5 s
    doomed = await another_node(redis_prefix)
    alice, bob = uuid.uuid4(), uuid.uuid4()
    await live.connect(alice, "a1", NOW)
    await doomed.connect(bob, "b1", NOW)
    await doomed.stop()  # a node that dies stops its heartbeat; nobody calls disconnect
    assert await status_of(live, bob) == "online"
    await asyncio.sleep(3.0)
    assert await status_of(live, bob) == "offline"
    assert await status_of(live, alice) == "online"  # kept alive by the heartbeat
    [info] = await live.get([bob])
    assert info.last_seen_ms == NOW


@pytest.mark.timeout(30)
async def test_heartbeat_restores_presence_lost_by_redis(
    presence: PresenceBackend, redis_prefix: str
) -> None:
    live = redis_only(presence)
    from tests.contract.conftest import delete_prefix

    user = uuid.uuid4()
    await live.connect(user, "c1", NOW)
    await live.set_status(user, "c1", "away", NOW)
    await delete_prefix(redis_prefix)  # what a Redis restart without persistence does
    assert await status_of(live, user) == "offline"
    await asyncio.sleep(1.0)
    assert await status_of(live, user) == "away"


@pytest.mark.timeout(30)
async def test_unreachable_redis_degrades_without_raising() -> None:
    down = RedisPresence(
        "redis://127.0.0.1:1/0", prefix="unused:", command_timeout_s=0.2, heartbeat_s=0.1
    )
    await down.start()
    try:
        user = uuid.uuid4()
        assert await down.connect(user, "c1", NOW) == "online"  # no "came online" event
        assert await down.set_status(user, "c1", "away", NOW) == "online"
        assert await down.disconnect(user, "c1", NOW) == "online"  # no "went offline" event
        assert await down.set_typing(uuid.uuid4(), user, NOW, 1000) is False
        await down.watch("c1", user, [uuid.uuid4()])  # kept for the heartbeat to write later
        assert await down.watchers(user) == set()
        [info] = await down.get([user])
        assert (info.status, info.last_seen_ms) == ("offline", None)
        await asyncio.sleep(0.3)  # the heartbeat fails quietly too
    finally:
        await down.stop()


@pytest.mark.timeout(30)
async def test_watches_are_shared_between_nodes_and_lapse_with_a_dead_node(
    presence: PresenceBackend, redis_prefix: str
) -> None:
    live = redis_only(presence)  # conn_ttl 2 s, heartbeat 0.5 s
    doomed = await another_node(redis_prefix)
    ana, ben, cat = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await live.watch("a1", ana, [cat])
    await doomed.watch("b1", ben, [cat])
    assert await live.watchers(cat) == {ana, ben}
    await doomed.stop()  # no disconnect: its watches expire with its connections
    await asyncio.sleep(3.0)
    assert await live.watchers(cat) == {ana}  # kept alive by the heartbeat


@pytest.mark.timeout(30)
async def test_heartbeat_restores_watches_lost_by_redis(
    presence: PresenceBackend, redis_prefix: str
) -> None:
    live = redis_only(presence)
    from tests.contract.conftest import delete_prefix

    ana, ben = uuid.uuid4(), uuid.uuid4()
    await live.watch("a1", ana, [ben])
    await delete_prefix(redis_prefix)
    assert await live.watchers(ben) == set()
    await asyncio.sleep(1.0)
    assert await live.watchers(ben) == {ana}
