"""A rolling restart (an upgrade) under load: node A is stopped with SIGTERM and started again,
then node B, while clients connected through nginx keep sending in rooms and DMs.

Nothing acknowledged is lost or stored twice, every recipient gets every message exactly once
(live or after its resume / gap fill), every client comes back by itself, no send fails for
good (the SDK re-sends with the same client_msg_id), and no node logs an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import signal
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import pytest

from hushroom.client import (
    Connected,
    Disconnected,
    HushroomClient,
    MessageEvent,
    ServerEvent,
    new_client_msg_id,
)
from tests.multinode.conftest import START_TIMEOUT_S, MakeCluster
from tests.multinode.helpers import clients, percentile, shared_password_keys
from tests.support.e2ee import sdk_envelope
from tests.support.load import SenderTasks
from tests.support.server import METRICS_AUTH, ServerProcess

pytestmark = pytest.mark.timeout(480)
log = logging.getLogger("tests.multinode")

USERS = 24
ROOMS = 3
DM_PAIRS = 3  # users (0, 1), (2, 3), (4, 5) also talk in a DM, end-to-end encrypted
SEND_INTERVAL_S = 1.0  # per client, jittered: ~24 messages/s in all
DM_ENVELOPES = 150  # sealed before the load starts, per DM sender (far more than it sends)
# While a node is down (and right after it is back), this many more sends must be acked:
# the load goes on through the other node.
PROGRESS_PER_PHASE = 40
# nginx (tests/support/nginx.py) marks a node unavailable for `fail_timeout=5s` after a failed
# connect; the next node is stopped only once the restarted one is eligible again.
NGINX_FAIL_TIMEOUT_S = 5.0
SETTLE_S = 30.0


@dataclass
class Sent:
    conversation_id: uuid.UUID
    seq: int


@dataclass
class Watch:
    """What one client's realtime connection delivered, stamped as it arrived."""

    seqs: dict[uuid.UUID, list[int]] = field(default_factory=dict)
    cmids: dict[uuid.UUID, list[str]] = field(default_factory=dict)
    connected_at: list[float] = field(default_factory=list)
    disconnects: list[tuple[float, Disconnected]] = field(default_factory=list)
    gaps: int = 0

    def reconnect_times(self) -> list[float]:
        """Seconds from each close to the next `ready`."""
        out = []
        for at, _ in self.disconnects:
            later = [c for c in self.connected_at if c >= at]
            if later:
                out.append(min(later) - at)
        return out


class Load(SenderTasks):
    """Every client sends in turn in its conversations, one message at a time, until stopped."""

    def __init__(self, people: list[HushroomClient]) -> None:
        super().__init__()
        self.people = people
        self.acked: dict[str, Sent] = {}
        self.attempted: dict[str, uuid.UUID] = {}
        self.failures: list[str] = []
        self.latencies: list[float] = []

    async def _sender(
        self,
        person: HushroomClient,
        name: str,
        conversations: list[uuid.UUID],
        envelopes: dict[uuid.UUID, list[tuple[str, tuple[int, bytes]]]],
    ) -> None:
        rng = random.Random(name)
        n = 0
        while not self._stop.is_set():
            conv = conversations[n % len(conversations)]
            sealed = envelopes.get(conv)
            if sealed is not None:
                cmid, envelope = sealed.pop(0)
                send = person.send(conv, envelope=envelope, client_msg_id=cmid)
            else:
                cmid = new_client_msg_id()
                send = person.send(conv, body=f"{name} {n}", client_msg_id=cmid)
            self.attempted[cmid] = conv
            start = time.monotonic()
            try:
                ack = await send
            except Exception as exc:  # a send that failed for good: what must not happen
                self.failures.append(f"{name} {cmid}: {type(exc).__name__}: {exc}")
                return
            self.latencies.append(time.monotonic() - start)
            assert ack.client_msg_id == cmid
            self.acked[cmid] = Sent(conv, ack.seq)
            self._progress.set()
            n += 1
            await asyncio.sleep(SEND_INTERVAL_S * rng.uniform(0.5, 1.5))

    def start(
        self,
        plan: list[list[uuid.UUID]],
        envelopes: list[dict[uuid.UUID, list[tuple[str, tuple[int, bytes]]]]],
    ) -> None:
        self._tasks = [
            asyncio.create_task(self._sender(p, f"u{i}", plan[i], envelopes[i]))
            for i, p in enumerate(self.people)
        ]

    async def acks_reach(self, count: int, within: float = 120.0) -> None:
        async with asyncio.timeout(within):
            while len(self.acked) < count:
                assert not self.failures, self.failures
                self._progress.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._progress.wait(), 1.0)


