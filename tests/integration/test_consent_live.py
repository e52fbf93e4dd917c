"""Requests and blocking over real WebSockets (docs/decisions/0006): until Ben accepts Ana's DM
her sockets get none of his presence, typing or receipts; after he accepts they do; once he
blocks her they stop again, both ways, and she is not told."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection

from tests.integration.test_live_signals import next_of, open_socket, unique_email
from tests.support.e2ee import envelope_body, keyed_login, new_key
from tests.support.server import ServerProcess

QUIET_S = 1.0


async def send(ws: ClientConnection, frame: dict[str, Any]) -> None:
    await ws.send(orjson.dumps(frame).decode())


async def signals(ws: ClientConnection, conversation: str, seq: int) -> None:
    """Typing, a read receipt and a status change, as a client sends them."""
    await send(ws, {"type": "typing", "conversation_id": conversation})
    await send(ws, {"type": "read", "conversation_id": conversation, "seq": seq})


async def quiet_about(ws: ClientConnection, kind: str, user_id: str) -> bool:
    """True if no frame of `kind` about `user_id` arrives within QUIET_S (the socket's own
    user's presence, say, is not about the other side)."""
    try:
        async with asyncio.timeout(QUIET_S):
            while True:
                frame = orjson.loads(await ws.recv())
                if frame["type"] == kind and frame.get("user_id") == user_id:
                    return False
    except TimeoutError:
        return True


def test_a_request_and_a_block_keep_presence_typing_and_receipts_private(
    server: ServerProcess,
) -> None:
    async def scenario() -> None:
        async with httpx.AsyncClient(base_url=server.base_url) as c:
            ana = await keyed_login(c, "Ana", unique_email("ana"))
            ben = await keyed_login(c, "Ben", unique_email("ben"))
            ws_ana = await open_socket(c, server, ana)
            ws_ben = await open_socket(c, server, ben)
            dm = (
                await c.post("/api/v1/dms", json={"user_id": ben.user_id}, headers=ana.headers)
            ).json()["id"]
            key = await new_key(c, ana, dm)

            async def ana_sends() -> int:
                frame = {"type": "message.send", "conversation_id": dm}
                await send(ws_ana, frame | envelope_body(ana, key))
                ack = await next_of(ws_ana, "message.ack")
                await next_of(ws_ben, "message.new")  # a request still delivers messages
                return int(ack["seq"])

            # A request: Ben reads, types and goes away; Ana hears nothing of it.
            seq = await ana_sends()
            await signals(ws_ben, dm, seq)
            await send(ws_ben, {"type": "presence.set", "status": "away"})
            for kind in ("typing", "receipt", "presence"):
                assert await quiet_about(ws_ana, kind, ben.user_id), kind

            # Accepted: his presence arrives at once, then his typing and receipts.
            r = await c.post(f"/api/v1/conversations/{dm}/accept", headers=ben.headers)
            assert r.status_code == 204
            presence = await next_of(ws_ana, "presence")
            assert (presence["user_id"], presence["status"]) == (ben.user_id, "away")
            seq = await ana_sends()
            await signals(ws_ben, dm, seq)
            typing = await next_of(ws_ana, "typing")
            assert typing["user_id"] == ben.user_id
            receipt = await next_of(ws_ana, "receipt")
            assert (receipt["user_id"], receipt["seq"]) == (ben.user_id, seq)

            # Ben blocks Ana: she sees him go offline, like anyone leaving; nothing more.
            r = await c.put(f"/api/v1/blocks/{ana.user_id}", headers=ben.headers)
            assert r.status_code == 204
            offline = await next_of(ws_ana, "presence")
            assert (offline["user_id"], offline["status"]) == (ben.user_id, "offline")
            # And he sees her go offline (after her presence from when he accepted).
            async with asyncio.timeout(10):
                while True:
                    frame = await next_of(ws_ben, "presence")
                    if (frame["user_id"], frame["status"]) == (ana.user_id, "offline"):
                        break
            await send(ws_ben, {"type": "presence.set", "status": "online"})
            await send(ws_ana, {"type": "typing", "conversation_id": dm})
            await send(ws_ana, {"type": "presence.set", "status": "away"})
            assert await quiet_about(ws_ana, "presence", ben.user_id)
            assert await quiet_about(ws_ben, "presence", ana.user_id)
            assert await quiet_about(ws_ben, "typing", ana.user_id)
            # Her sends still succeed and are acked; they are not pushed to him.
            frame = {"type": "message.send", "conversation_id": dm}
            await send(ws_ana, frame | envelope_body(ana, key))
            await next_of(ws_ana, "message.ack")
            try:
                async with asyncio.timeout(QUIET_S):
                    await next_of(ws_ben, "message.new")
                raise AssertionError("a blocked user's message was pushed to the blocker")
            except TimeoutError:
                pass
            await ws_ana.close()
            await ws_ben.close()

    asyncio.run(scenario())
