"""The WebSocket endpoint."""

from __future__ import annotations

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from hushroom.gateway.connection import handle


async def websocket_endpoint(websocket: WebSocket) -> None:
    state = websocket.app.state
    await handle(websocket, state.container, state.connections)


# A plain Starlette route, not FastAPI's: FastAPI's wrappers (dependency solving, three exit
# stacks, a copied scope) would stay alive for the whole life of every socket.
route = WebSocketRoute("/ws", websocket_endpoint)