async def watch(person: HushroomClient, into: Watch) -> None:
    while True:
        event = await person.realtime.next_event()
        now = time.monotonic()
        if isinstance(event, MessageEvent):
            m = event.message
            into.seqs.setdefault(m.conversation_id, []).append(m.seq)
            into.cmids.setdefault(m.conversation_id, []).append(m.client_msg_id)
        elif isinstance(event, Connected):
            into.connected_at.append(now)
        elif isinstance(event, Disconnected):
            into.disconnects.append((now, event))
        elif isinstance(event, ServerEvent) and event.type == "sync.gap":
            into.gaps += 1


async def ws_connections(node: ServerProcess) -> int:
    async with httpx.AsyncClient(timeout=5) as http:
        text = (await http.get(f"{node.base_url}/metrics", headers=METRICS_AUTH)).text
    for line in text.splitlines():
        if line.startswith("hushroom_ws_connections "):
            return int(float(line.split()[1]))
    return 0


async def stored_messages(database_url: str) -> list[tuple[uuid.UUID, int, str]]:
    """(conversation_id, seq, client_msg_id) of every message in PostgreSQL."""
    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT conversation_id, seq, client_msg_id FROM messages")
    finally:
        await conn.close()
    return [(r["conversation_id"], r["seq"], r["client_msg_id"]) for r in rows]


def logged_errors(path: Path) -> list[str]:
    """Lines of a node's log at level error or above, or carrying a traceback."""
    bad = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if isinstance(record, dict):
            level = str(record.get("level", "")).lower()
            if level in ("error", "critical", "exception") or "exception" in record:
                bad.append(line)
        elif "Traceback" in line or "ERROR" in line:
            bad.append(line)
    return bad


