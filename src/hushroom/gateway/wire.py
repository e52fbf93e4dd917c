"""The uvicorn WebSocket protocol, plus a direct write of ready-made frames for the gateway.

Through ASGI every outgoing frame costs an `await send(...)` chain (Starlette → uvicorn →
websockets framing → `transport.write`) and, to keep sockets independent, a writer task per busy
socket: ≈ 70 µs per delivered frame here, which put a floor of ≈ 70 ms under a message to a
1,000-member room (docs/performance.md). Server frames are unmasked, so one framed buffer serves
every recipient of an event: `WireProtocol.write` puts it on the transport synchronously, and the
transport's own buffer (bounded by the gateway) is the send queue.

`hushroom serve` runs uvicorn with `ws=WireProtocol` (uvicorn's documented way to plug in a
protocol class); the protocol offers itself to the app in the ASGI scope's extensions under
`WIRE_EXTENSION`. Anything else (Starlette's TestClient, another ASGI server) has no such
extension and the gateway falls back to ASGI sends. Control frames (close, ping, pong) stay with
uvicorn; writes are whole frames, so they never interleave inside one another.

This leans on private internals of uvicorn's sans-I/O protocol and of websockets (attributes,
the parser generator), so pyproject.toml bounds both below their next minor release, and
`self_check()` runs at start-up (`hushroom serve` and every worker): when something it needs is
missing, the protocol never offers itself, the gateway uses plain ASGI sends, one warning is
logged and `hushroom_wire_direct_writes` is 0. Slower, never wrong.

Idle memory is the other budget (≤ 25 KB per connection, docs/decisions/0004), and a profile of
1,000 idle sockets (tracemalloc) showed ≈ 5 KB each held by state the socket no longer needs or
that a lighter structure serves: asyncio's Queue (four deques and an Event) and Event for the ASGI
receive queue and write flow control, and the handshake request with its headers, kept alive by
uvicorn's attributes and by the local variable of websockets' parser generator. This class replaces
those (`_Inbox`, `_Flag`, a fresh parser once the handshake is done).
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
from collections import deque
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, Final

from websockets.frames import Frame, Opcode
from websockets.protocol import State

from hushroom.gateway.protocol import CLOSE_SERVICE_RESTART, reconnect_spread_ms, restart_reason

if TYPE_CHECKING:
    from uvicorn._types import ASGISendEvent
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

    _BASE_IMPORTED = True
else:
    try:
        from uvicorn.protocols.websockets.websockets_sansio_impl import (
            WebSocketsSansIOProtocol,
        )

        _BASE_IMPORTED = True
    except ImportError:  # reported by self_check(); `hushroom serve` then uses uvicorn's own
        WebSocketsSansIOProtocol = object
        _BASE_IMPORTED = False

WIRE_EXTENSION = "hushroom.wire"
# What `WireProtocol.write` did.
WRITTEN: Final = 0
FULL: Final = 1  # a slow consumer: close it (1013)
CLOSED: Final = 2
UVICORN_MODULE = "uvicorn.protocols.websockets.websockets_sansio_impl"
# Set by uvicorn's protocol and read or replaced here.
UVICORN_ATTRIBUTES = (
    "conn",
    "transport",
    "handshake_complete",
    "close_sent",
    "disconnected",
    "queue",
    "writable",
    "scope",
    "request",
    "response",
    "connections",
)

# False once self_check() found something missing: no direct writes, no handshake trimming.
_direct_writes = True


def _assigned_names(cls: type) -> set[str]:
    """Every attribute name the class's own methods use (assignments included)."""
    names: set[str] = set()
    for value in vars(cls).values():
        if inspect.isfunction(value):
            names.update(value.__code__.co_names)
    return names


def missing_internals() -> list[str]:
    """What the direct writes need from uvicorn and websockets and is not there (empty: all)."""
    try:
        uvicorn_protocol = importlib.import_module(UVICORN_MODULE).WebSocketsSansIOProtocol
    except (ImportError, AttributeError) as exc:
        return [f"uvicorn: {exc}"]
    from websockets import protocol as ws_protocol
    from websockets import streams as ws_streams

    missing = [
        f"uvicorn WebSocketsSansIOProtocol.{name}"
        for name in ("handle_connect", "send", "shutdown", "stop_keepalive")
        if not callable(getattr(uvicorn_protocol, name, None))
    ]
    used = _assigned_names(uvicorn_protocol)
    missing += [
        f"uvicorn WebSocketsSansIOProtocol.{name}"
        for name in UVICORN_ATTRIBUTES
        if name not in used
    ]
    if not callable(getattr(ws_protocol.Protocol, "parse", None)):
        missing.append("websockets Protocol.parse")
    if "parser" not in _assigned_names(ws_protocol.Protocol):
        missing.append("websockets Protocol.parser")
    if not callable(getattr(ws_streams.StreamReader, "at_eof", None)):
        missing.append("websockets StreamReader.at_eof")
    try:
        inspect.signature(Frame.serialize).bind(Frame(Opcode.TEXT, b""), mask=False)
    except TypeError:
        missing.append("websockets Frame.serialize(mask=)")
    return missing


