"""A socket's own sends against a real server (protocol 2): the ack stands for the message (no
`message.new` echo to the sending socket; the sender's other sockets still get it), a retry is
acknowledged as a duplicate without an echo, and sends written without waiting (pipelined) are
all acknowledged by ref and stored in the order sent."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import ClientConnection

from hushroom.client import MessageEvent, new_client_msg_id, open_socket
from tests.integration.helpers import WAIT_S, next_messages, quiet_events, users
from tests.support.server import ServerProcess


def send_frame(ref: str, conversation_id: object, cmid: str, body: str) -> str:
    return json.dumps(
        {
            "type": "message.send",
            "ref": ref,
            "conversation_id": str(conversation_id),
            "client_msg_id": cmid,
            "body": body,
        }
    )


async def frames_until(ws: ClientConnection, done: Any) -> list[dict[str, Any]]:
    """Every frame up to and including the first for which `done(frame)` holds."""
    out: list[dict[str, Any]] = []
    async with asyncio.timeout(WAIT_S):
        while True:
            frame = json.loads(await ws.recv())
            out.append(frame)
            if done(frame):
                return out


async def quiet_frames(ws: ClientConnection, seconds: float) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(seconds):
            while True:
                out.append(json.loads(await ws.recv()))
    except TimeoutError:
        pass
    return out


async def test_the_sending_socket_gets_the_ack_and_no_echo_its_twin_gets_the_message(
    server: ServerProcess,
) -> None:
    async with users(server, "Ada", "Bob") as (ada, bob):
        room = await ada.create_room("no echo")
        await bob.join_room(room.id)
        watcher = await bob.connect()
        watcher.track(room.id)
        sender = await open_socket(ada.http, ada.ws_url)
        twin = await open_socket(ada.http, ada.ws_url)  # Ada's other tab
        try:
            cmid = new_client_msg_id()
            await sender.send(send_frame("r1", room.id, cmid, "hello"))
            got = await frames_until(sender, lambda f: f["type"] == "message.ack")
            ack = got[-1]
            assert (ack["ref"], ack["client_msg_id"], ack["seq"]) == ("r1", cmid, 1)
            assert ack["duplicate"] is False
            assert isinstance(ack["message_id"], int) and isinstance(ack["created_at"], int)
            [echo] = await frames_until(twin, lambda f: f["type"] == "message.new")
            assert echo["message"]["client_msg_id"] == cmid
            assert echo["message"]["id"] == ack["message_id"]
            [seen] = await next_messages(watcher, 1, conversation_id=room.id)
            assert seen.client_msg_id == cmid
            # By now any echo would have reached the sender too: there is none.
            assert not [
                f for f in got + await quiet_frames(sender, 0.5) if f["type"] == "message.new"
            ]

            # A retry of the stored send: a duplicate ack, no echo anywhere.
            await sender.send(send_frame("r2", room.id, cmid, "hello"))
            got = await frames_until(sender, lambda f: f["type"] == "message.ack")
            assert (got[-1]["ref"], got[-1]["seq"], got[-1]["duplicate"]) == ("r2", 1, True)
            assert not [f for f in got if f["type"] == "message.new"]
            assert not [f for f in await quiet_frames(twin, 0.5) if f["type"] == "message.new"]
            assert not [e for e in await quiet_events(watcher, 0.2) if isinstance(e, MessageEvent)]
        finally:
            await sender.close()
            await twin.close()


async def test_the_sdk_delivers_its_own_acked_send_once(server: ServerProcess) -> None:
    async with users(server, "Ada") as (ada,):
        room = await ada.create_room("own copy")
        rt = await ada.connect()
        rt.track(room.id)
        ack = await ada.send(room.id, body="mine")
        [own] = await next_messages(rt, 1, conversation_id=room.id)
        assert (own.seq, own.id, own.body, own.client_msg_id) == (
            ack.seq,
            ack.message_id,
            "mine",
            ack.client_msg_id,
        )
        assert own.sender_id == ada.user_id
        # The same send again (a retry): acknowledged as a duplicate, not delivered twice.
        again = await ada.send(room.id, body="mine", client_msg_id=ack.client_msg_id)
        assert again.duplicate
        assert not [e for e in await quiet_events(rt, 0.5) if isinstance(e, MessageEvent)]


async def test_fifty_sends_written_without_waiting_are_acked_by_ref_and_stored_in_order(
    server: ServerProcess,
) -> None:
    async with users(server, "Ada") as (ada,):
        room = await ada.create_room("pipelined")
        ws = await open_socket(ada.http, ada.ws_url)
        cmids = [new_client_msg_id() for _ in range(50)]
        try:
            for i, cmid in enumerate(cmids):
                await ws.send(send_frame(f"p{i}", room.id, cmid, f"m{i}"))
            acks: dict[str, dict[str, Any]] = {}
            async with asyncio.timeout(WAIT_S):
                while len(acks) < 50:
                    frame = json.loads(await ws.recv())
                    assert frame["type"] != "error", frame
                    if frame["type"] == "message.ack":
                        acks[frame["ref"]] = frame
        finally:
            await ws.close()
        assert [acks[f"p{i}"]["client_msg_id"] for i in range(50)] == cmids
        assert [acks[f"p{i}"]["seq"] for i in range(50)] == list(range(1, 51))
        history = [m async for m in ada.iter_history(room.id)]
        assert [m.client_msg_id for m in history] == cmids
        assert [m.seq for m in history] == list(range(1, 51))


async def test_sends_cut_off_by_a_disconnect_are_stored_once_and_retries_are_duplicates(
    server: ServerProcess,
) -> None:
    async with users(server, "Ada") as (ada,):
        room = await ada.create_room("cut off")
        cmids = [new_client_msg_id() for _ in range(20)]
        ws = await open_socket(ada.http, ada.ws_url)
        for i, cmid in enumerate(cmids):
            await ws.send(send_frame(f"c{i}", room.id, cmid, f"m{i}"))
        ws.transport.abort()  # gone without reading a single ack
        await ws.wait_closed()

        ws = await open_socket(ada.http, ada.ws_url)
        try:
            for i, cmid in enumerate(cmids):
                await ws.send(send_frame(f"c{i}", room.id, cmid, f"m{i}"))
            acks: dict[str, dict[str, Any]] = {}
            async with asyncio.timeout(WAIT_S):
                while len(acks) < 20:
                    frame = json.loads(await ws.recv())
                    if frame["type"] == "message.ack":
                        acks[frame["ref"]] = frame
        finally:
            await ws.close()
        # Whatever the first socket got stored was stored once: the retry found it.
        history = [m async for m in ada.iter_history(room.id)]
        assert sorted(m.client_msg_id for m in history) == sorted(cmids)
        assert [m.seq for m in history] == list(range(1, 21))
        by_cmid = {m.client_msg_id: m.seq for m in history}
        assert all(acks[f"c{i}"]["seq"] == by_cmid[cmid] for i, cmid in enumerate(cmids))
