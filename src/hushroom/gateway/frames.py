"""Client → server WebSocket frames: strict models and one parse function (no I/O).

Every frame is a JSON object with a "type". `parse_client_frame` turns raw text (or bytes holding
UTF-8 JSON) into one of the frame models below, or raises `FrameError` with a stable code
(`malformed_json`, `unknown_type`, `validation_failed`) and, when one field is to blame, its dotted
path. Limits that come from configuration (text length, ciphertext size) are checked here too, so a
frame that parses is a frame the services may act on. Documented in docs/protocol.md § WebSocket.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any, Final, Literal, Protocol

import orjson
from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError

from hushroom.crypto.encoding import b64url_decode
from hushroom.crypto.errors import Malformed

# Largest seq / generation a client may name: the database columns are BIGINT / INTEGER.
MAX_SEQ: Final = 2**63 - 1
MAX_GENERATION: Final = 2**31 - 1
MAX_REF_CHARS: Final = 64
MAX_TICKET_CHARS: Final = 512
MAX_RESUME_ENTRIES: Final = 1000
# Users one socket may watch (`presence.watch`); services/presence.py MAX_WATCHED.
MAX_WATCHED_USERS: Final = 100

_UUID_RE: Final = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
_FIELD_NAME_RE: Final = re.compile(r"[a-z_]{1,32}")


class FrameError(Exception):
    """A frame the server will not act on. Rendered as an `error` frame; never closes by itself."""

    def __init__(
        self, code: str, message: str, field: str | None = None, ref: str | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        # The frame's "ref" when it had a usable one, so the client can match the error to a send.
        self.ref = ref


class FrameLimits(Protocol):
    """The configured limits parsing needs (`protocol.ProtocolLimits` satisfies this)."""

    @property
    def max_text_chars(self) -> int: ...

    @property
    def max_ciphertext_bytes(self) -> int: ...


def _uuid(value: object) -> uuid.UUID:
    if isinstance(value, uuid.UUID):  # built in Python (tests); JSON only ever gives strings
        return value
    if not isinstance(value, str) or not _UUID_RE.fullmatch(value):
        raise ValueError("must be a UUID string like 123e4567-e89b-12d3-a456-426614174000")
    return uuid.UUID(value)


def _b64url(value: object) -> bytes:
    # Unpadded base64url, canonical (re-encoding gives back the same text), non-empty.
    if isinstance(value, bytes) and value:  # built in Python (tests); JSON only ever gives strings
        return value
    if not isinstance(value, str) or not value:
        raise ValueError("must be non-empty unpadded base64url")
    # The one strict decoder shared with HTTP and the crypto core.
    try:
        return b64url_decode(value)
    except Malformed as exc:
        raise ValueError("must be canonical unpadded base64url") from exc


Uuid = Annotated[uuid.UUID, PlainValidator(_uuid)]
Base64Url = Annotated[bytes, PlainValidator(_b64url)]
Seq = Annotated[int, Field(ge=0, le=MAX_SEQ)]
Ref = Annotated[str, Field(min_length=1, max_length=MAX_REF_CHARS)]


class _Frame(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class AuthFrame(_Frame):
    type: Literal["auth"]
    # repr=False: tickets are credentials and must not reach logs.
    ticket: Annotated[str, Field(min_length=1, max_length=MAX_TICKET_CHARS, repr=False)]


class ResumeFrame(_Frame):
    type: Literal["resume"]
    positions: Annotated[dict[Uuid, Seq], Field(max_length=MAX_RESUME_ENTRIES)]


class Envelope(_Frame):
    generation: Annotated[int, Field(ge=0, le=MAX_GENERATION)]
    ciphertext: Annotated[Base64Url, Field(repr=False)]


class SendMessageFrame(_Frame):
    type: Literal["message.send"]
    ref: Ref | None = None
    conversation_id: Uuid
    client_msg_id: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
    body: str | None = None
    envelope: Envelope | None = None


class TypingFrame(_Frame):
    type: Literal["typing"]
    conversation_id: Uuid


class ReadFrame(_Frame):
    type: Literal["read"]
    conversation_id: Uuid
    seq: Seq


class PresenceSetFrame(_Frame):
    type: Literal["presence.set"]
    status: Literal["online", "away"]


class PresenceWatchFrame(_Frame):
    type: Literal["presence.watch"]
    ref: Ref | None = None
    # Replaces the socket's previous watch; [] stops watching.
    user_ids: Annotated[list[Uuid], Field(max_length=MAX_WATCHED_USERS)]


class PingFrame(_Frame):
    type: Literal["ping"]
    ref: Ref | None = None


_AnyFrame = (
    AuthFrame
    | ResumeFrame
    | SendMessageFrame
    | TypingFrame
    | ReadFrame
    | PresenceSetFrame
    | PresenceWatchFrame
    | PingFrame
)
# A union discriminated by "type" (usable as a pydantic field or TypeAdapter type).
ClientFrame = Annotated[_AnyFrame, Field(discriminator="type")]

# The discriminator, applied by hand: one dict lookup, and error paths without the tag in them.
_MODELS: Final[dict[str, type[_AnyFrame]]] = {
    "auth": AuthFrame,
    "resume": ResumeFrame,
    "message.send": SendMessageFrame,
    "typing": TypingFrame,
    "read": ReadFrame,
    "presence.set": PresenceSetFrame,
    "presence.watch": PresenceWatchFrame,
    "ping": PingFrame,
}
CLIENT_FRAME_TYPES: Final = frozenset(_MODELS)


def _field_path(loc: tuple[int | str, ...]) -> str | None:
    # Field names only: stop at a dict key (e.g. a positions entry) so nothing the client chose
    # is echoed back in the error frame.
    parts: list[str] = []
    for part in loc:
        if not isinstance(part, str) or not _FIELD_NAME_RE.fullmatch(part):
            break
        parts.append(part)
    return ".".join(parts) or None


def _message(msg: str) -> str:
    return msg.removeprefix("Value error, ")


def _check_send(frame: SendMessageFrame, limits: FrameLimits, ref: str | None) -> None:
    if (frame.body is None) == (frame.envelope is None):
        raise FrameError(
            "validation_failed", "exactly one of body and envelope is required", "body", ref
        )
    if frame.body is not None:
        if not frame.body.strip():
            raise FrameError("validation_failed", "body must not be blank", "body", ref)
        if "\x00" in frame.body:
            raise FrameError("validation_failed", "body must not contain NUL", "body", ref)
        if len(frame.body) > limits.max_text_chars:
            # The same code as over HTTP (services/messages.py): one error, one code.
            raise FrameError(
                "payload_too_large",
                f"body must be at most {limits.max_text_chars} characters",
                "body",
                ref,
            )
    if frame.envelope is not None and len(frame.envelope.ciphertext) > limits.max_ciphertext_bytes:
        raise FrameError(
            "payload_too_large",
            f"ciphertext must be at most {limits.max_ciphertext_bytes} bytes",
            "envelope.ciphertext",
            ref,
        )


def parse_client_frame(data: str | bytes, limits: FrameLimits) -> ClientFrame:
    """Parse and fully validate one client frame. Raises `FrameError`, nothing else.

    Does not check the frame's size in bytes: the caller (the protocol) does that first.
    """
    try:
        obj: Any = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise FrameError("malformed_json", "frame is not valid UTF-8 JSON") from None
    if not isinstance(obj, dict):
        raise FrameError("malformed_json", "frame must be a JSON object")
    raw_ref = obj.get("ref")
    ref = raw_ref if isinstance(raw_ref, str) and 0 < len(raw_ref) <= MAX_REF_CHARS else None
    frame_type = obj.get("type")
    model = _MODELS.get(frame_type) if isinstance(frame_type, str) else None
    if model is None:
        raise FrameError("unknown_type", "missing or unknown frame type", "type", ref)
    try:
        frame = model.model_validate(obj)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        raise FrameError(
            "validation_failed", _message(first["msg"]), _field_path(first["loc"]), ref
        ) from None
    if isinstance(frame, SendMessageFrame):
        _check_send(frame, limits, ref)
    return frame
