"""One WebSocket per client: ticket auth, resume, ordered and deduplicated events, acked sends.

`Realtime` keeps one socket to `/ws` open (docs/protocol.md § WebSocket):

- connect: fetch a single-use ticket over HTTP, send `{"type": "auth", "ticket": …}` as the first
  frame and wait for `ready`; then send `resume` with the last seq of every tracked conversation and
  re-send every unacknowledged message (same `client_msg_id`, so a retry never stores twice);
- on any drop, reconnect with exponential backoff and jitter (a refused handshake, a revoked
  session or repeated auth failures stop it: `ConnectionFailed`); after a server restart's close
  (1012) at a random moment within its `reconnect_within_ms` hint instead;
- messages are delivered once each and in seq order per conversation (`Sequencer`); a seq jump is a
  hole filled over HTTP, as is a `sync.gap`;
- `sync.stale` (the server's fan-out lost events) sends `resume` again after a random part of its
  `within_ms`, so the last messages of a conversation are not left missing;
- `send` matches `message.ack` / `error` to the pending send by `ref` (= its client_msg_id) and
  retries until acknowledged. Sends are pipelined: each waits for its own ack only. The server
  sends no `message.new` for this socket's own sends (protocol 2): the ack becomes the message,
  delivered in seq order like any other (the client's other sockets get the server's copy).

Iterate the events with `async for event in realtime` or `await realtime.next_event()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.typing import Origin

from hushroom.client.errors import ApiError, ClientClosed, ConnectionFailed, RealtimeError
from hushroom.client.events import (
    Connected,
    Disconnected,
    MessageEvent,
    RealtimeEvent,
    ServerEvent,
)
from hushroom.client.handshake import fetch_ticket
from hushroom.client.http import HttpClient
from hushroom.client.models import (
    HistoryPage,
    Id,
    Message,
    SendAck,
    b64url_encode,
    id_str,
    new_client_msg_id,
)
from hushroom.client.pacing import Backoff, RateLimit, restart_spread_s
from hushroom.client.sequencer import Sequencer

log = logging.getLogger("hushroom.client")

PAGE_LIMIT: Final = 200
# Consecutive failed auths (bad ticket, too many connections) before giving up.
MAX_AUTH_FAILURES: Final = 5
CLOSE_POLICY_VIOLATION: Final = 1008


# --- internals -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Pending:
    client_msg_id: str
    data: str = field(repr=False)
    future: asyncio.Future[SendAck] = field(repr=False)
    # Loop time at which to (re)send; pushed back after each transmission.
    due: float = 0.0
    # What was sent, to deliver our own copy once acked (the server sends no echo).
    body: str | None = field(default=None, repr=False)
    envelope: tuple[int, bytes] | None = field(default=None, repr=False)


class _Fatal(Exception):
    def __init__(self, error: ConnectionFailed) -> None:
        super().__init__(str(error))
        self.error = error


def _fail(future: asyncio.Future[Any], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)
        # Whoever awaits still gets it; nobody awaiting is not an error worth logging.
        future.exception()


class Realtime:
    """The realtime connection of one logged-in client (see the module docstring)."""

    def __init__(
        self,
        http: HttpClient,
        ws_url: str,
        *,
        origin: str | None = None,
        backoff: Backoff | None = None,
        ack_timeout: float = 10.0,
        frames_per_second: float = 25.0,
        frame_burst: int = 50,
        max_frame_bytes: int = 128 * 1024,
    ) -> None:
        self._http = http
        self._ws_url = ws_url
        self._origin = origin
        self._backoff = backoff or Backoff()
        self._ack_timeout = ack_timeout
        self._max_frame_bytes = max_frame_bytes
        self._limit = RateLimit(frames_per_second, frame_burst)
        self._seq = Sequencer()
        self._pending: dict[str, _Pending] = {}
        self._events: asyncio.Queue[RealtimeEvent | None] = asyncio.Queue()
        self._ws: ClientConnection | None = None
        self._ready = asyncio.Event()
        self._resuming = False
        # Loop time at which to send `resume` again (after a `sync.stale`), or None.
        self._resume_due: float | None = None
        self._rng = random.SystemRandom()
        # A restarting server's spread for the next reconnect (seconds), instead of the backoff.
        self._restart_spread: float | None = None
        self._connections = 0
        # Who this socket is (from `ready`): the sender of the messages it acks.
        self._me: tuple[uuid.UUID, uuid.UUID] | None = None
        self._auth_failures = 0
        self._fatal: ConnectionFailed | None = None
        self._closed = False
        self._tasks: list[asyncio.Task[None]] = []
        # The users whose presence this client watches (`presence.watch`), sent on every connect.
        self._watched: list[str] = []

    def __repr__(self) -> str:
        return f"Realtime({self._ws_url!r}, connected={self.connected})"

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._ready.is_set()

    @property
    def started(self) -> bool:
        """`start` was called (and neither `pause` nor `aclose` since)."""
        return bool(self._tasks) and not self._closed

    async def start(self) -> None:
        """Connect (in the background from now on) and wait for the first `ready`.

        Bound the wait with `asyncio.timeout`; a refused connection raises `ConnectionFailed`.
        """
        if self._closed:
            raise ClientClosed("this realtime connection was closed")
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._run(), name="hushroom-realtime"),
                asyncio.create_task(self._retransmit(), name="hushroom-retransmit"),
            ]
        await self.wait_connected()

    async def wait_connected(self) -> None:
        """Wait until the socket is ready; raises `ConnectionFailed` if it never will be."""
        while not self._ready.is_set():
            if self._fatal is not None:
                raise self._fatal
            if self._closed:
                raise ClientClosed("this realtime connection was closed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), 0.1)

    async def aclose(self) -> None:
        """Close the socket, stop reconnecting and fail the sends still waiting for an ack."""
        if self._closed:
            return
        self._closed = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        for pending in self._pending.values():
            _fail(pending.future, ClientClosed("closed before the server acknowledged"))
        self._pending.clear()
        self._events.put_nowait(None)

    async def pause(self) -> None:
        """Close the socket and stop reconnecting until `start` (positions and outbox are kept).

        The next `start` resumes from the positions: whatever was sent meanwhile is delivered.
        """
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if tasks:
            self._emit(Disconnected(1000, "paused"))

    async def drop_connection(self) -> None:
        """Cut the TCP connection without a close handshake (simulates a network loss)."""
        ws = self._ws
        if ws is not None:
            ws.transport.abort()

    # --- positions ---------------------------------------------------------------------------

    def track(self, conversation_id: Id, last_seq: int = 0) -> None:
        """Follow a conversation from `last_seq` (0 = its whole history) on every resume."""
        self._seq.track(uuid.UUID(id_str(conversation_id)), last_seq)

    def last_seq(self, conversation_id: Id) -> int | None:
        return self._seq.last_seq(uuid.UUID(id_str(conversation_id)))

    def positions(self) -> dict[uuid.UUID, int]:
        return self._seq.positions()

    # --- events ------------------------------------------------------------------------------

    def __aiter__(self) -> Realtime:
        return self

    async def __anext__(self) -> RealtimeEvent:
        event = await self._events.get()
        if event is None:
            self._events.put_nowait(None)  # every later call ends too
            raise StopAsyncIteration
        return event

    async def next_event(self) -> RealtimeEvent:
        """The next event (bound the wait with `asyncio.timeout`); `ClientClosed` once closed."""
        try:
            return await self.__anext__()
        except StopAsyncIteration:
            raise ClientClosed("this realtime connection was closed") from None

    def pending_events(self) -> int:
        return self._events.qsize()

    # --- sending -----------------------------------------------------------------------------

    async def send(
        self,
        conversation_id: Id,
        *,
        body: str | None = None,
        envelope: tuple[int, bytes] | None = None,
        client_msg_id: str | None = None,
    ) -> SendAck:
        """Send a message and wait for its ack, retrying (same client_msg_id) across reconnects.

        Exactly one of `body` (public rooms) and `envelope` = (generation, ciphertext) (private
        conversations). Calling again with the same client_msg_id while the first call waits
        joins it. Raises `RealtimeError` when the server refuses the message. Bound the wait
        with `asyncio.timeout`: a cancelled wait leaves the message in the outbox, still retried.
        """
        if (body is None) == (envelope is None):
            raise ValueError("pass exactly one of body and envelope")
        cmid = client_msg_id or new_client_msg_id()
        pending = self._pending.get(cmid)
        if pending is None:
            if self._closed:
                raise ClientClosed("this realtime connection was closed")
            frame: dict[str, Any] = {
                "type": "message.send",
                "ref": cmid,
                "conversation_id": id_str(conversation_id),
                "client_msg_id": cmid,
            }
            if body is not None:
                frame["body"] = body
            elif envelope is not None:
                generation, ciphertext = envelope
                frame["envelope"] = {
                    "generation": generation,
                    "ciphertext": b64url_encode(ciphertext),
                }
            data = json.dumps(frame, separators=(",", ":"), ensure_ascii=False)
            if len(data.encode("utf-8")) > self._max_frame_bytes:
                raise ValueError("the message does not fit in one WebSocket frame")
            pending = _Pending(
                cmid,
                data,
                asyncio.get_running_loop().create_future(),
                body=body,
                envelope=envelope,
            )
            self._pending[cmid] = pending
            await self._transmit(pending)
        return await asyncio.shield(pending.future)

    def unacknowledged(self) -> list[str]:
        """client_msg_ids sent but not acknowledged yet (the outbox)."""
        return list(self._pending)

    async def send_frame(self, frame: dict[str, Any]) -> None:
        """Send any other client frame (`typing`, `read`, `presence.set`, `ping`) if connected."""
        ws = self._ws
        if ws is None:
            raise ConnectionFailed("not connected")
        await self._limit.acquire()
        await ws.send(json.dumps(frame, separators=(",", ":")))

    async def _transmit(self, pending: _Pending) -> None:
        loop = asyncio.get_running_loop()
        pending.due = loop.time() + self._ack_timeout
        ws = self._ws
        if ws is None or not self._ready.is_set():
            return  # sent on (re)connect
        await self._limit.acquire()
        if pending.future.done() or ws is not self._ws:
            return
        pending.due = loop.time() + self._ack_timeout
        with contextlib.suppress(ConnectionClosed):
            await ws.send(pending.data)

    async def _retransmit(self) -> None:
        """Re-send what has waited too long for an ack (or was told to slow down)."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(0.25)
            if not self._ready.is_set():
                continue
            now = loop.time()
            if self._resume_due is not None and self._resume_due <= now:
                self._resume_due = None
                await self._send_resume()
            for pending in list(self._pending.values()):
                if pending.due <= now and not pending.future.done():
                    await self._transmit(pending)

    # --- the connection loop -----------------------------------------------------------------

    async def _run(self) -> None:
        while not self._closed:
            try:
                await self._connect_once()
            except _Fatal as exc:
                self._fatal = exc.error
                self._emit(Disconnected(exc.error.close_code, str(exc.error), final=True))
                for pending in self._pending.values():
                    _fail(pending.future, exc.error)
                self._pending.clear()
                return
            except (OSError, TimeoutError, WebSocketException, ApiError, ConnectionFailed) as exc:
                log.info("realtime connection failed", extra={"error_type": type(exc).__name__})
            except httpx.TransportError as exc:
                log.info("realtime connection failed", extra={"error_type": type(exc).__name__})
            except Exception as exc:  # a bug (ours or the server's): surface it, do not spin
                error = ConnectionFailed(f"realtime client error: {type(exc).__name__}: {exc}")
                self._fatal = error
                self._emit(Disconnected(None, str(error), final=True))
                for pending in self._pending.values():
                    _fail(pending.future, error)
                self._pending.clear()
                log.error("realtime client error", exc_info=exc)
                return
            spread, self._restart_spread = self._restart_spread, None
            delay = self._rng.uniform(0, spread) if spread is not None else self._backoff.next()
            await asyncio.sleep(delay)

    async def _connect_once(self) -> None:
        try:
            ticket = await fetch_ticket(self._http)
        except ApiError as exc:
            if exc.status in (401, 403):
                raise _Fatal(
                    ConnectionFailed(f"cannot get a ticket: {exc}", http_status=exc.status)
                ) from exc
            raise
        try:
            ws = await connect(
                self._ws_url,
                origin=Origin(self._origin) if self._origin is not None else None,
                proxy=None,
                open_timeout=10,
                max_size=2**22,
                close_timeout=2,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            if 400 <= status < 500:
                raise _Fatal(
                    ConnectionFailed(f"handshake refused: HTTP {status}", http_status=status)
                ) from exc
            raise
        connections = self._connections
        try:
            await self._serve(ws, ticket)
        finally:
            self._ws = None
            self._ready.clear()
            await ws.close()
        if self._connections != connections:  # it got ready, so it counts as a disconnect
            self._after_close(ws)

    async def _serve(self, ws: ClientConnection, ticket: str) -> None:
        await self._limit.acquire()
        await ws.send(json.dumps({"type": "auth", "ticket": ticket}))
        try:
            first = json.loads(await asyncio.wait_for(ws.recv(), 15))
        except ConnectionClosed:
            self._auth_failed()
            raise
        if not isinstance(first, dict) or first.get("type") != "ready":
            self._auth_failed()
            raise ConnectionFailed(f"authentication failed: {first!r}")
        self._auth_failures = 0
        self._backoff.reset()
        self._me = (uuid.UUID(first["user_id"]), uuid.UUID(first["device_id"]))
        self._connections += 1
        self._ws = ws
        self._resume_due = None  # this resume covers any that was due
        self._ready.set()
        await self._send_resume()
        if self._watched:
            await self._send_watch()
        self._emit(
            Connected(uuid.UUID(first["user_id"]), uuid.UUID(first["device_id"]), self._connections)
        )
        for pending in list(self._pending.values()):
            await self._transmit(pending)
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                await self._handle(raw)

    async def watch_presence(self, user_ids: Iterable[Id]) -> None:
        """Watch these users' presence (at most 100; replaces the last watch, [] stops it): the
        server answers `presence.snapshot` with those you may see, then sends their `presence`
        changes. Sent again after every reconnect."""
        self._watched = list(dict.fromkeys(str(u) for u in user_ids))
        if self._ready.is_set():
            await self._send_watch()

    async def _send_watch(self) -> None:
        ws = self._ws
        if ws is None:
            return
        await self._limit.acquire()
        with contextlib.suppress(ConnectionClosed):
            await ws.send(json.dumps({"type": "presence.watch", "user_ids": self._watched}))

    async def _send_resume(self) -> None:
        ws = self._ws
        if ws is None:
            return
        self._resuming = True  # holes wait for sync.done: the backfill may fill them
        await self._limit.acquire()
        positions = {str(conv): seq for conv, seq in self._seq.positions().items()}
        with contextlib.suppress(ConnectionClosed):
            await ws.send(json.dumps({"type": "resume", "positions": positions}))

    def _auth_failed(self) -> None:
        self._auth_failures += 1
        if self._auth_failures >= MAX_AUTH_FAILURES:
            raise _Fatal(ConnectionFailed("authentication keeps failing"))

    def _after_close(self, ws: ClientConnection) -> None:
        code, reason = ws.close_code, ws.close_reason or ""
        if code == CLOSE_POLICY_VIOLATION and reason == "session revoked":
            raise _Fatal(ConnectionFailed("the session was revoked", close_code=code))
        self._restart_spread = restart_spread_s(code, reason)
        self._emit(Disconnected(code, reason))

    # --- inbound frames ----------------------------------------------------------------------

    def _emit(self, event: RealtimeEvent) -> None:
        self._events.put_nowait(event)

    async def _handle(self, raw: str | bytes) -> None:
        try:
            frame = json.loads(raw)
        except ValueError:
            return
        if not isinstance(frame, dict):
            return
        kind = frame.get("type")
        if kind == "message.new":
            await self._deliver([Message.from_json(frame["message"])])
        elif kind == "message.ack":
            await self._acked(frame)
        elif kind == "error" and frame.get("ref") in self._pending:
            self._refused(frame)
        elif kind == "sync.gap":
            conv = uuid.UUID(frame["conversation_id"])
            await self._fill(conv, int(frame["after_seq"]), int(frame["last_seq"]))
            self._emit(ServerEvent("sync.gap", frame))  # after the messages it announced
        elif kind == "sync.done":
            self._resuming = False
            await self._fill_holes()
            self._emit(ServerEvent("sync.done", frame))
        elif kind == "sync.stale":
            within = frame.get("within_ms")
            spread = within / 1000 if isinstance(within, int) and 0 < within <= 60_000 else 0.0
            due = asyncio.get_running_loop().time() + self._rng.uniform(0, spread)
            if self._resume_due is None or due < self._resume_due:
                self._resume_due = due
            self._emit(ServerEvent("sync.stale", frame))
        elif isinstance(kind, str):
            self._emit(ServerEvent(kind, frame))

    async def _acked(self, frame: dict[str, Any]) -> None:
        pending = self._pending.pop(str(frame.get("client_msg_id")), None)
        if pending is None:
            return
        ack = SendAck.from_json(frame)
        me = self._me
        try:
            if me is not None:
                # Our own copy, as the echo used to bring it (before the ack, as the echo came);
                # one already delivered (a retry's duplicate, a backfill) is dropped by seq.
                generation, ciphertext = pending.envelope or (None, None)
                await self._deliver(
                    [
                        Message(
                            id=ack.message_id,
                            conversation_id=ack.conversation_id,
                            seq=ack.seq,
                            sender_id=me[0],
                            sender_device_id=me[1],
                            client_msg_id=ack.client_msg_id,
                            created_at=ack.created_at,
                            body=pending.body,
                            generation=generation,
                            ciphertext=ciphertext,
                        )
                    ]
                )
        finally:
            # Acknowledged even if filling a hole before it failed (the connection retries that).
            if not pending.future.done():
                pending.future.set_result(ack)

    def _refused(self, frame: dict[str, Any]) -> None:
        ref = str(frame["ref"])
        code = str(frame.get("code"))
        if code in ("rate_limited", "service_unavailable"):
            self._pending[ref].due = asyncio.get_running_loop().time() + 1.0
            return
        pending = self._pending.pop(ref)
        field_ = frame.get("field")
        _fail(
            pending.future,
            RealtimeError(
                code,
                str(frame.get("message", "")),
                field_ if isinstance(field_, str) else None,
            ),
        )

    async def _deliver(self, messages: list[Message]) -> None:
        for message in messages:
            for ready in self._seq.offer(message):
                self._emit(MessageEvent(ready))
        if not self._resuming:
            await self._fill_holes()

    async def _fill_holes(self) -> None:
        for hole in self._seq.holes():
            await self._fill(hole.conversation_id, hole.after_seq, hole.before_seq - 1)

    async def _fill(self, conversation_id: uuid.UUID, after_seq: int, up_to: int) -> None:
        """Fetch (after_seq, up_to] over HTTP and deliver it; skip what does not exist."""
        cursor = max(after_seq, self._seq.last_seq(conversation_id) or 0)
        while cursor < up_to:
            try:
                page = await self._history_after(conversation_id, cursor)
            except ApiError as exc:
                if exc.status >= 500 or exc.status == 429:
                    raise
                break  # no longer readable (left, removed): nothing more to fetch
            for message in page.messages:
                for ready in self._seq.offer(message):
                    self._emit(MessageEvent(ready))
            if not page.messages or page.messages[-1].seq >= page.last_seq:
                break
            cursor = page.messages[-1].seq
        last = self._seq.last_seq(conversation_id)
        if last is not None and last < up_to:
            for ready in self._seq.skip_to(conversation_id, up_to):
                self._emit(MessageEvent(ready))

    async def _history_after(self, conversation_id: uuid.UUID, after_seq: int) -> HistoryPage:
        data = await self._http.request(
            "GET",
            f"/api/v1/conversations/{conversation_id}/messages",
            params={"after": after_seq, "limit": PAGE_LIMIT},
        )
        return HistoryPage.from_json(data)
