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
"""

from __future__ import annotations

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State

WIRE_EXTENSION = "hushroom.wire"


def text_frame(text: str) -> bytes:
    """One unmasked, final text frame: the bytes a server sends for `text` (no extensions:
    `hushroom serve` turns permessage-deflate off)."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


class WireProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol that also writes pre-framed bytes."""

    def handle_connect(self, event: object) -> None:
        super().handle_connect(event)  # type: ignore[arg-type]
        # The ASGI task was created but has not run yet: it sees the extension. A refused
        # handshake has no scope.
        scope = getattr(self, "scope", None)
        if scope is not None:
            scope["extensions"][WIRE_EXTENSION] = self

    def write(self, frame: bytes) -> bool:
        """Queue one whole frame on the transport; False once the socket is closing or closed
        (then nothing is written)."""
        if (
            not self.handshake_complete
            or self.close_sent
            or self.disconnected
            or self.conn.state is not State.OPEN
            or self.transport.is_closing()
        ):
            return False
        self.transport.write(frame)
        return True

    def buffered(self) -> int:
        """Bytes written but not yet taken by the kernel (the send queue's length)."""
        return self.transport.get_write_buffer_size()
