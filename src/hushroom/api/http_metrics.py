"""HTTP request and error counts (`hushroom_http_requests_total`, `hushroom_errors_total`).

A pure ASGI layer wrapped around the whole middleware stack (`install`), outside Starlette's
ServerErrorMiddleware, so it sees every response the client gets: the catch-all 500 as well,
the 413/414/422 of api/edges.py, 404s of unknown paths, 429 rate limits and validation errors.

Every response is counted by method and status. Every response with status >= 400 is also an
error, labelled `transport="http"` and with the stable `code` of its problem document
(api/problems.py), read from the body of `application/problem+json` responses (small, and
only on errors); an error response that is not a problem document (none is expected) counts as
`http_<status>`. WebSocket scopes pass through: the gateway counts its error frames itself
(`transport="ws"`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import orjson
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hushroom.api.problems import PROBLEM_JSON
from hushroom.metrics import Metrics

# Problem documents are a few hundred bytes; a body past this is not parsed.
_MAX_PROBLEM_BYTES = 16 * 1024
# What a stable code looks like; anything else would be an unbounded label value.
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def problem_code(status: int, body: bytes | None) -> str:
    """The `code` of a problem document, or `http_<status>` when there is none."""
    if body:
        try:
            code = orjson.loads(body).get("code")
        except (orjson.JSONDecodeError, AttributeError):
            code = None
        if isinstance(code, str) and _CODE.match(code):
            return code
    return f"http_{status}"


def _is_problem(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name.lower() == b"content-type":
            return value.split(b";", 1)[0].strip().lower() == PROBLEM_JSON.encode()
    return False


class HttpMetrics:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        status = 0
        # The body of an error response, while it is still arriving (None: not an error).
        error_body: bytearray | None = None

        async def counting_send(message: Message) -> None:
            nonlocal status, error_body
            if message["type"] == "http.response.start":
                status = message["status"]
                self._metrics.http_requests.labels(method, str(status)).inc()
                if status >= 400:
                    if _is_problem(message.get("headers", ())):
                        error_body = bytearray()
                    else:
                        self._count_error(status, None)
            elif message["type"] == "http.response.body" and error_body is not None:
                if len(error_body) <= _MAX_PROBLEM_BYTES:
                    error_body += message.get("body", b"")
                if not message.get("more_body", False):
                    self._count_error(status, bytes(error_body))
                    error_body = None
            await send(message)

        await self.app(scope, receive, counting_send)

    def _count_error(self, status: int, body: bytes | None) -> None:
        self._metrics.errors.labels(problem_code(status, body), "http").inc()


def install(app: FastAPI, metrics: Metrics) -> None:
    """Wrap the app's whole middleware stack (built on its first request)."""
    build: Callable[[], ASGIApp] = app.build_middleware_stack

    def build_with_metrics() -> ASGIApp:
        return HttpMetrics(build(), metrics)

    app.build_middleware_stack = build_with_metrics  # type: ignore[method-assign]
