"""The envelope checks over the WebSocket (a real server process, both databases): a refused
send gets an error frame with the HTTP problem's code and extra fields, and the ref."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import connect

from tests.support.e2ee import conversation_key_for, envelope_body, keyed_login, new_key, open_dm
from tests.support.server import ServerProcess


def test_refused_envelopes_get_error_frames_with_the_problem_fields(
    live_server: ServerProcess,
) -> None:
    async def scenario() -> None:
        async with httpx.AsyncClient(base_url=live_server.base_url) as c:
            tag = uuid.uuid4().hex[:8]
            ana = await keyed_login(c, "Ana", f"ana-{tag}@example.test")
            ben = await keyed_login(c, "Ben", f"ben-{tag}@example.test")
            dm = await open_dm(c, ana, ben)
            ticket = (await c.post("/api/v1/ws-ticket", headers=ana.headers)).json()["ticket"]
            async with connect(live_server.ws_url) as ws:
                await ws.send(orjson.dumps({"type": "auth", "ticket": ticket}).decode())

                async def reply(ref: str, body: dict[str, Any]) -> dict[str, Any]:
                    frame = {"type": "message.send", "ref": ref, "conversation_id": dm, **body}
                    await ws.send(orjson.dumps(frame).decode())
                    async with asyncio.timeout(10):
                        while True:
                            got: dict[str, Any] = orjson.loads(await ws.recv())
                            if got.get("ref") == ref:
                                return got

                stale = await reply("s1", envelope_body(ana, conversation_key_for(dm, 1)))
                assert (stale["type"], stale["code"]) == ("error", "stale_key_generation")
                assert (stale["current_generation"], stale["stale"]) == (0, False)
                assert stale["field"] == "envelope.generation"
                key = await new_key(c, ana, dm)
                mismatch = await reply("s2", envelope_body(ana, key, client_message_id="e" * 32))
                assert (mismatch["code"], mismatch["field"]) == ("envelope_mismatch", "envelope")
                ack = await reply("s3", envelope_body(ana, key))
                assert (ack["type"], ack["seq"]) == ("message.ack", 1)

    asyncio.run(scenario())
