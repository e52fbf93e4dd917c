"""Delivery invariants (docs/architecture.md) against a real server: idempotent retries, contiguous
seqs, resume after a disconnect, and nothing acknowledged lost to kill -9 or a restart."""

from __future__ import annotations

import asyncio
import json

from hushroom.client import (
    Connected,
    Disconnected,
    HushroomClient,
    MessageEvent,
    RealtimeEvent,
    SendAck,
    ServerEvent,
    derive_auth_secret,
    new_client_msg_id,
    open_socket,
)
from hushroom.crypto.password import KdfParams
from tests.integration.helpers import (
    PASSWORD,
    START_TIMEOUT_S,
    next_messages,
    quiet_events,
    unique_email,
    users,
)
from tests.support.load import SendLoad
from tests.support.server import ServerProcess


async def test_retry_after_lost_ack_stores_once(server: ServerProcess) -> None:
    async with users(server, "Ada", "Bob") as (ada, bob):
        room = await ada.create_room("lossy")
        await bob.join_room(room.id)
        watcher = await bob.connect()
        watcher.track(room.id)

        # Send, and once it is stored (Bob sees it), drop the connection without a close
        # handshake and without ever reading the ack.
        cmid = new_client_msg_id()
        ws = await open_socket(ada.http, ada.ws_url)
        frame = {
            "type": "message.send",
            "ref": "r1",
            "conversation_id": str(room.id),
            "client_msg_id": cmid,
            "body": "only once",
        }
        try:
            await ws.send(json.dumps(frame))
            [stored] = await next_messages(watcher, 1, conversation_id=room.id)
        finally:
            ws.transport.abort()
            await ws.wait_closed()
        assert (stored.client_msg_id, stored.seq) == (cmid, 1)

        # ... so the retry over a new connection gets the original ack back.
        await ada.connect()
        ack = await ada.send(room.id, body="only once", client_msg_id=cmid)
        assert ack.duplicate
        assert (ack.seq, ack.message_id) == (1, stored.id)
        # Retrying again (HTTP this time) is just as harmless.
        http_ack = await ada.send_http(room.id, body="only once", client_msg_id=cmid)
        assert http_ack.duplicate
        assert http_ack.seq == 1

        page = await bob.history(room.id)
        assert [(m.seq, m.client_msg_id) for m in page.messages] == [(1, cmid)]
        assert page.last_seq == 1
        assert not [e for e in await quiet_events(watcher, 0.5) if isinstance(e, MessageEvent)]


async def test_fifty_concurrent_senders_get_contiguous_seqs(server: ServerProcess) -> None:
    users_n, devices_per_user, per_sender = 5, 10, 20
    base = server.base_url
    async with HushroomClient(base) as owner:
        await owner.register_and_login("Owner", unique_email("owner"), PASSWORD)
        room = await owner.create_room("crowd")

        # 5 accounts × 10 devices = 50 senders; one Argon2id derivation per account.
        async def account(i: int) -> tuple[str, bytes]:
            params = KdfParams.generate()
            email = unique_email(f"sender{i}")
            async with HushroomClient(base) as c:
                await c.register(f"Sender {i}", email, PASSWORD, kdf_params=params)
            return email, await derive_auth_secret(PASSWORD, params)

        accounts = await asyncio.gather(*(account(i) for i in range(users_n)))
        senders = [HushroomClient(base) for _ in range(users_n * devices_per_user)]
        try:
            await asyncio.gather(
                *(
                    s.login_with_auth_secret(*accounts[i % users_n], device_name=f"device {i}")
                    for i, s in enumerate(senders)
                )
            )
            await asyncio.gather(*(s.join_room(room.id) for s in senders[:users_n]))

            async def burst(i: int, sender: HushroomClient) -> list[SendAck]:
                return [
                    await sender.send_http(room.id, body=f"sender {i} message {n}")
                    for n in range(per_sender)
                ]

            batches = await asyncio.gather(*(burst(i, s) for i, s in enumerate(senders)))
            acks = [ack for batch in batches for ack in batch]
        finally:
            await asyncio.gather(*(s.aclose() for s in senders))

        total = users_n * devices_per_user * per_sender
        assert sorted(a.seq for a in acks) == list(range(1, total + 1))
        assert not any(a.duplicate for a in acks)
        history = [m async for m in owner.iter_history(room.id)]
        assert [m.seq for m in history] == list(range(1, total + 1))
        by_id = {a.client_msg_id: a.seq for a in acks}
        assert {m.client_msg_id: m.seq for m in history} == by_id
        # Each sender's own messages keep the order it sent them in.
        for i in range(len(senders)):
            mine = [m.body for m in history if m.body and m.body.startswith(f"sender {i} ")]
            assert mine == [f"sender {i} message {n}" for n in range(per_sender)]

        # Resuming from 0 is more than the server backfills (500): it answers sync.gap, and the
        # SDK pages the 1000 over HTTP and delivers them once each, in order.
        rt = owner.realtime
        rt.track(room.id, 0)
        await owner.connect()
        others: list[RealtimeEvent] = []
        delivered = await next_messages(rt, total, conversation_id=room.id, others=others)
        assert [m.seq for m in delivered] == list(range(1, total + 1))
        others += await quiet_events(rt, 0.5)  # sync.gap follows the messages it announced
        assert not [e for e in others if isinstance(e, MessageEvent)]
        gaps = [e.data for e in others if isinstance(e, ServerEvent) and e.type == "sync.gap"]
        assert gaps == [
            {"type": "sync.gap", "conversation_id": str(room.id), "after_seq": 0, "last_seq": total}
        ]