async def restart(node: ServerProcess, load: Load, nginx_url: str) -> float:
    """SIGTERM `node` (sends go on through the other), start it again, wait until nginx will
    send to it. Returns how long it was down."""
    await asyncio.to_thread(node.stop)
    down_at = time.monotonic()
    log.info("phase: node %d stopped, %d acked", node.port, len(load.acked))
    assert node.proc is not None
    # uvicorn re-raises the signal after its graceful shutdown, hence -SIGTERM.
    assert node.proc.returncode in (0, -signal.SIGTERM), node.proc.returncode
    await load.acks_reach(len(load.acked) + PROGRESS_PER_PHASE)
    await asyncio.to_thread(node.start, START_TIMEOUT_S)
    downtime = time.monotonic() - down_at
    log.info("phase: node %d ready again, %d acked", node.port, len(load.acked))
    await asyncio.sleep(NGINX_FAIL_TIMEOUT_S + 0.5)
    # A few requests through nginx: least_conn sends them to the idle, restarted node, and
    # their success clears its failure count, so the next stop does not find both "down".
    async with httpx.AsyncClient(timeout=5) as http:
        for _ in range(4):
            assert (await http.get(f"{nginx_url}/readyz")).status_code == 200
    await load.acks_reach(len(load.acked) + PROGRESS_PER_PHASE // 2)
    return downtime


Envelopes = dict[uuid.UUID, list[tuple[str, tuple[int, bytes]]]]


@dataclass
class Setup:
    """Who is in which conversation, and the DM envelopes each client will send."""

    plan: list[list[uuid.UUID]]  # per client: the conversations it sends in, in turn
    members: dict[uuid.UUID, set[int]]  # per conversation: the indexes of its members
    envelopes: list[Envelopes]


async def conversations(people: list[HushroomClient]) -> Setup:
    rooms = [await people[r].create_room(f"rolling {r}") for r in range(ROOMS)]
    plan: list[list[uuid.UUID]] = [[] for _ in people]
    members: dict[uuid.UUID, set[int]] = {room.id: set() for room in rooms}
    for i, person in enumerate(people):
        room = rooms[i % ROOMS]
        if i >= ROOMS:
            await person.join_room(room.id)
        plan[i].append(room.id)
        members[room.id].add(i)
    envelopes: list[Envelopes] = [{} for _ in people]
    for k in range(DM_PAIRS):
        a, b = 2 * k, 2 * k + 1
        other = people[b].user_id
        assert other is not None
        dm = await people[a].open_private_dm(other)
        members[dm.id] = {a, b}
        for i in (a, b):
            plan[i].append(dm.id)
            pool = []
            for _ in range(DM_ENVELOPES):
                cmid = new_client_msg_id()
                pool.append((cmid, await sdk_envelope(people[i], dm.id, b"psst", cmid)))
            envelopes[i][dm.id] = pool
    return Setup(plan, members, envelopes)


async def test_rolling_restart_under_load_loses_nothing_and_everyone_reconnects(
    make_cluster: MakeCluster,
) -> None:
    began = time.monotonic()
    cluster = await asyncio.to_thread(make_cluster)
    url = cluster.nginx.base_url
    log.info("phase: cluster up (%.1f s)", time.monotonic() - began)
    async with contextlib.AsyncExitStack() as stack:
        with shared_password_keys() as kdf:
            registering = clients(*((f"U{i}", url) for i in range(USERS)), kdf_params=kdf)
            people = await stack.enter_async_context(registering)
        log.info("phase: %d users registered (%.1f s)", USERS, time.monotonic() - began)
        setup = await conversations(people)
        log.info("phase: conversations made (%.1f s)", time.monotonic() - began)
        members = setup.members
        for i, person in enumerate(people):
            await person.connect()
            for conv in setup.plan[i]:
                person.realtime.track(conv)
        watches = [Watch() for _ in people]
        watchers = [asyncio.create_task(watch(p, w)) for p, w in zip(people, watches, strict=True)]
        try:
            on_nodes = [await ws_connections(n) for n in cluster.nodes]
            assert sum(on_nodes) == USERS and all(on_nodes), f"nginx did not spread: {on_nodes}"
            ready_at = time.monotonic()
            log.info("phase: connected %s (%.1f s)", on_nodes, ready_at - began)

            load = Load(people)
            load.start(setup.plan, setup.envelopes)
            try:
                await load.acks_reach(PROGRESS_PER_PHASE)
                downtimes = [await restart(node, load, url) for node in cluster.nodes]
                await load.stop()
            finally:
                await load.cancel()
            load_s = time.monotonic() - ready_at
            log.info("phase: load stopped, %d acked (%.1f s)", len(load.acked), load_s)

            # No send failed for good, and none is still waiting.
            assert not load.failures, load.failures
            assert set(load.acked) == set(load.attempted)
            assert all(not p.realtime.unacknowledged() for p in people)

            # In the database: every acknowledged message exactly once, at the seq its ack
            # named, seqs contiguous per conversation; nothing that was not acknowledged.
            stored = await stored_messages(cluster.database_url)
            counts = Counter(cmid for _, _, cmid in stored)
            assert max(counts.values()) == 1, "a message was stored twice"
            assert set(counts) == set(load.acked), "lost, or stored without an ack"
            for conv, seq, cmid in stored:
                assert (load.acked[cmid].conversation_id, load.acked[cmid].seq) == (conv, seq)
            total = Counter(s.conversation_id for s in load.acked.values())
            for conv in members:
                seqs = sorted(seq for c, seq, _ in stored if c == conv)
                assert seqs == list(range(1, total[conv] + 1))

            # Every member got every message of its conversations exactly once, in order
            # (live, or after its resume / gap fill).
            def behind() -> int:
                return sum(
                    max(0, total[conv] - len(watches[i].seqs.get(conv, [])))
                    for conv, who in members.items()
                    for i in who
                )

            for _ in range(int(SETTLE_S / 0.2)):  # bounded: at most SETTLE_S
                if not behind():
                    break
                await asyncio.sleep(0.2)
            await asyncio.sleep(0.5)  # anything delivered twice would show up now
            for conv, who in members.items():
                expected = {c for c, s in load.acked.items() if s.conversation_id == conv}
                for i in who:
                    got = watches[i].seqs.get(conv)
                    assert got == list(range(1, total[conv] + 1)), (i, conv)
                    assert set(watches[i].cmids[conv]) == expected

            # Everyone was moved at least once (each node was stopped in turn), by 1012
            # closes only, and came back by itself; the clients of the first node twice.
            for w in watches:
                assert w.disconnects, "a client was never moved"
                assert {d.code for _, d in w.disconnects} == {1012}
                assert not any(d.final for _, d in w.disconnects)
                assert len(w.connected_at) == 1 + len(w.disconnects), "a client did not return"
            reconnects = sum(len(w.disconnects) for w in watches)
            assert reconnects >= USERS + on_nodes[0]
            assert sum([await ws_connections(n) for n in cluster.nodes]) == USERS

            for node in cluster.nodes:
                assert "Application shutdown complete" in node.log_path.read_text()
                assert not logged_errors(node.log_path), logged_errors(node.log_path)
        finally:
            for watcher in watchers:
                watcher.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)

    times = [t for w in watches for t in w.reconnect_times()]
    log.info(
        "rolling restart: %d messages acked in %.1f s (%d conversations), send latency "
        "p50=%.3f s max=%.2f s; %d reconnects of %d clients (start %s), reconnect time "
        "p50=%.2f s p99=%.2f s max=%.2f s; %d sync.gap; node downtimes %s s; test %.1f s",
        len(load.acked),
        load_s,
        len(members),
        percentile(load.latencies, 0.5),
        max(load.latencies),
        reconnects,
        USERS,
        on_nodes,
        percentile(times, 0.5),
        percentile(times, 0.99),
        max(times),
        sum(w.gaps for w in watches),
        [round(d, 1) for d in downtimes],
        time.monotonic() - began,
    )
    # Back within the backoff cap (5 s) plus a slow handshake on a busy machine.
    assert max(times) < 15.0
