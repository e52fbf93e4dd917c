"""Opening one authenticated WebSocket: a single-use ticket over HTTP, then the `auth` frame."""

from __future__ import annotations

import asyncio
import json
from typing import Final

from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin

from hushroom.client.errors import ConnectionFailed
from hushroom.client.http import HttpClient

TICKET_PATH: Final = "/api/v1/ws-ticket"


async def open_socket(
    http: HttpClient,
    ws_url: str,
    *,
    origin: str | None = None,
    max_size: int | None = 2**20,
    authenticate: bool = True,
    open_timeout: float = 10.0,
) -> ClientConnection:
    """A raw socket (tests, tools): opened and, unless told otherwise, past `ready`.

    The caller closes it. Raises `InvalidStatus` when the handshake is refused and
    `ConnectionFailed` when authentication fails.
    """
    ticket = await fetch_ticket(http) if authenticate else None
    ws = await connect(
        ws_url,
        origin=Origin(origin) if origin is not None else None,
        proxy=None,
        open_timeout=open_timeout,
        max_size=max_size,
        close_timeout=2,
    )
    if ticket is None:
        return ws
    try:
        await ws.send(json.dumps({"type": "auth", "ticket": ticket}))
        first = json.loads(await asyncio.wait_for(ws.recv(), open_timeout))
        if not isinstance(first, dict) or first.get("type") != "ready":
            raise ConnectionFailed(f"authentication failed: {first!r}")
    except BaseException:
        await ws.close()
        raise
    return ws


async def fetch_ticket(http: HttpClient) -> str:
    data = await http.request("POST", TICKET_PATH)
    return str(data["ticket"])