async def test_reconnect_receives_exactly_the_missed_200(server: ServerProcess) -> None:
    async with users(server, "Ada", "Bob") as (ada, bob):
        room = await ada.create_room("catch-up")
        await bob.join_room(room.id)
        rt = await ada.connect()
        rt.track(room.id)
        await ada.send(room.id, body="before")
        [first] = await next_messages(rt, 1, conversation_id=room.id)
        assert first.seq == 1

        await rt.pause()
        assert Disconnected(1000, "paused") in await quiet_events(rt, 0.2)
        missed = [await bob.send_http(room.id, body=f"missed {i}") for i in range(200)]
        assert [a.seq for a in missed] == list(range(2, 202))

        await rt.start()
        others: list[RealtimeEvent] = []
        got = await next_messages(rt, 200, conversation_id=room.id, others=others)
        assert [m.seq for m in got] == list(range(2, 202))
        assert [m.body for m in got] == [f"missed {i}" for i in range(200)]
        assert [m.client_msg_id for m in got] == [a.client_msg_id for a in missed]
        assert any(isinstance(e, Connected) and e.connection == 2 for e in others)
        # Exactly those: nothing arrives twice afterwards.
        rest = await quiet_events(rt, 1.0)
        assert not [e for e in rest if isinstance(e, MessageEvent)]
        assert rt.last_seq(room.id) == 201


async def test_kill_9_loses_no_acknowledged_message(server: ServerProcess) -> None:
    async with users(server, "Ada", "Bob") as (ada, bob):
        room = await ada.create_room("durable")
        await bob.join_room(room.id)
        await asyncio.gather(ada.connect(), bob.connect())
        load = SendLoad(room.id)
        # Each send is retried by the SDK (same id) across the crash until acknowledged.
        load.start([(ada, "ada"), (bob, "bob")])
        try:
            await load.acks_reach(30)
            await asyncio.to_thread(server.kill9)
            acked_before_kill = dict(load.acked)
            in_flight = set(load.attempted) - set(load.acked)
            await asyncio.to_thread(server.start, START_TIMEOUT_S)
            await load.acks_reach(len(acked_before_kill) + 20)
            await load.stop()
        finally:
            await load.cancel()

        history = [m async for m in ada.iter_history(room.id)]
        counts = load.check_history(history)
        assert all(counts[cmid] == 1 for cmid in acked_before_kill)
        # The sends cut off by the crash were retried and landed once each.
        assert in_flight
        assert all(counts[cmid] == 1 for cmid in in_flight)


async def test_server_restart_closes_with_1012_and_client_resumes(
    server: ServerProcess,
) -> None:
    async with users(server, "Ada", "Bob") as (ada, bob):
        room = await ada.create_room("restarts")
        await bob.join_room(room.id)
        rt = await ada.connect()
        rt.track(room.id)
        await bob.send_http(room.id, body="before restart")
        [before] = await next_messages(rt, 1, conversation_id=room.id)
        assert before.seq == 1

        # SIGTERM: a graceful shutdown closes every socket with 1012.
        await asyncio.to_thread(server.stop)
        await asyncio.to_thread(server.start, START_TIMEOUT_S)
        # Sent while Ada is (probably still) reconnecting: resume or the live path brings them.
        after = [await bob.send_http(room.id, body=f"after {i}") for i in range(5)]
        others: list[RealtimeEvent] = []
        got = await next_messages(rt, 5, conversation_id=room.id, others=others)
        assert [m.seq for m in got] == [a.seq for a in after] == [2, 3, 4, 5, 6]
        closes = [e for e in others if isinstance(e, Disconnected)]
        assert closes
        assert closes[0].code == 1012
        # One socket on the node: the floor of the spread (the SDK came back within it).
        assert closes[0].reason == "server restarting; reconnect_within_ms=500"
        assert not closes[0].final
        assert any(isinstance(e, Connected) and e.connection == 2 for e in others)
        # The socket works again in both directions.
        ack = await ada.send(room.id, body="back")
        assert ack.seq == 7
        [back] = await next_messages(rt, 1, conversation_id=room.id)
        assert (back.seq, back.body) == (7, "back")
        assert not [e for e in await quiet_events(rt, 0.5) if isinstance(e, MessageEvent)]
