"""The WebSocket protocol of one connection, without I/O (sans-I/O, decision 0004).

`GatewayProtocol` never touches a socket, a task or a clock. The socket layer feeds it what
happened — a frame arrived (`receive`), a command finished (`authenticated`, `message_sent`,
`command_failed`, `resume_*`), an event was published (`event`), time passed (`tick`), the send
queue overflowed (`overflow`), the server is stopping (`shutdown`) — always with the current
monotonic time where time matters, and carries out the returned effects in order:

- `SendFrame`: send `frame` as a JSON text frame.
- `Close`: close the socket with `code` and `reason`; the protocol is CLOSED and returns no more
  effects (every later call returns []).
- `Authenticate`: redeem the ticket, then call `authenticated(principal, now)` or
  `authentication_failed(now)`. Do not call `receive` until then (read frames one at a time).
- `SendMessage`, `Resume`, `Typing`, `MarkRead`, `SetPresence`, `WatchPresence`: run the
  command as the authenticated principal and report back (`message_sent` / `command_failed` /
  `resume_*` / `presence_snapshot`). Several `SendMessage` may run at once (pipelining, each
  reported with its own ref); any other command runs after the sends before it have been reported.

The wire format is documented in docs/protocol.md § WebSocket.
"""

from __future__ import annotations

import enum
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from hushroom.config import Settings
from hushroom.errors import HushroomError
from hushroom.events.event import Event
from hushroom.gateway.frames import (
    AuthFrame,
    FrameError,
    PingFrame,
    PresenceSetFrame,
    PresenceWatchFrame,
    ReadFrame,
    ResumeFrame,
    SendMessageFrame,
    TypingFrame,
    parse_client_frame,
)
from hushroom.principal import Principal

# Sent in "ready". 2: no "message.new" echo to the sending socket (the ack stands for it); a
# socket may have several sends in flight, each ack carrying its ref (docs/protocol.md).
PROTOCOL_VERSION: Final = 2

# Close codes (RFC 6455 §7.4.1).
CLOSE_POLICY_VIOLATION: Final = 1008
CLOSE_MESSAGE_TOO_BIG: Final = 1009
CLOSE_INTERNAL_ERROR: Final = 1011
CLOSE_SERVICE_RESTART: Final = 1012
# A node closing N sockets for a restart asks their clients to come back at a random moment
# within N / RECONNECTS_PER_S seconds (at least the floor, at most the cap): the nodes that take
# them answer one `resume` each, and a herd of all N at once only queues (docs/protocol.md).
RECONNECTS_PER_S: Final = 2_000
RECONNECT_SPREAD_FLOOR_MS: Final = 500
RECONNECT_SPREAD_CAP_MS: Final = 30_000
CLOSE_TRY_AGAIN_LATER: Final = 1013


class State(enum.Enum):
    AWAIT_AUTH = "await_auth"  # waiting for the auth frame
    AUTHENTICATING = "authenticating"  # ticket handed to the socket layer; no frames accepted
    READY = "ready"
    CLOSED = "closed"


# A module constant: an enum member read through its class costs a lookup per delivery.
_READY: Final = State.READY


# --- effects ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SendFrame:
    frame: dict[str, Any]
    # Already serialised (an event's frame, shared by all its recipients), or None.
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Close:
    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class Authenticate:
    ticket: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class SendMessage:
    ref: str | None
    conversation_id: uuid.UUID
    client_msg_id: str
    # Exactly one of body (public rooms) or generation + ciphertext (private conversations).
    body: str | None
    generation: int | None
    ciphertext: bytes | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class Resume:
    # conversation id -> last seq the client has (0 = nothing).
    positions: dict[uuid.UUID, int]


@dataclass(frozen=True, slots=True)
class Typing:
    conversation_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class MarkRead:
    conversation_id: uuid.UUID
    seq: int


@dataclass(frozen=True, slots=True)
class SetPresence:
    status: Literal["online", "away"]


