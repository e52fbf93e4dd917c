"""Nodes die (kill -9) or stop (SIGTERM) under load: clients move to the others through nginx,
and no acknowledged message is lost or stored twice."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal

import httpx
import pytest

from hushroom.client import (
    Connected,
    Disconnected,
    HushroomClient,
    MessageEvent,
    RealtimeEvent,
)
from tests.integration.helpers import quiet_events
from tests.multinode.conftest import Cluster, MakeCluster
from tests.multinode.helpers import clients, next_messages
from tests.support.load import SendLoad
from tests.support.server import METRICS_AUTH, ServerProcess

pytestmark = pytest.mark.timeout(300)


async def ws_connections(node: ServerProcess) -> int:
    async with httpx.AsyncClient(timeout=5) as http:
        text = (await http.get(f"{node.base_url}/metrics", headers=METRICS_AUTH)).text
    match = re.search(r"^hushroom_ws_connections (\S+)$", text, re.MULTILINE)
    return int(float(match.group(1))) if match else 0


async def busiest(cluster: Cluster) -> ServerProcess:
    counts = [await ws_connections(n) for n in cluster.nodes]
    assert all(c > 0 for c in counts), f"nginx did not spread the sockets: {counts}"
    return cluster.nodes[counts.index(max(counts))]


async def test_node_killed_under_load_loses_and_duplicates_nothing(
    make_cluster: MakeCluster,
) -> None:
    cluster = await asyncio.to_thread(make_cluster)
    url = cluster.nginx.base_url
    names = ["Ada", "Bob", "Cy", "Dee", "Eli", "Fay"]
    async with clients(*((n, url) for n in names)) as people:
        room = await people[0].create_room("load", "nodes come and go")
        for person in people[1:]:
            await person.join_room(room.id)
        for person in people:
            await person.connect()
            person.realtime.track(room.id)
        victim = await busiest(cluster)

        load = SendLoad(room.id)
        # The SDK retries each send with the same id across the crash until acknowledged.
        load.start((p, names[i]) for i, p in enumerate(people[:3]))
        try:
            await load.acks_reach(40)
            await asyncio.to_thread(victim.kill9)
            acked_before_kill = dict(load.acked)
            await load.acks_reach(len(acked_before_kill) + 40)
            await load.stop()
        finally:
            await load.cancel()

        history = [m async for m in people[0].iter_history(room.id)]
        counts = load.check_history(history)
        assert all(counts[c] == 1 for c in acked_before_kill)
        total = len(history)

        # Every member's socket saw every message exactly once, in order, live or resumed;
        # those on the dead node reconnected (through nginx, to the survivor).
        moved = 0
        for person in people:
            others: list[RealtimeEvent] = []
            got: list[int] = []
            async with asyncio.timeout(30):
                while len(got) < total:
                    event = await person.realtime.next_event()
                    if isinstance(event, MessageEvent):
                        got.append(event.message.seq)
                    else:
                        others.append(event)
            assert got == list(range(1, total + 1))
            if any(isinstance(e, Disconnected) for e in others):
                moved += 1
                assert any(isinstance(e, Connected) and e.connection >= 2 for e in others)
        assert moved >= 1
        survivor = next(n for n in cluster.nodes if n is not victim)
        assert await ws_connections(survivor) == len(people)


async def test_sigterm_closes_sockets_with_1012_and_clients_move(
    make_cluster: MakeCluster,
) -> None:
    cluster = await asyncio.to_thread(make_cluster)
    url = cluster.nginx.base_url
    async with clients(("Ada", url), ("Bob", url), ("Cy", url), ("Dee", url)) as people:
        room = await people[0].create_room("drain")
        for person in people[1:]:
            await person.join_room(room.id)
        for person in people:
            await person.connect()
            person.realtime.track(room.id)
        victim = await busiest(cluster)
        on_victim = await ws_connections(victim)
        for person in people:  # forget the events of the first connection (presence, ...)
            await quiet_events(person.realtime, 0.3)

        await asyncio.to_thread(victim.stop)  # SIGTERM: drain and exit
        # uvicorn re-raises the signal after its graceful shutdown, hence -SIGTERM.
        assert victim.proc is not None and victim.proc.returncode in (0, -signal.SIGTERM)
        assert "Application shutdown complete" in victim.log_path.read_text()

        async def until_settled(person: HushroomClient) -> list[RealtimeEvent]:
            """Its events until it is reconnected (or 2 s of quiet if it never dropped)."""
            seen: list[RealtimeEvent] = []
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2.0):
                    seen.append(await person.realtime.next_event())
            if not seen:
                return seen
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(20):
                    while not any(isinstance(e, Connected) and e.connection >= 2 for e in seen):
                        seen.append(await person.realtime.next_event())
            return seen

        events = await asyncio.gather(*(until_settled(p) for p in people))
        closes = [e for seen in events for e in seen if isinstance(e, Disconnected)]
        # Every socket of the stopped node was closed with 1012 ("service restart") and
        # came back by itself, through nginx, to the survivor.
        assert len(closes) == on_victim, events
        assert {c.code for c in closes} == {1012}
        assert not any(c.final for c in closes)
        survivor = next(n for n in cluster.nodes if n is not victim)
        assert await ws_connections(survivor) == len(people)
        ack = await people[-1].send(room.id, body="still here")
        for person in people:
            [m] = await next_messages(person.realtime, 1, conversation_id=room.id)
            assert (m.seq, m.body) == (ack.seq, "still here")
