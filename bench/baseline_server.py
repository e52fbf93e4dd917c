"""Transport baseline: the same stack as Hushroom (FastAPI WebSocket on uvicorn with its
`websockets-sansio` protocol and Hushroom's direct frame writes, `gateway/wire.py`; orjson) with
no storage and no auth checks.

It speaks the subset of the Hushroom protocol the benchmark uses, so the same load generator
drives both: `auth` (the "ticket" is the user id) → `ready`; `message.send` → `message.ack` to
the sending socket and `message.new` to every other connection of every member of the
conversation (the sender's other sockets included, the sending socket not: its ack carries seq,
id and time, as Hushroom does since issue 17); `ping` → `pong`. Conversations are registered
over HTTP: `POST /conversations {"id", "members"}`.

Run: `python -m bench.baseline_server --port 8765`.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import time
from typing import Any

import orjson
import uvicorn
from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect

from hushroom.gateway.wire import WIRE_EXTENSION, text_frame

app = FastAPI()
_members: dict[str, tuple[str, ...]] = {}
_sockets: dict[str, set[WebSocket]] = {}
_seq = itertools.count(1)


@app.get("/readyz")
async def readyz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/conversations")
async def add_conversation(request: Request) -> dict[str, Any]:
    body = orjson.loads(await request.body())
    _members[body["id"]] = tuple(body["members"])
    return {"id": body["id"]}


async def _send(ws: WebSocket, text: str, framed: bytes | None = None) -> None:
    """As the gateway sends: straight to the transport when the wire is there."""
    wire = ws.scope["extensions"].get(WIRE_EXTENSION)
    if wire is not None:
        wire.write(framed if framed is not None else text_frame(text))
    else:
        await ws.send_text(text)


async def _route(ws: WebSocket, user_id: str, frame: dict[str, Any]) -> None:
    kind = frame.get("type")
    if kind == "ping":
        await _send(ws, orjson.dumps({"type": "pong", "ref": frame.get("ref")}).decode())
        return
    if kind != "message.send":
        await _send(ws, '{"type":"error","code":"unknown_type"}')
        return
    conv = frame["conversation_id"]
    seq = next(_seq)
    created = int(time.time() * 1000)
    await _send(
        ws,
        orjson.dumps(
            {
                "type": "message.ack",
                "ref": frame.get("ref"),
                "conversation_id": conv,
                "client_msg_id": frame["client_msg_id"],
                "seq": seq,
                "message_id": str(seq),
                "created_at": created,
                "duplicate": False,
            }
        ).decode(),
    )
    message: dict[str, Any] = {
        "id": str(seq),
        "conversation_id": conv,
        "seq": seq,
        "sender_id": user_id,
        "client_msg_id": frame["client_msg_id"],
        "created_at": created,
    }
    if "envelope" in frame:
        message["generation"] = frame["envelope"]["generation"]
        message["ciphertext"] = frame["envelope"]["ciphertext"]
    else:
        message["body"] = frame.get("body")
    # Serialised and framed once for every recipient, as the Hushroom gateway does.
    text = orjson.dumps({"type": "message.new", "message": message}).decode()
    framed = text_frame(text)
    for member in _members.get(conv, ()):
        for target in tuple(_sockets.get(member, ())):
            if target is ws:  # no echo to the sending socket: the ack was its answer
                continue
            with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                await _send(target, text, framed)


@app.websocket("/ws")
async def ws_endpoint(ws: WebSocket) -> None:
    await ws.accept()
    user_id = ""
    try:
        first = orjson.loads(await ws.receive_text())
        user_id = str(first.get("ticket", ""))
        if first.get("type") != "auth" or not user_id:
            await ws.close(1008)
            return
        _sockets.setdefault(user_id, set()).add(ws)
        await _send(
            ws,
            orjson.dumps(
                {"type": "ready", "user_id": user_id, "device_id": user_id, "heartbeat_s": 20}
            ).decode(),
        )
        while True:
            await _route(ws, user_id, orjson.loads(await ws.receive_text()))
    except WebSocketDisconnect:
        pass
    finally:
        if user_id:
            conns = _sockets.get(user_id)
            if conns is not None:
                conns.discard(ws)
                if not conns:
                    del _sockets[user_id]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        ws="hushroom.gateway.wire:WireProtocol",
        ws_per_message_deflate=False,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        log_level="warning",
        access_log=False,
        server_header=False,
    )


if __name__ == "__main__":
    main()
