"""The socket layer: moves frames between a Starlette WebSocket and `GatewayProtocol`, runs the
commands it asks for through the services, and owns the bounded send queue.

No protocol decisions are made here; they all live in protocol.py (tested without sockets).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import Sequence
from typing import Any

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from hushroom.access import origin_allowed
from hushroom.container import Container
from hushroom.errors import HushroomError
from hushroom.events.event import Event
from hushroom.fanout.base import Subscriber, stale_event
from hushroom.gateway import protocol as p
from hushroom.gateway.wire import FULL, WIRE_EXTENSION, WireProtocol, text_frame
from hushroom.principal import Principal
from hushroom.services.messages import SendCommand
from hushroom.services.presence import presence_view
from hushroom.services.revocations import SESSION_REVOKED
from hushroom.services.views import message_view

log = logging.getLogger("hushroom.gateway")

_CLOSE = object()  # queue sentinel: flush what precedes, then close
# Longest wait, when a socket ends, for its sends in flight to be stored.
_SENDS_DRAIN_S = 10.0


# How long authentication waits for the socket's fan-out subscription to take effect.
SUBSCRIBE_WAIT_S = 2.0


class Connection:
    """One authenticated-or-not WebSocket; a fan-out subscriber once authenticated.

    Memory per idle socket is budgeted (≤ 25 KB, docs/decisions/0004), so a connection holds
    no task, queue or buffer while it has nothing to send: the handler's own task reads.

    Under `hushroom serve` frames are written straight to the transport (`wire.py`), whose
    buffer is the send queue; elsewhere a writer task and its queue exist only while frames are
    waiting. A close always goes through ASGI, after every frame queued before it.
    """

    __slots__ = (
        "_close_code",
        "_close_reason",
        "_closing",
        "_out",
        "_sends",
        "_wire",
        "_writer",
        "c",
        "id",
        "principal",
        "protocol",
        "registry",
        "ws",
    )

    def __init__(
        self, websocket: WebSocket, container: Container, registry: ConnectionRegistry
    ) -> None:
        self.ws = websocket
        self.c = container
        self.registry = registry
        self.id = uuid.uuid4().hex
        self.protocol = p.GatewayProtocol(registry.limits, container.clock.monotonic())
        # Frames waiting for the writer (bounded by settings.ws_send_queue), and the writer
        # task draining them; both None while nothing is waiting.
        self._out: deque[Any] | None = None
        self._writer: asyncio.Task[None] | None = None
        wire = websocket.scope.get("extensions", {}).get(WIRE_EXTENSION)
        self._wire: WireProtocol | None = wire if isinstance(wire, WireProtocol) else None
        self.principal: Principal | None = None
        self._closing = False
        self._close_code = 1000
        self._close_reason = ""
        # The `message.send` tasks in flight (pipelining), None while there are none.
        self._sends: set[asyncio.Task[None]] | None = None

    # Subscriber protocol ------------------------------------------------------------------
    @property
    def user_id(self) -> uuid.UUID:
        assert self.principal is not None
        return self.principal.user_id

    def deliver(self, event: Event) -> None:
        wire = self._wire
        if wire is None or event.type == SESSION_REVOKED:
            self._apply_sync(self.protocol.event(event, self.id))
        elif not self._closing and self.protocol.accepts(event, self.id):
            # The per-delivery path of a room message to every member: no effect objects, the
            # frame's bytes made once for all recipients, one write.
            written = wire.write(self.registry.event_frame(event), self.c.settings.ws_send_queue)
            if written:
                self._not_written(written)

    @staticmethod
    def deliver_many(event: Event, subscribers: Sequence[Subscriber]) -> None:
        """`deliver` to each (the fan-out hub's bulk call for one event): one loop, the frame
        made once, no per-socket method chain. Other subscriber types get their own `deliver`."""
        if event.type == SESSION_REVOKED:
            for sub in subscribers:
                sub.deliver(event)
            return
        frame: bytes | None = None
        limit = 0
        for sub in subscribers:
            if type(sub) is not Connection or sub._wire is None:
                sub.deliver(event)
            elif not sub._closing and sub.protocol.accepts(event, sub.id):
                if frame is None:
                    frame = sub.registry.event_frame(event)
                    limit = sub.c.settings.ws_send_queue
                written = sub._wire.write(frame, limit)
                if written:
                    sub._not_written(written)

    # Effects --------------------------------------------------------------------------------
    def _enqueue(self, item: Any) -> None:
        if self._closing:
            return
        wire = self._wire
        if wire is not None and item is not _CLOSE:
            self._write_wire(wire, self.registry.framed(item))
            return
        out = self._out
        if out is None:
            out = self._out = deque()
        elif 0 < self.c.settings.ws_send_queue <= len(out):  # 0: unbounded, as asyncio.Queue
            self._overflow()
            return
        out.append(item)
        if self._writer is None:
            self._writer = asyncio.create_task(self._write())

    def _write_wire(self, wire: WireProtocol, frame: bytes) -> None:
        written = wire.write(frame, self.c.settings.ws_send_queue)
        if written:
            self._not_written(written)

    def _not_written(self, written: int) -> None:
        if written == FULL:
            self._overflow()
        else:  # CLOSED: the peer is gone or leaving, nothing more to send
            self._closing = True

    def _overflow(self) -> None:
        """Slow consumer: never buffer without bound. It reconnects and resyncs."""
        for effect in self.protocol.overflow():
            if isinstance(effect, p.Close):
                self._force_close(effect.code, effect.reason)

    def _force_close(self, code: int, reason: str) -> None:
        self._closing = True
        self._close_code, self._close_reason = code, reason
        out = self._out
        if out is None:
            out = self._out = deque()
        out.clear()
        out.append(_CLOSE)
        if self._writer is None:
            self._writer = asyncio.create_task(self._write())

    def _apply_sync(self, effects: list[p.Effect]) -> list[p.Effect]:
        """Carry out frame/close effects; return the commands that need the services."""
        commands: list[p.Effect] = []
        for effect in effects:
            if isinstance(effect, p.SendFrame):
                text = effect.text
                if text is None and effect.frame.get("type") == "error":
                    # Every error frame: a failed command, junk input, a refused ticket…
                    self.c.metrics.errors.labels(effect.frame["code"], "ws").inc()
                self._enqueue(text if text is not None else orjson.dumps(effect.frame).decode())
            elif isinstance(effect, p.Close):
                if not self._closing:
                    self._enqueue(_CLOSE)
                    self._closing = True
                    self._close_code, self._close_reason = effect.code, effect.reason
            else:
                commands.append(effect)
        return commands

    async def _apply(self, effects: list[p.Effect]) -> None:
        for command in self._apply_sync(effects):
            await self._run(command)

    async def _dispatch(self, effects: list[p.Effect]) -> None:
        """Effects of a received frame. A send starts as a task and reading goes on (up to
        `ws_sends_in_flight` per socket, then reading waits: back-pressure); any other command
        waits for the sends before it, so its order relative to them holds."""
        for command in self._apply_sync(effects):
            if isinstance(command, p.SendMessage):
                await self._start_send(command)
            else:
                await self._settle_sends()
                await self._run(command)

    async def _start_send(self, command: p.SendMessage) -> None:
        limit = self.c.settings.ws_sends_in_flight
        while self._sends is not None and len(self._sends) >= limit:
            await asyncio.wait(tuple(self._sends), return_when=asyncio.FIRST_COMPLETED)
        sends = self._sends
        if sends is None:
            sends = self._sends = set()
        # Tasks start in creation order and each submits to the group commit before its first
        # await, so the socket's sends reach the batch queue in the order they were read.
        sends.add(asyncio.create_task(self._send(command)))

    async def _settle_sends(self) -> None:
        while self._sends:
            await asyncio.wait(tuple(self._sends))

    async def _send(self, command: p.SendMessage) -> None:
        """One `message.send`: store it, then ack it (or an error frame with its ref). Runs to
        its end even when the socket closes meanwhile; a closed protocol writes nothing."""
        principal = self.principal
        assert principal is not None
        ref = command.ref
        try:
            result = await self.c.messages.send(
                principal,
                SendCommand(
                    command.conversation_id,
                    command.client_msg_id,
                    command.body,
                    command.generation,
                    command.ciphertext,
                    origin=self.id,
                ),
            )
            m = result.message
            self._apply_sync(
                self.protocol.message_sent(
                    ref=ref,
                    conversation_id=m.conversation_id,
                    client_msg_id=m.client_msg_id,
                    seq=m.seq,
                    message_id=m.id,
                    created_at=m.created_at,
                    duplicate=result.duplicate,
                )
            )
        except HushroomError as exc:
            self._apply_sync(self.protocol.command_failed(ref, exc, self.c.clock.monotonic()))
        except Exception as exc:
            log.error("gateway error", extra={"error_type": type(exc).__name__})
            self._apply_sync(self.protocol.internal_error())
        finally:
            sends = self._sends
            current = asyncio.current_task()
            if sends is not None and current is not None:
                sends.discard(current)
                if not sends:
                    self._sends = None

    async def _finish_sends(self) -> None:
        """The socket is gone or the server stops: let the sends in flight finish storing (a
        retry after reconnect then gets duplicate acks), waiting at most a bounded time."""
        sends = self._sends
        if sends:
            await asyncio.wait(tuple(sends), timeout=_SENDS_DRAIN_S)

    async def _run(self, command: p.Effect) -> None:
        now = self.c.clock.monotonic
        if isinstance(command, p.Authenticate):
            await self._authenticate(command.ticket)
            return
        principal = self.principal
        assert principal is not None
        if isinstance(command, p.SendMessage):
            await self._send(command)
            return
        ref = command.ref if isinstance(command, p.WatchPresence) else None
        try:
            if isinstance(command, p.Resume):
                await self._resume(principal, command.positions)
            elif isinstance(command, p.Typing):
                await self.c.presence.typing(principal, command.conversation_id)
            elif isinstance(command, p.MarkRead):
                await self.c.messages.mark_read(principal, command.conversation_id, command.seq)
            elif isinstance(command, p.SetPresence):
                await self.c.presence.set_status(principal, self.id, command.status)
            elif isinstance(command, p.WatchPresence):
                infos = await self.c.presence.watch(principal, self.id, command.user_ids)
                await self._apply(
                    self.protocol.presence_snapshot(ref, [presence_view(i) for i in infos])
                )
        except HushroomError as exc:
            await self._apply(self.protocol.command_failed(ref, exc, now()))

    async def _authenticate(self, ticket: str) -> None:
        now = self.c.clock.monotonic
        try:
            principal = await self.c.sessions.redeem_ticket(ticket)
        except HushroomError:
            await self._apply(self.protocol.authentication_failed(now()))
            return
        if self.registry.count(principal.user_id) >= self.c.settings.max_connections_per_user:
            await self._apply(self.protocol.authentication_failed(now()))
            return
        self.principal = principal
        await self._apply(self.protocol.authenticated(principal, now()))
        # Subscribe before any resume query, so nothing committed after it can fall between.
        self.registry.add(self)
        self.c.fanout.subscribe(self)
        # With Redis the SUBSCRIBE is asynchronous; wait (bounded: Redis may be down or slow)
        # until it is in effect. Past the bound, an event published before it takes effect
        # reaches nobody here, and this socket's resume may be answered before then: once it is
        # in effect, the socket is told to resume again (`sync.stale`).
        synced = asyncio.ensure_future(self.c.fanout.sync())
        try:
            await asyncio.wait_for(asyncio.shield(synced), SUBSCRIBE_WAIT_S)
        except TimeoutError:
            synced.add_done_callback(self._subscribed_late)
        # Revoked between the ticket's redemption and the subscription: its event was missed.
        if self.c.revocations.is_revoked(principal.session_id):
            self.deliver(_revoked_event(principal))
            return
        await self.c.presence.connected(principal, self.id)

    def _subscribed_late(self, synced: asyncio.Future[None]) -> None:
        if synced.cancelled() or synced.exception() is not None:
            return  # stopped, or Redis gone: its return announces `sync.stale` to everyone here
        principal = self.principal
        if principal is not None and not self._closing:
            self.deliver(stale_event(frozenset({principal.user_id}), sockets=0))

    async def _resume(self, principal: Principal, positions: dict[uuid.UUID, int]) -> None:
        plan = await self.c.messages.missed(
            principal, positions, self.c.settings.resume_max_messages
        )
        for conv_id, msgs, high in plan.batches:
            frames = [{"type": "message.new", "message": message_view(m)} for m in msgs]
            await self._apply(self.protocol.resume_batch(conv_id, frames, high))
        for conv_id, after, last in plan.gaps:
            await self._apply(self.protocol.resume_gap(conv_id, after, last))
        await self._apply(self.protocol.resume_done())

    # Reading and writing ----------------------------------------------------------------------
    async def _write(self) -> None:
        """Send the waiting frames in order, then exit (the next frame starts a new writer)."""
        out = self._out
        assert out is not None
        try:
            while out:
                item = out.popleft()
                if item is _CLOSE:
                    self.c.metrics.ws_closes.labels(str(self._close_code)).inc()
                    with contextlib.suppress(Exception):
                        await self.ws.close(self._close_code, self._close_reason)
                    return
                await self.ws.send_text(item)
        except Exception:
            # The peer vanished mid-write: send nothing more. The reader sees the disconnect
            # (and a command it is running finishes first).
            self._closing = True
            out.clear()
        finally:
            self._writer = None
            if not out:
                self._out = None

    async def _read(self) -> None:
        clock = self.c.clock
        ws = self.ws
        protocol = self.protocol
        while not self._closing:
            deadline = protocol.deadline
            if deadline is None:
                message = await ws.receive()
            else:
                try:
                    message = await asyncio.wait_for(
                        ws.receive(), max(0.0, deadline - clock.monotonic())
                    )
                except TimeoutError:
                    await self._apply(protocol.tick(clock.monotonic()))
                    continue
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("text")
            if data is None:
                data = message.get("bytes") or b""
            await self._dispatch(protocol.receive(data, clock.monotonic()))

    async def serve(self) -> None:
        """Read in the handler's task until the peer leaves or a close is queued.

        A command runs to its end inside the read loop, so one in a transaction finishes even
        when the peer disappears meanwhile; the loop then sees the disconnect (or `_closing`).
        Sends run beside the loop; they too finish (bounded) before the socket is let go.
        """
        try:
            try:
                await self._read()
            except (WebSocketDisconnect, RuntimeError):
                pass  # the peer is gone (RuntimeError: receive after the disconnect)
            except Exception as exc:
                log.error("gateway error", extra={"error_type": type(exc).__name__})
                self._apply_sync(self.protocol.internal_error())
            writer = self._writer
            if self._closing and writer is not None:
                # Let the writer flush up to the close.
                with contextlib.suppress(TimeoutError, Exception):
                    await asyncio.wait_for(asyncio.shield(writer), 5)
        finally:
            writer = self._writer
            if writer is not None:
                writer.cancel()
                with contextlib.suppress(BaseException):
                    await writer
            self.protocol.connection_closed()
            try:
                await self._finish_sends()
            finally:
                await self._cleanup()

    async def _cleanup(self) -> None:
        if self.principal is None:
            return
        self.c.fanout.unsubscribe(self)
        self.registry.remove(self)
        with contextlib.suppress(HushroomError):
            await self.c.presence.disconnected(self.principal, self.id)

    def shutdown(self, reconnect_within_ms: int) -> None:
        self._apply_sync(self.protocol.shutdown(reconnect_within_ms))


class ConnectionRegistry:
    """Live connections of this process: per-user limits and graceful shutdown."""

    def __init__(self, container: Container) -> None:
        # Shared by every connection's protocol (immutable).
        self.limits = p.ProtocolLimits.from_settings(container.settings)
        # The last text framed for the wire: an event's text is one shared object, so a room
        # message is framed once for all its recipients here.
        self._framed_text: str | None = None
        self._framed: bytes = b""
        # The same for the last event (a cheaper check per recipient than its text's identity).
        self._event: Event | None = None
        self._event_frame = b""
        self._by_user: dict[uuid.UUID, set[Connection]] = {}
        self._metrics = container.metrics
        container.revocations.on_reloaded(self.end_sessions)

    def add(self, conn: Connection) -> None:
        self._by_user.setdefault(conn.user_id, set()).add(conn)
        self._metrics.ws_connections.inc()

    def remove(self, conn: Connection) -> None:
        conns = self._by_user.get(conn.user_id)
        if conns is not None and conn in conns:
            conns.discard(conn)
            self._metrics.ws_connections.dec()
            if not conns:
                del self._by_user[conn.user_id]

    def framed(self, text: str) -> bytes:
        if text is not self._framed_text:
            self._framed = text_frame(text)
            self._framed_text = text
        return self._framed

    def event_frame(self, event: Event) -> bytes:
        """The frame of an event's text, made once for all its recipients."""
        if event is not self._event:
            self._event_frame = self.framed(event.frame_text())
            self._event = event
        return self._event_frame

    def count(self, user_id: uuid.UUID) -> int:
        return len(self._by_user.get(user_id, ()))

    def end_sessions(self, session_ids: set[uuid.UUID]) -> None:
        """Close the sockets of sessions found revoked by a reload (ended while this node
        could not hear of it: services/revocations.py)."""
        for conns in list(self._by_user.values()):
            for conn in list(conns):
                if conn.principal is not None and conn.principal.session_id in session_ids:
                    conn.deliver(_revoked_event(conn.principal))

    def shutdown_all(self) -> None:
        within_ms = p.reconnect_spread_ms(sum(len(c) for c in self._by_user.values()))
        for conns in list(self._by_user.values()):
            for conn in list(conns):
                conn.shutdown(within_ms)


def _revoked_event(principal: Principal) -> Event:
    return Event(
        type=SESSION_REVOKED,
        payload={"user_id": str(principal.user_id), "session_ids": [str(principal.session_id)]},
        recipients=frozenset({principal.user_id}),
    )


async def handle(websocket: WebSocket, container: Container, registry: ConnectionRegistry) -> None:
    if not origin_allowed(websocket.scope, container.settings.allowed_origins):
        # Closing before accept refuses the handshake (HTTP 403).
        await websocket.close(code=1008)
        return
    await websocket.accept()
    conn = Connection(websocket, container, registry)
    try:
        await conn.serve()
    finally:
        if websocket.client_state is WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await websocket.close(1011)