def self_check() -> list[str]:
    """Check once at start-up; with anything missing, turn the direct writes off for good."""
    global _direct_writes
    missing = missing_internals()
    _direct_writes = not missing
    return missing


def direct_writes() -> bool:
    return _direct_writes


def uvicorn_ws_protocol() -> str:
    """The `ws=` for uvicorn: this module's protocol, or uvicorn's choice if its base is gone."""
    if not _BASE_IMPORTED:
        return "auto"
    return "hushroom.gateway.wire:WireProtocol"


def text_frame(text: str) -> bytes:
    """One unmasked, final text frame: the bytes a server sends for `text` (no extensions:
    `hushroom serve` turns permessage-deflate off)."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


class _Inbox:
    """The ASGI receive queue of one socket (one reader: the app's task), with no deque while
    it is empty and no waiter while nobody waits."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: deque[Any] | None = None
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        if self._items is None:
            self._items = deque()
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def empty(self) -> bool:
        return not self._items

    async def get(self) -> Any:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        item = self._items.popleft()
        if not self._items:
            self._items = None
        return item


class _Flag:
    """asyncio.Event's use here (write flow control), without a deque per socket."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = True
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> bool:
        while not self._set:
            waiter = asyncio.get_running_loop().create_future()
            if self._waiters is None:
                self._waiters = []
            self._waiters.append(waiter)
            await waiter
        return True


def _waiting_for_a_frame(parser: Generator[None]) -> bool:
    """The parser sits at the top of its frame loop (nothing of a frame read yet)."""
    inner: Any = parser
    while getattr(inner, "gi_yieldfrom", None) is not None:
        inner = inner.gi_yieldfrom
    return getattr(getattr(inner, "gi_code", None), "co_name", "") == "at_eof"


class WireProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol that also writes pre-framed bytes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Frames written since the transport's buffer was last seen empty (`write`).
        self.backlog = 0
        if _direct_writes:
            self.queue = _Inbox()  # type: ignore[assignment]
            self.writable = _Flag()  # type: ignore[assignment]

    def handle_connect(self, event: object) -> None:
        super().handle_connect(event)  # type: ignore[arg-type]
        # The ASGI task was created but has not run yet: it sees the extension. A refused
        # handshake has no scope.
        scope = getattr(self, "scope", None)
        if scope is not None and _direct_writes:
            scope["extensions"][WIRE_EXTENSION] = self

    async def send(self, message: ASGISendEvent) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept" and self.handshake_complete and _direct_writes:
            self._forget_handshake()

    def _forget_handshake(self) -> None:
        """Drop the handshake's request and response (≈ 2 KB of headers per socket), never
        read again. websockets' parser generator holds the request in a local variable for
        the socket's life, so it is replaced by a fresh one, which (the connection being
        open) only parses frames. That is safe only while the old one holds no part of a
        frame: the client waits for our 101 before sending any, but one that did not is
        left as it is.

        The ASGI scope's header list goes too (≈ 1 KB of tuples and bytes per socket): it is
        emptied in place, since the app's own references to the scope (Starlette's WebSocket,
        middleware copies) share the list. Whatever reads headers (origin and host checks)
        does so before accepting."""
        del self.request, self.response
        headers = self.scope.get("headers")
        if isinstance(headers, list):
            headers.clear()
        conn = self.conn
        if conn.state is State.OPEN and _waiting_for_a_frame(conn.parser):
            conn.parser.close()
            conn.parser = conn.parse()
            next(conn.parser)

    def shutdown(self) -> None:
        """On SIGTERM uvicorn closes every socket with a bare 1012 before the app's own
        shutdown runs; this close also says within how long to come back, from the number of
        connections this server is closing (docs/protocol.md § Close codes), so they do not
        all land on the other nodes at once. The rest is uvicorn's own shutdown."""
        if not _direct_writes or not self.handshake_complete or self.close_sent:
            super().shutdown()
            return
        self.stop_keepalive()
        self.queue.put_nowait({"type": "websocket.disconnect", "code": CLOSE_SERVICE_RESTART})
        within_ms = reconnect_spread_ms(len(self.connections))
        self.conn.send_close(CLOSE_SERVICE_RESTART, restart_reason(within_ms))
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.transport.close()

    def write(self, frame: bytes, limit: int = 0) -> int:
        """Queue one whole frame on the transport: WRITTEN, or (nothing written) FULL when
        `limit` frames (> 0; 0: no limit) already wait behind a full socket buffer, or CLOSED
        once the socket is closing or closed.

        An empty transport buffer means the kernel took everything: the client keeps up.
        Frames pile up only behind a full socket buffer, and the limit counts those (as the
        gateway's queue does on the ASGI path). One call per delivered frame, so the checks
        are attribute reads.
        """
        transport = self.transport
        if transport.get_write_buffer_size() == 0:
            self.backlog = 0
        elif 0 < limit <= self.backlog:
            return FULL
        else:
            self.backlog += 1
        if (
            not self.handshake_complete
            or self.close_sent
            or self.disconnected
            or self.conn.state is not State.OPEN
            or transport.is_closing()
        ):
            return CLOSED
        transport.write(frame)
        return WRITTEN

    def buffered(self) -> int:
        """Bytes written but not yet taken by the kernel (the send queue's length)."""
        return self.transport.get_write_buffer_size()
