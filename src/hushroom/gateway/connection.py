"""The socket layer: moves frames between a Starlette WebSocket and `GatewayProtocol`, runs the
commands it asks for through the services, and owns the bounded send queue.

No protocol decisions are made here; they all live in protocol.py (tested without sockets).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from hushroom.container import Container
from hushroom.errors import HushroomError
from hushroom.events.event import Event
from hushroom.gateway import protocol as p
from hushroom.principal import Principal
from hushroom.services.messages import SendCommand
from hushroom.services.views import message_view

log = logging.getLogger("hushroom.gateway")

_CLOSE = object()  # queue sentinel: flush what precedes, then close


def origin_allowed(websocket: WebSocket, allowed: list[str]) -> bool:
    """Browsers always send Origin; it must be one of ours. Non-browser clients (SDK, bots)
    send none and authenticate with a ticket like everyone else."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    if origin in allowed:
        return True
    # The server's own origin (whatever host name it is reached by) is always allowed.
    host = websocket.headers.get("host")
    scheme = "https" if websocket.url.scheme == "wss" else "http"
    return host is not None and origin == f"{scheme}://{host}"


class Connection:
    """One authenticated-or-not WebSocket; a fan-out subscriber once authenticated."""

    def __init__(
        self, websocket: WebSocket, container: Container, registry: ConnectionRegistry
    ) -> None:
        self.ws = websocket
        self.c = container
        self.registry = registry
        self.id = uuid.uuid4().hex
        self.protocol = p.GatewayProtocol(
            p.ProtocolLimits.from_settings(container.settings), container.clock.monotonic()
        )
        self.queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=container.settings.ws_send_queue)
        self.principal: Principal | None = None
        self._closing = False
        self._close_code = 1000
        self._close_reason = ""

    # Subscriber protocol ------------------------------------------------------------------
    @property
    def user_id(self) -> uuid.UUID:
        assert self.principal is not None
        return self.principal.user_id

    def deliver(self, event: Event) -> None:
        self._apply_sync(self.protocol.event(event))

    # Effects --------------------------------------------------------------------------------
    def _enqueue(self, item: Any) -> None:
        if self._closing:
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            # Slow consumer: never buffer without bound. It reconnects and resyncs.
            for effect in self.protocol.overflow():
                if isinstance(effect, p.Close):
                    self._force_close(effect.code, effect.reason)

    def _force_close(self, code: int, reason: str) -> None:
        self._closing = True
        self._close_code, self._close_reason = code, reason
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(_CLOSE)

    def _apply_sync(self, effects: list[p.Effect]) -> list[p.Effect]:
        """Carry out frame/close effects; return the commands that need the services."""
        commands: list[p.Effect] = []
        for effect in effects:
            if isinstance(effect, p.SendFrame):
                text = effect.text
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

    async def _run(self, command: p.Effect) -> None:
        now = self.c.clock.monotonic
        if isinstance(command, p.Authenticate):
            await self._authenticate(command.ticket)
            return
        principal = self.principal
        assert principal is not None
        ref = command.ref if isinstance(command, p.SendMessage) else None
        try:
            if isinstance(command, p.SendMessage):
                result = await self.c.messages.send(
                    principal,
                    SendCommand(
                        command.conversation_id,
                        command.client_msg_id,
                        command.body,
                        command.generation,
                        command.ciphertext,
                    ),
                )
                m = result.message
                await self._apply(
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
            elif isinstance(command, p.Resume):
                await self._resume(principal, command.positions)
            elif isinstance(command, p.Typing):
                await self.c.presence.typing(principal, command.conversation_id)
            elif isinstance(command, p.MarkRead):
                await self.c.messages.mark_read(principal, command.conversation_id, command.seq)
            elif isinstance(command, p.SetPresence):
                await self.c.presence.set_status(principal, self.id, command.status)
        except HushroomError as exc:
            self.c.metrics.errors.labels(exc.code).inc()
            await self._apply(self.protocol.command_failed(ref, exc, now()))

    async def _authenticate(self, ticket: str) -> None:
        now = self.c.clock.monotonic
        try:
            principal = await self.c.accounts.redeem_ticket(ticket)
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
        # With Redis the SUBSCRIBE is asynchronous; wait (bounded: Redis may be down, and the
        # database catch-up covers that case) until it is in effect.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.c.fanout.sync(), 2.0)
        await self.c.presence.connected(principal, self.id)

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

    # Tasks ------------------------------------------------------------------------------------
    async def _writer(self) -> None:
        while True:
            item = await self.queue.get()
            if item is _CLOSE:
                self.c.metrics.ws_closes.labels(str(self._close_code)).inc()
                with contextlib.suppress(Exception):
                    await self.ws.close(self._close_code, self._close_reason)
                return
            await self.ws.send_text(item)

    async def _reader(self) -> None:
        clock = self.c.clock
        while not self._closing:
            deadline = self.protocol.deadline
            timeout = None if deadline is None else max(0.0, deadline - clock.monotonic())
            try:
                message = await asyncio.wait_for(self.ws.receive(), timeout)
            except TimeoutError:
                await self._apply(self.protocol.tick(clock.monotonic()))
                continue
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("text")
            if data is None:
                data = message.get("bytes") or b""
            await self._apply(self.protocol.receive(data, clock.monotonic()))

    async def serve(self) -> None:
        writer = asyncio.create_task(self._writer())
        reader = asyncio.create_task(self._reader())
        try:
            done, _pending = await asyncio.wait(
                {writer, reader}, return_when=asyncio.FIRST_COMPLETED
            )
            if reader in done:
                exc = reader.exception()
                if exc is not None and not isinstance(exc, WebSocketDisconnect | RuntimeError):
                    log.error("gateway error", extra={"error_type": type(exc).__name__})
                    self._apply_sync(self.protocol.internal_error())
                if self._closing:
                    # Let the writer flush up to the close sentinel.
                    with contextlib.suppress(TimeoutError, Exception):
                        await asyncio.wait_for(asyncio.shield(writer), 5)
            else:
                # The writer stopped (close sent, or the peer vanished mid-write). The reader may
                # be running a command inside a transaction: let it finish instead of cancelling.
                await asyncio.wait({reader}, timeout=5)
        finally:
            for task in (reader, writer):
                task.cancel()
            for task in (reader, writer):
                with contextlib.suppress(BaseException):
                    await task
            self.protocol.connection_closed()
            await self._cleanup()

    async def _cleanup(self) -> None:
        if self.principal is None:
            return
        self.c.fanout.unsubscribe(self)
        self.registry.remove(self)
        with contextlib.suppress(HushroomError):
            await self.c.presence.disconnected(self.principal, self.id)

    def shutdown(self) -> None:
        self._apply_sync(self.protocol.shutdown())


class ConnectionRegistry:
    """Live connections of this process: per-user limits and graceful shutdown."""

    def __init__(self, container: Container) -> None:
        self._by_user: dict[uuid.UUID, set[Connection]] = {}
        self._metrics = container.metrics

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

    def count(self, user_id: uuid.UUID) -> int:
        return len(self._by_user.get(user_id, ()))

    def shutdown_all(self) -> None:
        for conns in list(self._by_user.values()):
            for conn in list(conns):
                conn.shutdown()


async def handle(websocket: WebSocket, container: Container, registry: ConnectionRegistry) -> None:
    if not origin_allowed(websocket, container.settings.allowed_origins):
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