@dataclass(frozen=True, slots=True)
class WatchPresence:
    ref: str | None
    # Replaces this socket's previous watch (at most MAX_WATCHED_USERS, no duplicates).
    user_ids: tuple[uuid.UUID, ...]


Command = SendMessage | Resume | Typing | MarkRead | SetPresence | WatchPresence
Effect = SendFrame | Close | Authenticate | Command


# --- limits ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProtocolLimits:
    max_ws_frame_bytes: int = 128 * 1024
    frames_per_second: float = 30.0
    frame_burst: int = 60
    # More than max_errors error frames within error_window_s closes the connection (1008).
    max_errors: int = 10
    error_window_s: float = 60.0
    auth_timeout_s: float = 10.0
    # Advertised as the integer heartbeat_s in "ready"; the socket layer sends protocol-level
    # pings.
    ping_interval_s: int = 20
    max_text_chars: int = 8000
    max_ciphertext_bytes: int = 64 * 1024

    @classmethod
    def from_settings(cls, settings: Settings) -> ProtocolLimits:
        return cls(
            max_ws_frame_bytes=settings.max_ws_frame_bytes,
            frames_per_second=settings.ws_frames_per_second,
            frame_burst=settings.ws_frame_burst,
            max_errors=settings.ws_max_errors,
            ping_interval_s=settings.ws_ping_interval_s,
            max_text_chars=settings.max_text_chars,
            max_ciphertext_bytes=settings.max_ciphertext_bytes,
        )


