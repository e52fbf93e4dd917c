"""Hostile or broken WebSocket input against a real server: oversize frames, junk, foreign
origins (docs/protocol.md § Errors, § Close codes)."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from hushroom.client import ConnectionFailed, HushroomClient, open_socket
from tests.integration.helpers import PASSWORD, next_messages, unique_email, users
from tests.support.server import ServerProcess

MAX_WS_FRAME_BYTES = 128 * 1024


async def _recv_json(ws: ClientConnection) -> dict[str, object]:
    async with asyncio.timeout(10):
        frame = json.loads(await ws.recv())
    assert isinstance(frame, dict)
    return frame


async def _drain(ws: ClientConnection) -> None:
    """Read until the socket closes (ConnectionClosed) or 10 s pass (TimeoutError)."""
    async with asyncio.timeout(10):
        while True:
            await ws.recv()


async def _next_of_type(ws: ClientConnection, kind: str) -> dict[str, object]:
    """The next frame of `kind`, skipping events (presence, …) that may come first."""
    while True:
        frame = await _recv_json(ws)
        if frame["type"] == kind:
            return frame


async def test_oversize_frame_closes_1009(server: ServerProcess) -> None:
    async with users(server, "Ada") as (ada,):
        room = await ada.create_room("big")
        ws = await open_socket(ada.http, ada.ws_url)
        try:
            frame = {
                "type": "message.send",
                "conversation_id": str(room.id),
                "client_msg_id": "0" * 32,
                "body": "x" * MAX_WS_FRAME_BYTES,
            }
            await ws.send(json.dumps(frame))
            with pytest.raises(ConnectionClosed) as closed:
                await _drain(ws)
        finally:
            await ws.close()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1009
        # Nothing was stored, and the account can connect again.
        assert (await ada.history(room.id)).last_seq == 0
        rt = await ada.connect()
        assert rt.connected


async def test_junk_json_gets_error_frame_and_socket_stays_up(server: ServerProcess) -> None:
    async with users(server, "Ada") as (ada,):
        room = await ada.create_room("junk")
        ws = await open_socket(ada.http, ada.ws_url)
        try:
            junk: list[tuple[str | bytes, str, str | None]] = [
                ("{not json", "malformed_json", None),
                (b"\xff\xfe binary junk", "malformed_json", None),
                ("[1, 2, 3]", "malformed_json", None),
                ('"just a string"', "malformed_json", None),
                ('{"no": "type"}', "unknown_type", "type"),
                ('{"type": "launch.missiles"}', "unknown_type", "type"),
                (
                    json.dumps(
                        {
                            "type": "message.send",
                            "conversation_id": "not-a-uuid",
                            "client_msg_id": "0" * 32,
                            "body": "hi",
                        }
                    ),
                    "validation_failed",
                    "conversation_id",
                ),
                (
                    json.dumps({"type": "read", "conversation_id": str(room.id), "seq": 1.0}),
                    "validation_failed",
                    "seq",
                ),
            ]
            for data, code, field in junk:
                await ws.send(data)
                error = await _next_of_type(ws, "error")
                assert error["code"] == code, data
                assert error.get("field") == field, data
            # Still up and serving: a ping is answered and a valid send is acknowledged.
            await ws.send(json.dumps({"type": "ping", "ref": "still-there"}))
            assert (await _next_of_type(ws, "pong"))["ref"] == "still-there"
            send = {
                "type": "message.send",
                "ref": "ok",
                "conversation_id": str(room.id),
                "client_msg_id": "a" * 32,
                "body": "still works",
            }
            await ws.send(json.dumps(send))
            ack = await _next_of_type(ws, "message.ack")
            assert (ack["ref"], ack["seq"], ack["duplicate"]) == ("ok", 1, False)
        finally:
            await ws.close()
        assert ws.close_code == 1000


async def test_foreign_origin_handshake_refused(server: ServerProcess) -> None:
    evil = "http://evil.example"
    async with users(server, "Ada") as (ada,):
        with pytest.raises(InvalidStatus) as refused:
            await open_socket(ada.http, ada.ws_url, origin=evil)
        assert refused.value.response.status_code == 403

        # The SDK gives up at once (no reconnect loop) with the status.
        async with HushroomClient(server.base_url, origin=evil) as eve:
            await eve.register_and_login("Eve", unique_email("eve"), PASSWORD)
            with pytest.raises(ConnectionFailed) as failed:
                async with asyncio.timeout(15):
                    await eve.connect()
            assert failed.value.http_status == 403

        # The server's own origin is accepted.
        own = await open_socket(ada.http, ada.ws_url, origin=server.base_url)
        await own.close()
        room = await ada.create_room("origin")
        async with HushroomClient(server.base_url, origin=server.base_url) as c:
            await c.register_and_login("Cy", unique_email("cy"), PASSWORD)
            await c.join_room(room.id)
            rt = await c.connect()
            rt.track(room.id)
            await c.send(room.id, body="same origin")
            [msg] = await next_messages(rt, 1, conversation_id=room.id)
            assert msg.body == "same origin"
