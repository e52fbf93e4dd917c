"""The socket layer's send queue, over a fake WebSocket: bounded (slow consumer → 1013), flushed
before a close, and gone (no task, no buffer) while a socket has nothing to send."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

from hushroom.config import Settings
from hushroom.gateway import protocol as p
from hushroom.gateway.connection import Connection
from hushroom.gateway.wire import WIRE_EXTENSION, WireProtocol, text_frame


class _Counter:
    def labels(self, *_args: str) -> _Counter:
        return self

    def inc(self) -> None:
        return None


class FakeWebSocket:
    def __init__(self) -> None:
        self.scope: dict[str, Any] = {}
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.sent: list[str] = []
        self.closed: tuple[int, str] | None = None
        self.gate = asyncio.Event()  # cleared: the peer reads nothing (a slow consumer)
        self.gate.set()

    async def receive(self) -> dict[str, Any]:
        return await self.inbox.get()

    async def send_text(self, text: str) -> None:
        await self.gate.wait()
        self.sent.append(text)

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)
        self.inbox.put_nowait({"type": "websocket.disconnect", "code": code})

    def disconnect(self) -> None:
        self.inbox.put_nowait({"type": "websocket.disconnect", "code": 1006})


class VanishingWebSocket(FakeWebSocket):
    async def send_text(self, text: str) -> None:
        raise RuntimeError("the peer is gone")


def ready_connection(ws: FakeWebSocket, queue: int = 10) -> Connection:
    container = SimpleNamespace(
        settings=Settings(ws_send_queue=queue),
        clock=SimpleNamespace(monotonic=time.monotonic),
        metrics=SimpleNamespace(ws_closes=_Counter()),
    )
    registry = SimpleNamespace(limits=p.ProtocolLimits(), framed=text_frame)
    conn = Connection(ws, container, registry)  # type: ignore[arg-type]
    conn.protocol.state = p.State.READY
    return conn


def frame(text: str) -> p.SendFrame:
    return p.SendFrame({}, text)


async def test_slow_consumer_overflow_closes_1013_and_drops_the_backlog() -> None:
    ws = FakeWebSocket()
    conn = ready_connection(ws, queue=3)
    serving = asyncio.create_task(conn.serve())
    await asyncio.sleep(0)
    ws.gate.clear()
    for i in range(6):  # one in flight + 3 queued fit; the 5th overflows
        conn._apply_sync([frame(f"f{i}")])
        await asyncio.sleep(0)
    ws.gate.set()
    await asyncio.wait_for(serving, 5)
    assert ws.sent == ["f0"]
    assert ws.closed is not None
    assert ws.closed[0] == 1013


async def test_frames_queued_before_a_close_go_out_first() -> None:
    ws = FakeWebSocket()
    conn = ready_connection(ws)
    serving = asyncio.create_task(conn.serve())
    await asyncio.sleep(0)
    conn._apply_sync([frame("a"), frame("b"), p.Close(1008, "policy")])
    await asyncio.wait_for(serving, 5)
    assert ws.sent == ["a", "b"]
    assert ws.closed == (1008, "policy")


async def test_shutdown_of_an_idle_socket_closes_1012() -> None:
    ws = FakeWebSocket()
    conn = ready_connection(ws)
    serving = asyncio.create_task(conn.serve())
    await asyncio.sleep(0.01)
    conn.shutdown()
    await asyncio.wait_for(serving, 5)
    assert ws.sent == []
    assert ws.closed is not None
    assert ws.closed[0] == 1012


async def test_idle_socket_holds_no_writer_and_no_buffer() -> None:
    ws = FakeWebSocket()
    conn = ready_connection(ws)
    serving = asyncio.create_task(conn.serve())
    conn._apply_sync([frame("a")])
    assert conn._writer is not None
    await asyncio.sleep(0.01)
    assert ws.sent == ["a"]
    assert conn._out is None
    assert conn._writer is None
    ws.disconnect()
    await asyncio.wait_for(serving, 5)


async def test_peer_vanishing_mid_write_stops_sending_until_the_disconnect() -> None:
    ws = VanishingWebSocket()
    conn = ready_connection(ws)
    serving = asyncio.create_task(conn.serve())
    conn._apply_sync([frame("a"), frame("b")])
    await asyncio.sleep(0.01)
    assert conn._closing
    assert conn._out is None
    assert not serving.done()  # the reader ends on the disconnect, not before
    conn._apply_sync([frame("c")])
    assert conn._out is None  # nothing more is queued for a dead peer
    ws.disconnect()
    await asyncio.wait_for(serving, 5)


# The wire (hushroom serve): frames go straight to the transport ---------------------------------


class FakeWire(WireProtocol):
    """A transport buffer we control: `pending` bytes the kernel has not taken."""

    def __init__(self) -> None:  # no uvicorn state: only write/buffered are used
        self.frames: list[bytes] = []
        self.pending = 0
        self.open = True

    def write(self, frame: bytes) -> bool:
        if not self.open:
            return False
        self.frames.append(frame)
        return True

    def buffered(self) -> int:
        return self.pending


def wired_connection(ws: FakeWebSocket, wire: FakeWire, queue: int = 10) -> Connection:
    ws.scope = {"extensions": {WIRE_EXTENSION: wire}}
    return ready_connection(ws, queue)


def texts(wire: FakeWire) -> list[str]:
    return [f[2:].decode() for f in wire.frames]  # short frames: a 2-byte header


async def test_wire_writes_frames_at_once_without_a_task_or_queue() -> None:
    ws, wire = FakeWebSocket(), FakeWire()
    conn = wired_connection(ws, wire)
    conn._apply_sync([frame("a"), frame("b")])
    assert texts(wire) == ["a", "b"]
    assert wire.frames[0] == text_frame("a")
    assert conn._writer is None and conn._out is None
    assert ws.sent == []  # nothing went through ASGI sends


async def test_wire_backlog_behind_a_full_socket_closes_1013() -> None:
    ws, wire = FakeWebSocket(), FakeWire()
    conn = wired_connection(ws, wire, queue=3)
    serving = asyncio.create_task(conn.serve())
    await asyncio.sleep(0)
    for i in range(3):  # the kernel takes these at once (buffer empty): no backlog counts
        conn._apply_sync([frame(f"f{i}")])
    wire.pending = 10_000  # now the client stops reading
    for i in range(3, 10):
        conn._apply_sync([frame(f"f{i}")])
    await asyncio.wait_for(serving, 5)
    # Three frames fit behind the full buffer; the 4th overflows.
    assert texts(wire) == [f"f{i}" for i in range(6)]
    assert ws.closed is not None
    assert ws.closed[0] == 1013


async def test_wire_backlog_resets_when_the_buffer_drains() -> None:
    ws, wire = FakeWebSocket(), FakeWire()
    conn = wired_connection(ws, wire, queue=3)
    for round_ in range(4):
        wire.pending = 0  # the client caught up
        conn._apply_sync([frame(f"{round_}.0")])
        wire.pending = 10_000  # then falls behind by 3 frames, every round
        for i in range(1, 4):
            conn._apply_sync([frame(f"{round_}.{i}")])
    assert len(wire.frames) == 16
    assert ws.closed is None and not conn._closing


async def test_wire_close_follows_the_frames_written_before_it() -> None:
    ws, wire = FakeWebSocket(), FakeWire()
    conn = wired_connection(ws, wire)
    serving = asyncio.create_task(conn.serve())
    await asyncio.sleep(0)
    conn._apply_sync([frame("a"), p.Close(1008, "policy"), frame("late")])
    await asyncio.wait_for(serving, 5)
    assert texts(wire) == ["a"]
    assert ws.closed == (1008, "policy")


async def test_wire_refusing_a_write_stops_sending() -> None:
    ws, wire = FakeWebSocket(), FakeWire()
    conn = wired_connection(ws, wire)
    wire.open = False  # the peer began closing
    conn._apply_sync([frame("a")])
    assert conn._closing
    wire.open = True
    conn._apply_sync([frame("b")])
    assert wire.frames == []
