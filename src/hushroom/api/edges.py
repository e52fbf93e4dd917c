"""What every HTTP request passes before any route sees it (docs/security.md § Edges).

A pure ASGI layer (no BaseHTTPMiddleware: it would buffer nothing here, but costs a task and a
stream per request):

- **Request body limit** (`max_request_body_bytes`): a declared `Content-Length` over the limit
  is refused with 413 `body_too_large` before a byte of the body is read; a body without one
  (chunked) is counted as it streams in, and refused the moment it passes the limit. Either way
  uvicorn drops the rest of the body as it arrives (it never buffers body bytes once the
  response is complete). The connection stays open: closing it with unread bytes in the socket
  would reset it, and the client would lose the 413 before it could read it.
- **The request target**: longer than `MAX_TARGET_CHARS` → 414 `uri_too_long`; a NUL character
  in the path or the query string → 422 `validation_failed`, the answer a NUL in a JSON body
  gets (api/schemas.py), on SQLite and PostgreSQL alike.

WebSocket scopes pass through: their frames are limited by the gateway (`max_ws_frame_bytes`).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hushroom.api.problems import problem

# Path plus query string, in characters. The longest legitimate target is a user search
# (`q` ≤ 320 characters, ≤ 960 percent-encoded); everything else is far shorter.
MAX_TARGET_CHARS = 4096


def _content_length(scope: Scope) -> int | None:
    """The declared length; -1 when it is not a valid one."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() and len(value) <= 19 else -1
    return None


def _nul_in_url(path: str, query: bytes) -> Response:
    """422 as RequestValidationError renders it (api/problems.py), naming the parameter."""
    field = "path"
    if "\x00" not in path:
        pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
        name = next((k for k, v in pairs if "\x00" in k or "\x00" in v), "query")
        field = name if "\x00" not in name and len(name) <= 64 else "query"
    message = "must not contain NUL characters"
    return problem(
        422,
        "validation_failed",
        "The request is not valid",
        f"{field}: {message}",
        extra={"field": field, "errors": [{"field": field, "message": message}]},
    )


class RequestEdges:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    def _too_large(self) -> Response:
        return problem(
            413,
            "body_too_large",
            "The request body is too large",
            f"at most {self.max_body_bytes} bytes",
            extra={"limit": self.max_body_bytes},
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        query: bytes = scope.get("query_string", b"")
        if len(path) + len(query) > MAX_TARGET_CHARS:
            await problem(
                414,
                "uri_too_long",
                "The request URL is too long",
                f"at most {MAX_TARGET_CHARS} characters",
                headers={"Connection": "close"},
            )(scope, receive, send)
            return
        if "\x00" in path or b"%00" in query or b"\x00" in query:
            await _nul_in_url(path, query)(scope, receive, send)
            return
        length = _content_length(scope)
        if length is not None and (length < 0 or length > self.max_body_bytes):
            response = (
                self._too_large()
                if length > 0
                else problem(
                    400,
                    "bad_request",
                    "The Content-Length header is not valid",
                    headers={"Connection": "close"},
                )
            )
            await response(scope, receive, send)
            return
        await self._streamed(scope, receive, send)

    async def _streamed(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Count the body as the app reads it; past the limit, answer 413 at once and let the
        app see a disconnect (whatever it then sends is dropped)."""
        limit = self.max_body_bytes
        received = 0
        started = False
        refused = False

        async def counted_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    if not started:
                        await self._too_large()(scope, receive, send_through)
                    return {"type": "http.disconnect"}
            return message

        async def send_through(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        async def app_send(message: Message) -> None:
            if not refused:
                await send_through(message)

        try:
            await self.app(scope, counted_receive, app_send)
        except Exception:
            if not refused:
                raise
