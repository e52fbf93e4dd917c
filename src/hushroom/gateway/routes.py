"""The WebSocket endpoint."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Match, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from hushroom.gateway.connection import handle


def websocket_endpoint(websocket: WebSocket) -> Coroutine[Any, Any, None]:
    """The gateway's coroutine for one socket, with its app's container and registry. Returned,
    not awaited here: a frame of this function would stay suspended for the socket's life."""
    state = websocket.app.state
    return handle(websocket, state.container, state.connections)


# A plain Starlette route, not FastAPI's: FastAPI's wrappers (dependency solving, three exit
# stacks, a copied scope) would stay alive for the whole life of every socket.
route = WebSocketRoute("/ws", websocket_endpoint)


class DirectGateway:
    """A `/ws` handshake goes straight to the gateway: no layer of the app in between.

    Every layer a socket passes through stays suspended, with its frame and closures, for the
    socket's whole life: the HTTP-only middlewares (request log, metrics, security headers,
    request edges, all of which pass WebSockets through unchanged), Starlette's error and
    exception middlewares, FastAPI's and Starlette's `__call__`, the router and the route's
    session wrappers. `hushroom serve` gives uvicorn the app wrapped in this (`cli.worker_app`,
    `owner` given: outside the app, `scope["app"]` is not set yet); `create_app` also installs
    it as the outermost middleware, for clients in the same process (tests). Measured with
    tracemalloc over idle sockets: ≈ 6 KB each as a middleware, ≈ 3.8 KB more outside the app
    (docs/performance.md).
    """

    def __init__(self, app: ASGIApp, owner: Starlette | None = None) -> None:
        self.app = app
        self._owner = owner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                scope.update(child_scope)
                if self._owner is not None:
                    scope["app"] = self._owner
                await websocket_endpoint(WebSocket(scope, receive, send))
                return
        await self.app(scope, receive, send)
