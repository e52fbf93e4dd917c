"""The socket layer's send queue, over a fake WebSocket: bounded (slow consumer → 1013), flushed
before a close, and gone (no task, no buffer) while a socket has nothing to send."""

from __future__ import annotations

import asyncio
import time
import uuid
from types import SimpleNamespace
from typing import Any

from websockets.protocol import State as WsState

from hushroom.config import Settings
from hushroom.events.event import Event
from hushroom.fanout.local import LocalHub
from hushroom.gateway import protocol as p
from hushroom.gateway.connection import Connection, ConnectionRegistry
from hushroom.gateway.wire import WIRE_EXTENSION, WireProtocol, text_frame
from hushroom.principal import Principal


class _Counter:
    def labels(self, *_args: str) -> _Counter:
        return self

    def inc(self) -> None:
        return None

    def dec(self) -> None:
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


def fake_container(queue: int) -> Any:
    return SimpleNamespace(
        settings=Settings(ws_send_queue=queue),
        clock=SimpleNamespace(monotonic=time.monotonic),
        metrics=SimpleNamespace(ws_closes=_Counter(), ws_connections=_Counter()),
        revocations=SimpleNamespace(on_reloaded=lambda _callback: None),
    )


def ready_connection(ws: FakeWebSocket, queue: int = 10) -> Connection:
    container = fake_container(queue)
    conn = Connection(ws, container, ConnectionRegistry(container))  # type: ignore[arg-type]
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
    conn.shutdown(750)
    await asyncio.wait_for(serving, 5)
    assert ws.sent == []
    assert ws.closed == (1012, "server restarting; reconnect_within_ms=750")


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