def _error_frame(
    code: str,
    message: str,
    *,
    ref: str | None = None,
    field: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if ref is not None:
        frame["ref"] = ref
    if field is not None:
        frame["field"] = field
    if extra:
        # Code-specific fields, the same as in the HTTP problem body (e.g. current_generation).
        frame.update(extra)
    return frame


def _frame_size(data: str | bytes) -> int:
    # Bytes on the wire: a str is UTF-8 encoded (cheap path for ASCII).
    if isinstance(data, bytes) or data.isascii():
        return len(data)
    return len(data.encode("utf-8", "surrogatepass"))


def reconnect_spread_ms(sockets: int) -> int:
    """The `reconnect_within_ms` hint of a restart closing `sockets` sockets."""
    spread = sockets * 1000 // RECONNECTS_PER_S
    return min(RECONNECT_SPREAD_CAP_MS, max(RECONNECT_SPREAD_FLOOR_MS, spread))


def restart_reason(reconnect_within_ms: int) -> str:
    """The reason of a restart's close 1012 (gateway/wire.py writes it too)."""
    return f"server restarting; reconnect_within_ms={reconnect_within_ms}"


class GatewayProtocol:
    """One WebSocket connection's protocol state: AWAIT_AUTH → AUTHENTICATING → READY → CLOSED."""

    # One per socket, tens of thousands per process: no per-instance __dict__.
    __slots__ = (
        "_auth_deadline",
        "_errors",
        "_high_water",
        "_tokens",
        "_tokens_at",
        "limits",
        "principal",
        "state",
    )

    def __init__(self, limits: ProtocolLimits, now: float) -> None:
        self.limits = limits
        self.state = State.AWAIT_AUTH
        self.principal: Principal | None = None
        self._auth_deadline = now + limits.auth_timeout_s
        # Token bucket for inbound frames.
        self._tokens = float(limits.frame_burst)
        self._tokens_at = now
        # Times of recent error frames (at most max_errors + 1 kept). Created on the first error:
        # an empty deque is ~600 bytes, and most connections never get an error frame.
        self._errors: deque[float] | None = None
        # conversation id -> highest seq the client already has or the backfill sent; None
        # until a resume (no dict per socket that never resumed).
        self._high_water: dict[uuid.UUID, int] | None = None

    # --- inbound frames ----------------------------------------------------------------------

    def receive(self, data: str | bytes, now: float) -> list[Effect]:
        """One frame from the client (text, or bytes holding UTF-8 JSON)."""
        if self.state is State.CLOSED:
            return []
        if _frame_size(data) > self.limits.max_ws_frame_bytes:
            return self._close(CLOSE_MESSAGE_TOO_BIG, "frame too big")
        if not self._take_token(now):
            return self._error(now, "rate_limited", "too many frames; slow down")
        try:
            frame = parse_client_frame(data, self.limits)
        except FrameError as exc:
            if self.state is not State.READY:
                return self._auth_required(exc.message, exc.field)
            return self._error(now, exc.code, exc.message, ref=exc.ref, field=exc.field)

        if self.state is State.AWAIT_AUTH:
            if isinstance(frame, AuthFrame):
                self.state = State.AUTHENTICATING
                return [Authenticate(frame.ticket)]
            return self._auth_required('the first frame must be {"type": "auth", ...}', "type")
        if self.state is State.AUTHENTICATING:
            return self._auth_required("wait for ready before sending other frames", "type")

        # READY
        if isinstance(frame, SendMessageFrame):
            env = frame.envelope
            return [
                SendMessage(
                    ref=frame.ref,
                    conversation_id=frame.conversation_id,
                    client_msg_id=frame.client_msg_id,
                    body=frame.body,
                    generation=env.generation if env is not None else None,
                    ciphertext=env.ciphertext if env is not None else None,
                )
            ]
        if isinstance(frame, TypingFrame):
            return [Typing(frame.conversation_id)]
        if isinstance(frame, ReadFrame):
            return [MarkRead(frame.conversation_id, frame.seq)]
        if isinstance(frame, PingFrame):
            return [SendFrame({"type": "pong", "ref": frame.ref})]
        if isinstance(frame, PresenceSetFrame):
            return [SetPresence(frame.status)]
        if isinstance(frame, PresenceWatchFrame):
            return [WatchPresence(frame.ref, tuple(dict.fromkeys(frame.user_ids)))]
        if isinstance(frame, ResumeFrame):
            # A new resume replaces the old marks (bounded memory). What the client says it has
            # needs no live copy either.
            self._high_water = dict(frame.positions) or None
            return [Resume(dict(frame.positions))]
        # AuthFrame
        return self._error(now, "validation_failed", "already authenticated", field="type")

    # --- results from the socket layer -------------------------------------------------------

    def authenticated(self, principal: Principal, now: float) -> list[Effect]:
        if self.state is not State.AUTHENTICATING:
            return []
        self.state = State.READY
        self.principal = principal
        return [
            SendFrame(
                {
                    "type": "ready",
                    "user_id": str(principal.user_id),
                    "device_id": str(principal.device_id),
                    "heartbeat_s": self.limits.ping_interval_s,
                    "protocol": PROTOCOL_VERSION,
                }
            )
        ]

    def authentication_failed(self, now: float) -> list[Effect]:
        if self.state is not State.AUTHENTICATING:
            return []
        return [
            SendFrame(_error_frame("auth_failed", "the ticket is invalid, expired or used")),
            *self._close(CLOSE_POLICY_VIOLATION, "authentication failed"),
        ]

    def message_sent(
        self,
        *,
        ref: str | None,
        conversation_id: uuid.UUID,
        client_msg_id: str,
        seq: int,
        message_id: int | uuid.UUID,
        created_at: int,
        duplicate: bool,
    ) -> list[Effect]:
        """The send committed (or was a retry of one that had): ack it. created_at: epoch ms."""
        if self.state is not State.READY:
            return []
        return [
            SendFrame(
                {
                    "type": "message.ack",
                    "ref": ref,
                    "conversation_id": str(conversation_id),
                    "client_msg_id": client_msg_id,
                    "seq": seq,
                    "message_id": (
                        str(message_id) if isinstance(message_id, uuid.UUID) else message_id
                    ),
                    "created_at": created_at,
                    "duplicate": duplicate,
                }
            )
        ]

    def command_failed(self, ref: str | None, error: HushroomError, now: float) -> list[Effect]:
        """A command raised a HushroomError. Client errors (4xx) count toward the abuse limit."""
        if self.state is not State.READY:
            return []
        if error.status < 500:
            return self._error(
                now, error.code, error.detail, ref=ref, field=error.field, extra=error.extra
            )
        return [
            SendFrame(
                _error_frame(
                    error.code, error.detail, ref=ref, field=error.field, extra=error.extra
                )
            )
        ]

    def resume_batch(
        self, conversation_id: uuid.UUID, message_frames: list[dict[str, Any]], high_seq: int
    ) -> list[Effect]:
        """Backfill for one conversation: complete "message.new" frames, oldest first.

        Live "message.new" events with seq <= high_seq for this conversation are dropped from now
        on, since the backfill covers them.
        """
        if self.state is not State.READY:
            return []
        self._raise_high_water(conversation_id, high_seq)
        return [SendFrame(frame) for frame in message_frames]

    def resume_gap(self, conversation_id: uuid.UUID, after_seq: int, last_seq: int) -> list[Effect]:
        """Too much to backfill: the client pages (after_seq, last_seq] over HTTP."""
        if self.state is not State.READY:
            return []
        self._raise_high_water(conversation_id, last_seq)
        return [
            SendFrame(
                {
                    "type": "sync.gap",
                    "conversation_id": str(conversation_id),
                    "after_seq": after_seq,
                    "last_seq": last_seq,
                }
            )
        ]

    def presence_snapshot(self, ref: str | None, presences: list[dict[str, Any]]) -> list[Effect]:
        """The answer to `presence.watch`: the watched users' presence the caller may see."""
        if self.state is not State.READY:
            return []
        return [SendFrame({"type": "presence.snapshot", "ref": ref, "presences": presences})]

    def resume_done(self) -> list[Effect]:
        if self.state is not State.READY:
            return []
        return [SendFrame({"type": "sync.done"})]

    # --- outbound events ---------------------------------------------------------------------

    def event(self, ev: Event, connection_id: str | None = None) -> list[Effect]:
        """A published event for this user: the frame to send, or nothing.

        `connection_id`: this socket's id; the socket an event excludes (the sender's, which
        had the ack) gets nothing.
        """
        if not self.accepts(ev, connection_id):
            return []
        if ev.type == "session.revoked":
            assert self.principal is not None
            return self._session_revoked(ev, self.principal)
        return [SendFrame(ev.frame(), ev.frame_text())]

    def accepts(self, ev: Event, connection_id: str | None = None) -> bool:
        """Whether this socket gets `ev` (its frame is `ev.frame_text()`, except for
        "session.revoked", which also closes: `event` handles that one).

        The per-delivery check of a room message to every member's socket, so it is kept to
        a few attribute reads (the socket layer's fast path calls it directly).
        """
        principal = self.principal
        if principal is None or self.state is not _READY:
            return False
        # Delivery never widens an event's audience.
        if principal.user_id not in ev.recipients:
            return False
        exclude = ev.exclude_device
        if exclude is not None and exclude == principal.device_id:
            return False
        origin = ev.exclude_connection
        if origin is not None and origin == connection_id:
            return False
        high_water = self._high_water
        seq = ev.seq
        conversation_id = ev.conversation_id
        if high_water is not None and seq is not None and conversation_id is not None:
            high = high_water.get(conversation_id)
            if high is not None and seq <= high and ev.type == "message.new":
                return False
        return True

    # --- time, backpressure, lifecycle -------------------------------------------------------

    @property
    def deadline(self) -> float | None:
        """Monotonic time by which `tick` should next be called, or None if nothing is due."""
        if self.state in (State.AWAIT_AUTH, State.AUTHENTICATING):
            return self._auth_deadline
        return None

    def tick(self, now: float) -> list[Effect]:
        """Time passed. Only the auth deadline lives here: unauthenticated past it → close 1008.

        Liveness is the socket layer's job: uvicorn sends a protocol-level ping every
        `heartbeat_s` and closes a peer that does not answer within `heartbeat_s` with 1011.
        """
        if self.state in (State.AWAIT_AUTH, State.AUTHENTICATING) and now >= self._auth_deadline:
            return [
                SendFrame(_error_frame("auth_required", "authentication timed out")),
                *self._close(CLOSE_POLICY_VIOLATION, "authentication timeout"),
            ]
        return []

    def overflow(self) -> list[Effect]:
        """The socket layer's bounded send queue is full: this client is too slow."""
        return self._close(CLOSE_TRY_AGAIN_LATER, "too slow; resync on reconnect")

    def shutdown(self, reconnect_within_ms: int) -> list[Effect]:
        """Graceful server shutdown; clients reconnect (to another node) within the hint, at a
        random moment, and resume."""
        return self._close(CLOSE_SERVICE_RESTART, restart_reason(reconnect_within_ms))

    def internal_error(self) -> list[Effect]:
        """An unexpected exception in the socket layer or a command: close 1011."""
        return self._close(CLOSE_INTERNAL_ERROR, "internal error")

    def connection_closed(self) -> list[Effect]:
        """The socket closed (either side); later calls return nothing."""
        self.state = State.CLOSED
        return []

    # --- helpers -----------------------------------------------------------------------------

    def _close(self, code: int, reason: str) -> list[Effect]:
        if self.state is State.CLOSED:
            return []
        self.state = State.CLOSED
        return [Close(code, reason)]

    def _auth_required(self, message: str, field: str | None) -> list[Effect]:
        return [
            SendFrame(_error_frame("auth_required", message, field=field)),
            *self._close(CLOSE_POLICY_VIOLATION, "authentication required"),
        ]

    def _error(
        self,
        now: float,
        code: str,
        message: str,
        *,
        ref: str | None = None,
        field: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> list[Effect]:
        """An error frame that counts toward the abuse limit; past it, also close 1008."""
        effects: list[Effect] = [
            SendFrame(_error_frame(code, message, ref=ref, field=field, extra=extra))
        ]
        errors = self._errors
        if errors is None:
            errors = self._errors = deque()
        errors.append(now)
        while errors and errors[0] <= now - self.limits.error_window_s:
            errors.popleft()
        if len(errors) > self.limits.max_errors:
            effects += self._close(CLOSE_POLICY_VIOLATION, "too many errors")
        return effects

    def _take_token(self, now: float) -> bool:
        limits = self.limits
        elapsed = max(0.0, now - self._tokens_at)
        self._tokens = min(
            float(limits.frame_burst), self._tokens + elapsed * limits.frames_per_second
        )
        self._tokens_at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def _raise_high_water(self, conversation_id: uuid.UUID, seq: int) -> None:
        high_water = self._high_water
        if high_water is None:
            high_water = self._high_water = {}
        if seq > high_water.get(conversation_id, -1):
            high_water[conversation_id] = seq

    def _session_revoked(self, ev: Event, principal: Principal) -> list[Effect]:
        if not _revocation_applies(ev.payload, principal):
            return []
        return [SendFrame(ev.frame()), *self._close(CLOSE_POLICY_VIOLATION, "session revoked")]


def _revocation_applies(payload: dict[str, Any], principal: Principal) -> bool:
    """Whether a session.revoked event ends this connection's session.

    Payload selectors, first match wins: "all": true (every session of the user); "session_ids":
    [..] (those sessions); "session_id" / "device_id" (one). None of them: every session.
    """
    if payload.get("all") is True:
        return True
    session_ids = payload.get("session_ids")
    if isinstance(session_ids, list | tuple | set | frozenset):
        return str(principal.session_id) in session_ids
    for key, mine in (("session_id", principal.session_id), ("device_id", principal.device_id)):
        named = payload.get(key)
        if named is not None:
            return bool(named == str(mine))
    return True
