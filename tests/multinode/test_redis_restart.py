"""Redis is killed (SIGKILL) and restarted under two nodes behind nginx (the budget in
docs/decisions/0004: a Redis restart keeps ≥ 99% of sockets and delivers 100% of messages).

The shared Redis serves the whole run, so this scenario has its own `redis-server`
(tests/support/redis_server.py) on a private port, killed and started again on that port. Fan-out
is a fast path only: messages sent while Redis is down are acknowledged (after the commit) and
reach the other node's sockets through the database catch-up: each node tells its sockets
`sync.stale` once it is subscribed again (and the recipients of publishes it dropped), and the
SDK resumes. Figures are logged (`--log-cli-level=INFO`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest

from hushroom.client import (
    ClientClosed,
    Connected,
    Disconnected,
    MessageEvent,
    Realtime,
    SendAck,
    new_client_msg_id,
)
from tests.multinode.conftest import Cluster, MakeCluster
from tests.multinode.helpers import clients, metric
from tests.support.redis_server import RedisProcess

pytestmark = pytest.mark.timeout(300)
log = logging.getLogger("tests.multinode")

USERS = 24
# Redis stays down at least this long (the nodes notice at once; this is the outage itself).
OUTAGE_S = 3.0
RESUME_LIMIT_S = 5.0
# A probe counts as delivered live if it reaches every member before the next one is sent.
PROBE_WINDOW_S = 0.5
DELIVERY_TIMEOUT_S = 60.0

Key = tuple[uuid.UUID, int]  # (conversation, seq)


class Inbox:
    """Everything one client's socket yields: messages (counted per (conversation, seq), so a
    duplicate shows), their arrival times, and every disconnect or reconnect."""

    def __init__(self, rt: Realtime, progress: asyncio.Event) -> None:
        self.rt = rt
        self.progress = progress
        self.counts: Counter[Key] = Counter()
        self.cmids: dict[Key, str] = {}
        self.arrived: dict[Key, float] = {}
        self.disconnects = 0
        self.reconnects = 0
        self.task = asyncio.create_task(self._collect())

    async def _collect(self) -> None:
        with contextlib.suppress(ClientClosed):
            while True:
                event = await self.rt.next_event()
                if isinstance(event, MessageEvent):
                    m = event.message
                    key = (m.conversation_id, m.seq)
                    self.counts[key] += 1
                    self.cmids[key] = m.client_msg_id
                    self.arrived.setdefault(key, time.monotonic())
                    self.progress.set()
                elif isinstance(event, Disconnected):
                    self.disconnects += 1
                elif isinstance(event, Connected) and event.connection > 1:
                    self.reconnects += 1

    def has(self, keys: set[Key]) -> bool:
        return keys <= self.counts.keys()

    @property
    def kept(self) -> bool:
        return self.rt.connected and self.disconnects == 0 and self.reconnects == 0


def everyone_has(inboxes: list[Inbox], key: Key) -> bool:
    return all(key in i.counts for i in inboxes)


async def until(progress: asyncio.Event, done: Callable[[], bool]) -> None:
    """Until `done()` holds, re-checked whenever a message arrives (bound it with a timeout)."""
    while True:
        progress.clear()
        if done():
            return
        await progress.wait()


async def wait_until_delivered(
    inboxes: list[Inbox], expected: list[set[Key]], within: float
) -> None:
    try:
        async with asyncio.timeout(within):
            await until(
                inboxes[0].progress,
                lambda: all(i.has(e) for i, e in zip(inboxes, expected, strict=True)),
            )
    except TimeoutError:
        missing = sum(len(e - i.counts.keys()) for i, e in zip(inboxes, expected, strict=True))
        raise AssertionError(f"{missing} deliveries still missing after {within} s") from None


async def wait_metric(cluster: Cluster, name: str, value: float, within: float = 10.0) -> None:
    """Until every node reports `name` == value (over HTTP: no Redis involved)."""
    async with asyncio.timeout(within):
        while True:
            values = [await metric(n, name) for n in cluster.nodes]
            if values == [value] * len(values):
                return
            await asyncio.sleep(0.05)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    server = RedisProcess(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_cluster(private_redis: RedisProcess, make_cluster: MakeCluster) -> Cluster:
    """Two nodes behind nginx whose fan-out and presence use the private Redis."""
    return make_cluster(redis_url=private_redis.url)


async def test_redis_killed_and_restarted_keeps_sockets_and_delivers_everything(
    redis_cluster: Cluster, private_redis: RedisProcess
) -> None:
    cluster = redis_cluster
    url = cluster.nginx.base_url
    async with clients(*((f"U{i:02d}", url) for i in range(USERS))) as people:
        ids: list[uuid.UUID] = []
        for person in people:
            assert person.user_id is not None
            ids.append(person.user_id)
        room = await people[0].create_room("weather", "Redis comes and goes")
        await asyncio.gather(*(p.join_room(room.id) for p in people[1:]))
        half = USERS // 2
        # DM pairs (i, i + half); the sockets are spread over both nodes by nginx.
        dms = [await people[i].open_dm(ids[i + half]) for i in range(half)]
        dm_of = [dms[i % half].id for i in range(USERS)]

        rts = [await p.connect() for p in people]
        for i, rt in enumerate(rts):
            rt.track(room.id)
            rt.track(dm_of[i])
        progress = asyncio.Event()
        inboxes = [Inbox(rt, progress) for rt in rts]
        try:
            per_node = [await metric(n, "hushroom_ws_connections") for n in cluster.nodes]
            # Enough on each node that the room and most DMs cross nodes.
            assert min(per_node) >= USERS // 4, f"nginx did not spread the sockets: {per_node}"

            acks: dict[uuid.UUID, dict[int, str]] = {room.id: {}, **{d.id: {} for d in dms}}

            async def send(i: int, conv: uuid.UUID, text: str) -> SendAck:
                cmid = new_client_msg_id()
                async with asyncio.timeout(30):
                    if conv == room.id:  # a public room: plaintext body
                        ack = await people[i].send(conv, body=text, client_msg_id=cmid)
                    else:  # a DM: a real envelope (the SDK makes or fetches the key set)
                        ack = await people[i].send_text(conv, text, client_msg_id=cmid)
                assert ack.seq not in acks[conv], "two messages acknowledged with one seq"
                acks[conv][ack.seq] = cmid
                return ack

            async def round_(label: str) -> None:
                """Every user sends one room message and one DM message, all at once."""
                await asyncio.gather(
                    *(send(i, room.id, f"{label} room {i}") for i in range(USERS)),
                    *(send(i, dm_of[i], f"{label} dm {i}") for i in range(USERS)),
                )

            def expected() -> list[set[Key]]:
                return [
                    {(c, s) for c in (room.id, dm_of[i]) for s in acks[c]} for i in range(USERS)
                ]

            # Before: everything is live.
            await round_("before")
            await wait_until_delivered(inboxes, expected(), DELIVERY_TIMEOUT_S)
            sent_before = sum(len(s) for s in acks.values())

            # Redis dies. Sends go on and are acknowledged: the database is the truth.
            await asyncio.to_thread(private_redis.kill)
            killed_at = time.monotonic()
            await wait_metric(cluster, "hushroom_fanout_redis_connected", 0.0)
            await round_("during-1")
            await round_("during-2")
            await asyncio.sleep(max(0.0, killed_at + OUTAGE_S - time.monotonic()))
            await round_("during-3")
            sent_during = sum(len(s) for s in acks.values()) - sent_before
            assert not private_redis.running
            dropped = sum([await metric(n, "hushroom_fanout_dropped_total") for n in cluster.nodes])
            # Fan-out really was down: cross-node copies were dropped, not delivered.
            assert dropped > 0
            down_s = time.monotonic() - killed_at

            # Redis comes back, empty, on the same port.
            await asyncio.to_thread(private_redis.start)
            restarted_at = time.monotonic()

            # Fan-out resumes: a room message reaches all members (both nodes) live.
            resumed_s: float | None = None
            probes = 0
            while resumed_s is None:
                assert time.monotonic() - restarted_at < RESUME_LIMIT_S + 5.0, (
                    "fan-out did not resume after the Redis restart"
                )
                probes += 1
                ack = await send(0, room.id, f"probe {probes}")
                key = (room.id, ack.seq)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(PROBE_WINDOW_S):
                        await until(progress, partial(everyone_has, inboxes, key))
                        resumed_s = max(i.arrived[key] for i in inboxes) - restarted_at
            await wait_metric(cluster, "hushroom_fanout_redis_connected", 1.0)

            # After: every message of every phase reaches every member (the resumes that
            # `sync.stale` started, and holes that later live messages reveal, fill from the
            # database).
            await round_("after")
            await wait_until_delivered(inboxes, expected(), DELIVERY_TIMEOUT_S)
            await asyncio.sleep(0.5)  # room for a late duplicate to show

            want = expected()
            deliveries = sum(len(e) for e in want)
            delivered = sum(len(e & i.counts.keys()) for i, e in zip(inboxes, want, strict=True))
            duplicates = sum(n - 1 for i in inboxes for n in i.counts.values())
            unexpected = sum(len(i.counts.keys() - e) for i, e in zip(inboxes, want, strict=True))
            kept = sum(i.kept for i in inboxes)
            log.info(
                "redis restart: sockets kept %d/%d; deliveries %d/%d (duplicates %d, "
                "unexpected %d); %d messages sent while Redis was down %.1f s (%d cross-node "
                "publishes dropped); fan-out resumed %.0f ms after the restart (%d probes)",
                kept,
                USERS,
                delivered,
                deliveries,
                duplicates,
                unexpected,
                sent_during,
                down_s,
                dropped,
                resumed_s * 1000,
                probes,
            )
            assert kept >= 0.99 * USERS, [(i.disconnects, i.reconnects) for i in inboxes]
            assert (delivered, duplicates, unexpected) == (deliveries, 0, 0)
            assert resumed_s < RESUME_LIMIT_S, f"fan-out resumed after {resumed_s:.1f} s"
            # What arrived is what was acknowledged: same message at each seq, seqs contiguous.
            for by_seq in acks.values():
                assert sorted(by_seq) == list(range(1, len(by_seq) + 1))
            for inbox in inboxes:
                for key, cmid in inbox.cmids.items():
                    assert acks[key[0]][key[1]] == cmid
        finally:
            for inbox in inboxes:
                inbox.task.cancel()
            await asyncio.gather(*(i.task for i in inboxes), return_exceptions=True)


def test_private_redis_restarts_on_the_same_port(private_redis: RedisProcess) -> None:
    port = private_redis.port
    assert private_redis.ping()
    private_redis.kill()
    assert not private_redis.running and not private_redis.ping()
    private_redis.start()
    assert private_redis.port == port and private_redis.ping()