class FakeTransport:
    """A transport buffer we control: `pending` bytes the kernel has not taken."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.pending = 0
        self.closing = False

    def write(self, data: bytes) -> None:
        self.frames.append(data)

    def get_write_buffer_size(self) -> int:
        return self.pending

    def is_closing(self) -> bool:
        return self.closing


class FakeWire(WireProtocol):
    """The real `write` over a fake transport (no uvicorn state beyond what `write` reads)."""

    def __init__(self) -> None:
        self.fake = FakeTransport()
        self.transport = self.fake  # type: ignore[assignment]
        self.handshake_complete = True
        self.close_sent = False
        self.disconnected = False
        self.conn = SimpleNamespace(state=WsState.OPEN)  # type: ignore[assignment]
        self.backlog = 0

    @property
    def pending(self) -> int:
        return self.fake.pending

    @pending.setter
    def pending(self, value: int) -> None:
        self.fake.pending = value

    @property
    def open(self) -> bool:
        return not self.fake.closing

    @open.setter
    def open(self, value: bool) -> None:
        self.fake.closing = not value


def wired_connection(ws: FakeWebSocket, wire: FakeWire, queue: int = 10) -> Connection:
    ws.scope = {"extensions": {WIRE_EXTENSION: wire}}
    return ready_connection(ws, queue)


def texts(wire: FakeWire) -> list[str]:
    return [f[2:].decode() for f in wire.fake.frames]  # short frames: a 2-byte header


async def test_wire_writes_frames_at_once_without_a_task_or_queue() -> None:
    ws, wire = FakeWebSocket(), FakeWire()
    conn = wired_connection(ws, wire)
    conn._apply_sync([frame("a"), frame("b")])
    assert texts(wire) == ["a", "b"]
    assert wire.fake.frames[0] == text_frame("a")
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
    assert len(wire.fake.frames) == 16
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
    assert wire.fake.frames == []


# Room fan-out: the hub's bulk call over the wire keeps every per-socket rule ------------------


REGISTRY = ConnectionRegistry(fake_container(10))


def member(wire: FakeWire, user: uuid.UUID, queue: int = 10) -> Connection:
    conn = wired_connection(FakeWebSocket(), wire, queue)
    conn.registry = REGISTRY  # one registry: an event is framed once for all its members
    conn.principal = Principal(user, uuid.uuid4(), uuid.uuid4())
    conn.protocol.principal = conn.principal
    return conn


def room_message(
    recipients: set[uuid.UUID], seq: int, exclude_device: uuid.UUID | None = None
) -> Event:
    return Event(
        type="message.new",
        payload={"message": {"seq": seq}},
        recipients=frozenset(recipients),
        conversation_id=ROOM,
        seq=seq,
        exclude_device=exclude_device,
    )


ROOM = uuid.uuid4()


async def test_room_delivery_writes_one_shared_frame_to_each_member_and_no_one_else() -> None:
    alice, bob, carol = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    wires = [FakeWire() for _ in range(4)]
    conns = [member(wires[0], alice), member(wires[1], alice), member(wires[2], bob)]
    outsider = member(wires[3], carol)
    hub = LocalHub()
    for conn in [*conns, outsider]:
        hub.add(conn)
    ev = room_message({alice, bob}, 1, exclude_device=conns[1].principal.device_id)  # type: ignore[union-attr]
    assert hub.deliver(ev) == 3
    assert [texts(w) for w in wires] == [[ev.frame_text()], [], [ev.frame_text()], []]
    assert wires[0].fake.frames[0] is wires[2].fake.frames[0]  # framed once


async def test_room_delivery_is_not_widened_when_a_socket_is_handed_a_foreign_event() -> None:
    wire = FakeWire()
    conn = member(wire, uuid.uuid4())
    Connection.deliver_many(room_message({uuid.uuid4()}, 1), [conn])
    conn.deliver(room_message({uuid.uuid4()}, 2))
    assert wire.fake.frames == []


async def test_room_delivery_drops_what_a_resuming_socket_got_from_its_backfill() -> None:
    user = uuid.uuid4()
    wire = FakeWire()
    conn = member(wire, user)
    conn.protocol.resume_batch(ROOM, [], high_seq=5)
    for seq in (4, 5, 6):
        Connection.deliver_many(room_message({user}, seq), [conn])
    assert texts(wire) == [room_message({user}, 6).frame_text()]


async def test_room_delivery_to_a_slow_member_closes_it_1013_and_spares_the_others() -> None:
    slow_user, fast_user = uuid.uuid4(), uuid.uuid4()
    slow_wire, fast_wire = FakeWire(), FakeWire()
    slow, fast = member(slow_wire, slow_user, queue=2), member(fast_wire, fast_user, queue=2)
    slow_wire.pending = 10_000  # the slow member stopped reading
    for seq in range(1, 6):
        Connection.deliver_many(room_message({slow_user, fast_user}, seq), [slow, fast])
    await asyncio.sleep(0.01)  # the close goes through ASGI
    assert len(fast_wire.fake.frames) == 5
    assert len(slow_wire.fake.frames) == 2  # two fit behind its full buffer
    assert slow.ws.closed is not None and slow.ws.closed[0] == 1013  # type: ignore[attr-defined]


async def test_a_subscription_that_lands_late_asks_the_socket_to_resume_again(
    monkeypatch: Any,
) -> None:
    """Past the wait for its fan-out subscription, a socket may have its resume answered before
    the subscription takes effect (events in between reach nobody there): once it does, the
    socket is told `sync.stale` so the client resumes again."""
    monkeypatch.setattr("hushroom.gateway.connection.SUBSCRIBE_WAIT_S", 0.05)
    landed = asyncio.Event()
    principal = Principal(uuid.uuid4(), uuid.uuid4(), uuid.uuid4())

    async def sync() -> None:
        await landed.wait()

    async def redeem(_ticket: str) -> Principal:
        return principal

    async def connected(*_args: Any) -> None:
        return None

    container = fake_container(10)
    container.sessions = SimpleNamespace(redeem_ticket=redeem)
    container.fanout = SimpleNamespace(subscribe=lambda _conn: None, sync=sync)
    container.revocations = SimpleNamespace(
        on_reloaded=lambda _callback: None, is_revoked=lambda _session: False
    )
    container.presence = SimpleNamespace(connected=connected)
    ws = FakeWebSocket()
    conn = Connection(ws, container, ConnectionRegistry(container))  # type: ignore[arg-type]
    conn.protocol.state = p.State.AUTHENTICATING  # the auth frame was read

    await conn._authenticate("ticket")  # returns after the bounded wait
    await asyncio.sleep(0.02)
    assert ws.sent[0].startswith('{"type":"ready"')
    assert [t for t in ws.sent if '"sync.stale"' in t] == []
    landed.set()
    await asyncio.sleep(0.02)
    assert [t for t in ws.sent if '"sync.stale"' in t] == ['{"type":"sync.stale","within_ms":0}']
