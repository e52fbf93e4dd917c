"""`presence.watch` over real WebSockets: the snapshot lists only who the watcher may see, the
limit answers with an error frame, and a watch is per socket and ends with it."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import orjson
from websockets.asyncio.client import ClientConnection

from tests.integration.test_live_signals import next_of, open_socket, unique_email
from tests.support.accounts import register_and_login
from tests.support.server import ServerProcess


async def quiet_about(ws: ClientConnection, user_id: str, seconds: float) -> bool:
    """True if no presence frame about `user_id` arrives within `seconds` (others skipped)."""
    try:
        async with asyncio.timeout(seconds):
            while True:
                frame = orjson.loads(await ws.recv())
                if frame["type"] == "presence" and frame["user_id"] == user_id:
                    return False
    except TimeoutError:
        return True


def watch(user_ids: list[str], ref: str) -> str:
    return orjson.dumps({"type": "presence.watch", "ref": ref, "user_ids": user_ids}).decode()


def test_a_watch_shows_room_members_only_and_ends_with_its_socket(server: ServerProcess) -> None:
    async def scenario() -> None:
        async with httpx.AsyncClient(base_url=server.base_url) as c:
            ana = await register_and_login(c, "Ana", unique_email("ana"))
            ben = await register_and_login(c, "Ben", unique_email("ben"))
            eve = await register_and_login(c, "Eve", unique_email("eve"))  # shares nothing
            room = (
                await c.post("/api/v1/rooms", json={"name": "watch"}, headers=ana.headers)
            ).json()
            await c.post(f"/api/v1/rooms/{room['id']}/join", headers=ben.headers)
            ws_eve = await open_socket(c, server, eve)
            ws_ana = await open_socket(c, server, ana)
            ws_ana2 = await open_socket(c, server, ana)  # her second tab watches nobody

            nobody = str(uuid.uuid4())
            await ws_ana.send(watch([ben.user_id, eve.user_id, nobody], "w1"))
            snapshot = await next_of(ws_ana, "presence.snapshot")
            # Eve (online, but a stranger) and an unknown id are simply not listed.
            assert snapshot["ref"] == "w1"
            assert [(p["user_id"], p["status"]) for p in snapshot["presences"]] == [
                (ben.user_id, "offline")
            ]
            too_many = [str(uuid.uuid4()) for _ in range(101)]
            await ws_ana.send(watch(too_many, "w2"))
            error = await next_of(ws_ana, "error")
            assert (error["code"], error["field"], error["ref"]) == (
                "validation_failed",
                "user_ids",
                "w2",
            )

            ws_ben = await open_socket(c, server, ben)
            online = await next_of(ws_ana, "presence")
            assert (online["user_id"], online["status"]) == (ben.user_id, "online")
            # The stranger's socket hears nothing of Ben; neither does a room co-member who
            # does not watch him (Eve stands in for both: she is not even in the room).
            assert await quiet_about(ws_eve, ben.user_id, 0.5)

            # Presence is addressed to users: her other tab got it too.
            assert (await next_of(ws_ana2, "presence"))["user_id"] == ben.user_id
            # The watching socket goes: Ben's next change reaches nobody else of Ana's.
            await ws_ana.close()
            await asyncio.sleep(0.3)
            await ws_ben.send(orjson.dumps({"type": "presence.set", "status": "away"}).decode())
            assert await quiet_about(ws_ana2, ben.user_id, 1.0)
            for ws in (ws_ana2, ws_ben, ws_eve):
                await ws.close()

    asyncio.run(scenario())
