"""Typing, presence, read receipts, membership and unread counts over real WebSockets.

Also the Zulip-style check: the conversation list a client builds from its initial fetch plus the
events it receives equals a fresh fetch.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect

from tests.support.accounts import Account, register_and_login
from tests.support.e2ee import envelope_body, keyed_login, new_key
from tests.support.server import ServerProcess


def unique_email(name: str) -> str:
    # The server process is shared by the package's tests: every test brings its own users.
    return f"{name}-{uuid.uuid4().hex[:10]}@example.test"


async def open_socket(
    c: httpx.AsyncClient, server: ServerProcess, who: Account
) -> ClientConnection:
    ticket = (await c.post("/api/v1/ws-ticket", headers=who.headers)).json()["ticket"]
    ws = await connect(server.ws_url)
    await ws.send(orjson.dumps({"type": "auth", "ticket": ticket}).decode())
    ready = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
    assert ready["type"] == "ready"
    return ws


async def next_of(ws: ClientConnection, kind: str, within: float = 10.0) -> dict[str, Any]:
    """The next frame of `kind`, skipping others (presence chatter, etc.)."""
    async with asyncio.timeout(within):
        while True:
            frame: dict[str, Any] = orjson.loads(await ws.recv())
            if frame["type"] == kind:
                return frame


async def quiet_for(ws: ClientConnection, kind: str, seconds: float) -> bool:
    """True if no frame of `kind` arrives within `seconds`."""
    try:
        await next_of(ws, kind, seconds)
    except TimeoutError:
        return True
    return False


def test_typing_presence_receipts_and_membership_events(server: ServerProcess) -> None:
    async def scenario() -> None:
        async with httpx.AsyncClient(base_url=server.base_url) as c:
            ana = await register_and_login(c, "Ana", unique_email("ana"))
            ben = await register_and_login(c, "Ben", unique_email("ben"))
            room = (
                await c.post("/api/v1/rooms", json={"name": "lobby"}, headers=ana.headers)
            ).json()
            ws_ana = await open_socket(c, server, ana)
            await c.post(f"/api/v1/rooms/{room['id']}/join", headers=ben.headers)
            joined = await next_of(ws_ana, "member.joined")
            assert joined == {
                "type": "member.joined",
                "conversation_id": room["id"],
                "user_id": ben.user_id,
            }

            # Room presence reaches those watching (docs/protocol.md "Presence"): Ana watches
            # Ben, as a client does for the members on its screen.
            await ws_ana.send(
                orjson.dumps({"type": "presence.watch", "user_ids": [ben.user_id]}).decode()
            )
            snapshot = await next_of(ws_ana, "presence.snapshot")
            assert [(p["user_id"], p["status"]) for p in snapshot["presences"]] == [
                (ben.user_id, "offline")
            ]
            ws_ben = await open_socket(c, server, ben)
            online = await next_of(ws_ana, "presence")
            assert (online["user_id"], online["status"]) == (ben.user_id, "online")

            await ws_ben.send(
                orjson.dumps({"type": "typing", "conversation_id": room["id"]}).decode()
            )
            typing = await next_of(ws_ana, "typing")
            assert typing == {
                "type": "typing",
                "conversation_id": room["id"],
                "user_id": ben.user_id,
            }
            assert await quiet_for(ws_ben, "typing", 0.5)  # your own typing is not echoed

            send = {
                "type": "message.send",
                "ref": "r1",
                "conversation_id": room["id"],
                "client_msg_id": uuid.uuid4().hex,
                "body": "hello Ben",
            }
            await ws_ana.send(orjson.dumps(send).decode())
            ack = await next_of(ws_ana, "message.ack")
            got = await next_of(ws_ben, "message.new")
            assert got["message"]["seq"] == ack["seq"] == 1

            await ws_ben.send(
                orjson.dumps({"type": "read", "conversation_id": room["id"], "seq": 1}).decode()
            )
            receipt = await next_of(ws_ana, "receipt")
            assert receipt == {
                "type": "receipt",
                "conversation_id": room["id"],
                "user_id": ben.user_id,
                "seq": 1,
            }

            await ws_ben.send(orjson.dumps({"type": "presence.set", "status": "away"}).decode())
            away = await next_of(ws_ana, "presence")
            assert (away["user_id"], away["status"]) == (ben.user_id, "away")

            await ws_ben.close()
            offline = await next_of(ws_ana, "presence")
            assert (offline["user_id"], offline["status"]) == (ben.user_id, "offline")
            assert isinstance(offline["last_seen"], int)

            await c.post(f"/api/v1/rooms/{room['id']}/leave", headers=ben.headers)
            left = await next_of(ws_ana, "member.left")
            assert left["user_id"] == ben.user_id
            await ws_ana.close()

    asyncio.run(scenario())


def test_initial_state_plus_events_equals_fresh_fetch(server: ServerProcess) -> None:
    """Apply message.new / receipt events to Ben's first conversation list, then refetch."""

    async def scenario() -> None:
        async with httpx.AsyncClient(base_url=server.base_url) as c:
            ana = await keyed_login(c, "Ana", unique_email("ana"))
            ben = await keyed_login(c, "Ben", unique_email("ben"))
            room = (
                await c.post("/api/v1/rooms", json={"name": "state"}, headers=ana.headers)
            ).json()
            await c.post(f"/api/v1/rooms/{room['id']}/join", headers=ben.headers)
            dm = (
                await c.post("/api/v1/dms", json={"user_id": ben.user_id}, headers=ana.headers)
            ).json()

            state = {
                conv["id"]: conv
                for conv in (await c.get("/api/v1/conversations", headers=ben.headers)).json()
            }
            ws = await open_socket(c, server, ben)
            ws_ana = await open_socket(c, server, ana)
            for i in range(3):
                frame = {
                    "type": "message.send",
                    "conversation_id": room["id"],
                    "client_msg_id": uuid.uuid4().hex,
                    "body": f"m{i}",
                }
                await ws_ana.send(orjson.dumps(frame).decode())
                await next_of(ws_ana, "message.ack")
            key = await new_key(c, ana, dm["id"])
            envelope = {
                "type": "message.send",
                "conversation_id": dm["id"],
                **envelope_body(ana, key, b"sealed"),
            }
            await ws_ana.send(orjson.dumps(envelope).decode())
            await next_of(ws_ana, "message.ack")
            await c.post(
                f"/api/v1/conversations/{room['id']}/read", json={"seq": 2}, headers=ben.headers
            )

            # Apply what Ben's socket received.
            seen = 0
            async with asyncio.timeout(10):
                while seen < 5:
                    ev = orjson.loads(await ws.recv())
                    if ev["type"] == "message.new":
                        conv = state[ev["message"]["conversation_id"]]
                        conv["last_seq"] = max(conv["last_seq"], ev["message"]["seq"])
                        seen += 1
                    elif ev["type"] == "receipt" and ev["user_id"] == ben.user_id:
                        state[ev["conversation_id"]]["last_read_seq"] = ev["seq"]
                        seen += 1
            for conv in state.values():
                conv["unread"] = conv["last_seq"] - conv["last_read_seq"]

            fresh = {
                conv["id"]: conv
                for conv in (await c.get("/api/v1/conversations", headers=ben.headers)).json()
            }
            keys = ("last_seq", "last_read_seq", "unread")
            assert {k: {f: v[f] for f in keys} for k, v in state.items()} == {
                k: {f: v[f] for f in keys} for k, v in fresh.items()
            }
            assert fresh[room["id"]]["unread"] == 1
            assert fresh[dm["id"]]["unread"] == 1
            await ws.close()
            await ws_ana.close()

    asyncio.run(scenario())
