"""Pipelined sends on one socket, over a fake WebSocket and a fake message service: frames keep
being read while sends wait for their commit, at most `ws_sends_in_flight` at once (then reading
waits), each ack with its ref, sends handed on in the order read, other commands after the sends
before them, and sends in flight at a disconnect still finish (writing nothing)."""

from __future__ import annotations

import asyncio
import time
import uuid
from types import SimpleNamespace
from typing import Any

import orjson

from hushroom.config import Settings
from hushroom.errors import ValidationFailed
from hushroom.gateway import protocol as p
from hushroom.gateway.connection import Connection
from hushroom.gateway.wire import text_frame
from hushroom.principal import Principal
from hushroom.services.messages import SendCommand, SendResult
from tests.unit.gateway.test_connection_queue import FakeWebSocket, _Counter

CONV = uuid.uuid4()


class FakeMessages:
    """Stores in call order (seq per call). `gate` cleared holds every send before its commit;
    `permits` lets that many held sends through meanwhile."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.gate.set()
        self.permits = asyncio.Semaphore(0)
        self.calls: list[SendCommand] = []
        self.stored: list[str] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.refuse: set[str] = set()

    async def send(self, principal: Principal, cmd: SendCommand) -> SendResult:
        self.calls.append(cmd)
        if cmd.client_msg_id in self.refuse:
            raise ValidationFailed("refused", field="body")
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            gate = asyncio.ensure_future(self.gate.wait())
            permit = asyncio.ensure_future(self.permits.acquire())
            await asyncio.wait((gate, permit), return_when=asyncio.FIRST_COMPLETED)
            if not permit.done():
                permit.cancel()
            elif gate.done() and permit.done():
                self.permits.release()  # not needed after all: leave it for the next
            gate.cancel()
        finally:
            self.in_flight -= 1
        self.stored.append(cmd.client_msg_id)
        record = SimpleNamespace(
            conversation_id=cmd.conversation_id,
            client_msg_id=cmd.client_msg_id,
            seq=len(self.stored),
            id=len(self.stored),
            created_at=0,
        )
        return SendResult(record, duplicate=False)  # type: ignore[arg-type]


class FakePresence:
    def __init__(self, messages: FakeMessages) -> None:
        self.typing_saw_stored: list[int] = []
        self._messages = messages

    async def typing(self, principal: Principal, conversation_id: uuid.UUID) -> None:
        self.typing_saw_stored.append(len(self._messages.stored))

    async def disconnected(self, principal: Principal, connection_id: str) -> None:
        return None


def pipelined_connection(
    ws: FakeWebSocket, in_flight: int = 32
) -> tuple[Connection, FakeMessages, FakePresence]:
    messages = FakeMessages()
    presence = FakePresence(messages)
    container = SimpleNamespace(
        settings=Settings(ws_sends_in_flight=in_flight),
        clock=SimpleNamespace(monotonic=time.monotonic),
        metrics=SimpleNamespace(ws_closes=_Counter(), errors=_Counter()),
        messages=messages,
        presence=presence,
        fanout=SimpleNamespace(unsubscribe=lambda _conn: None),
    )
    registry = SimpleNamespace(
        limits=p.ProtocolLimits(frame_burst=1000, frames_per_second=1000.0),
        framed=text_frame,
        remove=lambda _conn: None,
    )
    conn = Connection(ws, container, registry)  # type: ignore[arg-type]
    conn.protocol.state = p.State.READY
    conn.principal = Principal(
        user_id=uuid.uuid4(), device_id=uuid.uuid4(), session_id=uuid.uuid4()
    )
    return conn, messages, presence


def cmid(i: int) -> str:
    return f"{i:032x}"


def send_frame(i: int) -> dict[str, Any]:
    text = orjson.dumps(
        {
            "type": "message.send",
            "ref": f"r{i}",
            "conversation_id": str(CONV),
            "client_msg_id": cmid(i),
            "body": f"message {i}",
        }
    ).decode()
    return {"type": "websocket.receive", "text": text}


def received(ws: FakeWebSocket) -> list[dict[str, Any]]:
    return [orjson.loads(t) for t in ws.sent]


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def serve_held(
    conn: Connection, ws: FakeWebSocket, messages: FakeMessages, sends: int
) -> asyncio.Task[None]:
    """Holds every commit, starts serving and queues `sends` message.send frames (r0, r1, …)."""
    messages.gate.clear()
    serving = asyncio.create_task(conn.serve())
    for i in range(sends):
        ws.inbox.put_nowait(send_frame(i))
    return serving


async def release_all(messages: FakeMessages) -> None:
    """Lets every held commit through and gives the acks time to be written."""
    messages.gate.set()
    await settle()
    await asyncio.sleep(0.01)


async def hang_up(ws: FakeWebSocket, serving: asyncio.Task[None]) -> None:
    ws.disconnect()
    await asyncio.wait_for(serving, 5)


async def test_fifty_sends_written_without_waiting_are_all_acked_in_order() -> None:
    ws = FakeWebSocket()
    conn, messages, _ = pipelined_connection(ws)
    serving = serve_held(conn, ws, messages, 50)
    await settle()
    assert messages.most_in_flight == 32  # read on while earlier sends wait, up to the bound
    await release_all(messages)
    acks = received(ws)
    assert [a["ref"] for a in acks] == [f"r{i}" for i in range(50)]
    assert [a["seq"] for a in acks] == list(range(1, 51))
    # Handed to the service (and so to the group commit) in the order the socket sent them.
    assert [c.client_msg_id for c in messages.calls] == [cmid(i) for i in range(50)]
    assert {c.origin for c in messages.calls} == {conn.id}
    await hang_up(ws, serving)


async def test_reading_stops_at_the_in_flight_bound_and_resumes_when_one_is_acked() -> None:
    ws = FakeWebSocket()
    conn, messages, _ = pipelined_connection(ws, in_flight=4)
    serving = serve_held(conn, ws, messages, 10)
    await settle()
    assert (messages.in_flight, len(messages.calls)) == (4, 4)
    # The 5th frame was read and waits for room; the other 5 are still unread on the socket.
    assert ws.inbox.qsize() == 5
    assert ws.sent == []
    # One commit frees one place: exactly one more send starts, still none beyond the bound.
    messages.permits.release()
    await settle()
    assert (messages.in_flight, len(messages.calls), len(messages.stored)) == (4, 5, 1)
    assert ws.inbox.qsize() == 4
    assert [a["ref"] for a in received(ws)] == ["r0"]
    await release_all(messages)
    assert [a["ref"] for a in received(ws)] == [f"r{i}" for i in range(10)]
    assert messages.most_in_flight == 4
    assert conn._sends is None  # nothing in flight: no set kept
    await hang_up(ws, serving)


async def test_a_refused_send_among_good_ones_fails_alone_with_its_ref() -> None:
    ws = FakeWebSocket()
    conn, messages, _ = pipelined_connection(ws)
    messages.refuse.add(cmid(2))
    serving = serve_held(conn, ws, messages, 5)
    await settle()
    await release_all(messages)
    frames = {f["ref"]: f for f in received(ws)}
    assert set(frames) == {f"r{i}" for i in range(5)}
    assert (frames["r2"]["type"], frames["r2"]["code"]) == ("error", "validation_failed")
    assert [frames[f"r{i}"]["type"] for i in (0, 1, 3, 4)] == ["message.ack"] * 4
    assert messages.stored == [cmid(i) for i in (0, 1, 3, 4)]
    await hang_up(ws, serving)


async def test_other_commands_wait_for_the_sends_before_them() -> None:
    ws = FakeWebSocket()
    conn, messages, presence = pipelined_connection(ws)
    serving = serve_held(conn, ws, messages, 3)
    typing = orjson.dumps({"type": "typing", "conversation_id": str(CONV)}).decode()
    ws.inbox.put_nowait({"type": "websocket.receive", "text": typing})
    ws.inbox.put_nowait(send_frame(3))
    await settle()
    assert presence.typing_saw_stored == []  # held behind the three sends
    assert len(messages.calls) == 3  # and the send after it behind the typing
    await release_all(messages)
    assert presence.typing_saw_stored == [3]
    assert messages.stored == [cmid(i) for i in range(4)]
    await hang_up(ws, serving)


async def test_sends_in_flight_at_a_disconnect_are_stored_and_nothing_is_written() -> None:
    ws = FakeWebSocket()
    conn, messages, _ = pipelined_connection(ws)
    serving = serve_held(conn, ws, messages, 5)
    ws.disconnect()
    await settle()
    assert messages.in_flight == 5
    assert not serving.done()  # the socket is let go only once its sends finished
    messages.gate.set()
    await asyncio.wait_for(serving, 5)
    assert messages.stored == [cmid(i) for i in range(5)]
    assert ws.sent == []  # the peer is gone: no acks written
