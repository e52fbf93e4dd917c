"""`hushroom_errors_total{transport="ws"}` counts every WebSocket error frame by its `code`:
junk input the protocol refuses as well as commands the services refuse."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection

from hushroom.client import open_socket
from tests.integration.helpers import users
from tests.support.server import METRICS_AUTH, ServerProcess


async def ws_errors(server: ServerProcess) -> dict[str, float]:
    async with httpx.AsyncClient(timeout=5) as http:
        r = await http.get(f"{server.base_url}/metrics", headers=METRICS_AUTH)
    assert r.status_code == 200
    return {
        s.labels["code"]: s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
        if s.name == "hushroom_errors_total" and s.labels.get("transport") == "ws"
    }


async def next_error(ws: ClientConnection) -> dict[str, object]:
    async with asyncio.timeout(10):
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == "error":
                assert isinstance(frame, dict)
                return frame


async def test_ws_error_frames_are_counted(server: ServerProcess) -> None:
    async with users(server, "Ada") as (ada,):
        ws = await open_socket(ada.http, ada.ws_url)
        try:
            before = await ws_errors(server)
            for data in ("{not json", "[1, 2]", '{"type": "launch.missiles"}'):
                await ws.send(data)
                await next_error(ws)
            # A command the services refuse: a conversation that does not exist.
            await ws.send(
                json.dumps(
                    {
                        "type": "message.send",
                        "ref": "r1",
                        "conversation_id": str(uuid.uuid4()),
                        "client_msg_id": "b" * 32,
                        "body": "hi",
                    }
                )
            )
            refused = await next_error(ws)
            after = await ws_errors(server)
        finally:
            await ws.close()
    delta = {code: after[code] - before.get(code, 0.0) for code in after}
    assert delta["malformed_json"] == 2
    assert delta["unknown_type"] == 1
    assert refused["ref"] == "r1"
    assert delta[str(refused["code"])] == 1
