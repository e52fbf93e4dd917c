"""Live chat between real clients over real sockets, through the SDK (sqlite and postgres)."""

from __future__ import annotations

import json
import os
import uuid

import pytest

from hushroom.client import (
    ApiError,
    Connected,
    HushroomClient,
    Message,
    MessageEvent,
    RealtimeError,
    ServerEvent,
    new_client_msg_id,
)
from tests.integration.helpers import next_messages, quiet_events, users
from tests.support.server import ServerProcess


async def test_two_users_chat_live_in_public_room(server: ServerProcess) -> None:
    async with users(server, "Ada", "Bob") as (ada, bob):
        room = await ada.create_room("general", "say hi")
        await bob.join_room(room.id)
        rt_a, rt_b = await ada.connect(), await bob.connect()
        rt_a.track(room.id)
        rt_b.track(room.id)

        # Each sees the other's messages (and their own) live, in order.
        for i in range(5):
            ack = await ada.send(room.id, body=f"ada {i}")
            assert ack.seq == 2 * i + 1
            assert not ack.duplicate
            ack = await bob.send(room.id, body=f"bob {i}")
            assert ack.seq == 2 * i + 2
        expected = [f"{who} {i}" for i in range(5) for who in ("ada", "bob")]
        for rt in (rt_a, rt_b):
            got = await next_messages(rt, 10, conversation_id=room.id)
            assert [m.body for m in got] == expected
            assert [m.seq for m in got] == list(range(1, 11))
        assert {m.sender_id for m in got} == {ada.user_id, bob.user_id}

        # History pages backwards from the latest, then forwards from the start.
        latest = await bob.history(room.id, limit=4)
        assert [m.seq for m in latest.messages] == [7, 8, 9, 10]
        assert latest.has_more_before
        assert latest.last_seq == 10
        older = await bob.history(room.id, before=7, limit=4)
        assert [m.seq for m in older.messages] == [3, 4, 5, 6]
        oldest = await bob.history(room.id, before=3, limit=4)
        assert [m.seq for m in oldest.messages] == [1, 2]
        assert not oldest.has_more_before
        forward = await ada.history(room.id, after=0, limit=3)
        assert [m.seq for m in forward.messages] == [1, 2, 3]
        forward = await ada.history(room.id, after=8, limit=3)
        assert [m.seq for m in forward.messages] == [9, 10]
        assert [m.body async for m in ada.iter_history(room.id, page_size=3)] == expected


async def test_dm_and_group_carry_envelopes_end_to_end(server: ServerProcess) -> None:
    async with users(server, "Ada", "Bob", "Cy", "Eve") as (ada, bob, cy, eve):
        assert bob.user_id is not None
        assert cy.user_id is not None
        dm = await ada.open_private_dm(bob.user_id)
        group = await ada.create_private_group("trio", [bob.user_id, cy.user_id])
        rts = {c.user_id: await c.connect() for c in (ada, bob, cy, eve)}
        for c in (ada, bob):
            c.realtime.track(dm.id)
        for c in (ada, bob, cy):
            c.realtime.track(group.id)

        async def send_sealed(
            sender: HushroomClient, conv: uuid.UUID, plaintext: bytes
        ) -> tuple[HushroomClient, int, bytes]:
            """Seal with the SDK's keys, send the raw envelope over the socket."""
            cmid = new_client_msg_id()
            sealed = await sender.e2ee.seal(conv, plaintext, cmid)
            await sender.send(
                conv, envelope=(sealed.generation, sealed.envelope), client_msg_id=cmid
            )
            return sender, sealed.generation, sealed.envelope

        # Real envelopes, including one at the 64 KiB ciphertext limit, arrive byte-exact.
        first = await send_sealed(ada, dm.id, os.urandom(1))
        overhead = len(first[2]) - 1  # an envelope's size is its plaintext's plus a constant
        dm_sent = [
            first,
            await send_sealed(bob, dm.id, os.urandom(65536 - overhead)),
            await send_sealed(ada, dm.id, os.urandom(777)),
        ]
        assert len(dm_sent[1][2]) == 65536
        group_sent = [
            await send_sealed(c, group.id, os.urandom(100 + i))
            for i, c in enumerate((ada, bob, cy))
        ]

        def as_tuples(msgs: list[Message]) -> list[tuple[object, int | None, bytes | None]]:
            return [(m.sender_id, m.generation, m.ciphertext) for m in msgs]

        want_dm = [(s.user_id, g, ct) for s, g, ct in dm_sent]
        want_group = [(s.user_id, g, ct) for s, g, ct in group_sent]
        for c in (ada, bob):
            got = await next_messages(rts[c.user_id], 3, conversation_id=dm.id)
            assert as_tuples(got) == want_dm
            assert all(m.body is None for m in got)
        for c in (ada, bob, cy):
            got = await next_messages(rts[c.user_id], 3, conversation_id=group.id)
            assert as_tuples(got) == want_group
        assert as_tuples((await cy.history(group.id)).messages) == want_group
        assert as_tuples([m async for m in bob.iter_history(dm.id)]) == want_dm

        # A non-member: 403 over HTTP (history and send), not_a_member over the socket.
        for conv in (dm, group):
            with pytest.raises(ApiError) as http_err:
                await eve.history(conv.id)
            assert (http_err.value.status, http_err.value.code) == (403, "not_a_member")
            with pytest.raises(ApiError) as http_err:
                await eve.send_http(conv.id, envelope=(0, b"intrusion"))
            assert (http_err.value.status, http_err.value.code) == (403, "not_a_member")
            with pytest.raises(RealtimeError) as ws_err:
                await eve.send(conv.id, envelope=(0, b"intrusion"))
            assert ws_err.value.code == "not_a_member"
        assert eve.realtime.connected
        # ... and never received anything of them.
        private_ids = (str(dm.id), str(group.id))
        for event in await quiet_events(rts[eve.user_id], 1.0):
            assert isinstance(event, Connected | ServerEvent), event
            if isinstance(event, ServerEvent):
                assert not any(i in json.dumps(event.data) for i in private_ids), event
        assert (await ada.history(dm.id)).last_seq == 3
        assert (await ada.history(group.id)).last_seq == 3


async def test_seq_jump_is_filled_over_http_in_order(server: ServerProcess) -> None:
    async with users(server, "Ada", "Bob") as (ada, bob):
        room = await ada.create_room("holes")
        await bob.join_room(room.id)
        early = [await bob.send_http(room.id, body=f"early {i}") for i in range(5)]
        # Ada connects knowing nothing of the room, then claims position 0: the next live
        # message (seq 6) is a jump, and the hole 1..5 is fetched over HTTP before it.
        rt = await ada.connect()
        rt.track(room.id, 0)
        late = await bob.send_http(room.id, body="late")
        got = await next_messages(rt, 6, conversation_id=room.id)
        assert [m.seq for m in got] == [*(a.seq for a in early), late.seq]
        assert [m.body for m in got] == [*(f"early {i}" for i in range(5)), "late"]
        assert not [e for e in await quiet_events(rt, 0.5) if isinstance(e, MessageEvent)]
