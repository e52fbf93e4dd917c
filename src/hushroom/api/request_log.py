"""One log line per HTTP request (method, path, status, milliseconds, request id) and the
`X-Request-Id` response header.

A pure ASGI layer: as BaseHTTPMiddleware it ran every request in a task of its own behind a
memory stream, about a tenth of a WebSocket ticket's CPU (docs/performance.md). The request id is
the client's `X-Request-Id` (first 64 characters) or a fresh one, bound to the log context for
the request's lines. Path only: query strings are never logged. A request whose app raised is not
logged here: the error layer outside logs it and answers 500.
"""

from __future__ import annotations

import logging
import time
import uuid

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("hushroom.http")

MAX_REQUEST_ID_CHARS = 64


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            given: str = value.decode("latin-1")[:MAX_REQUEST_ID_CHARS]
            if given:
                return given
            break
    return uuid.uuid4().hex


class RequestLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        header = (b"x-request-id", request_id.encode("latin-1"))
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        structlog.contextvars.bind_contextvars(request_id=request_id)
        start = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
        log.info(
            "request",
            extra={
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "ms": round((time.perf_counter() - start) * 1000, 2),
                "request_id": request_id,
            },
        )
