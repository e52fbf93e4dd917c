"""Events: what services emit after a commit, with an explicit recipient list (Zulip's send_event).

Choosing recipients is a security decision made by the service that knows who may see the event;
delivery (fanout/, gateway/) never widens it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class Event:
    # Dotted noun, as sent on the wire: "message.new", "member.joined", "typing", ...
    type: str
    # JSON-ready payload (str/int/bool/None/list/dict only).
    payload: dict[str, Any]
    # User ids that may receive it. Never empty for a delivered event.
    recipients: frozenset[uuid.UUID]
    # Conversation it belongs to, when there is one (lets big rooms use a room channel later).
    conversation_id: uuid.UUID | None = None
    # Set for "message.new": lets a resuming connection drop what its backfill already sent.
    seq: int | None = None
    # Users that must not get it even if listed (e.g. the typist for "typing").
    exclude_device: uuid.UUID | None = field(default=None)
    # The socket (gateway connection id) that must not get it: the sender's own socket, which
    # had the ack instead (protocol 2: no echo). Its other sockets and devices still get it.
    exclude_connection: str | None = field(default=None)
    # The frame and its JSON text, made on first use and shared by every recipient's socket
    # (a 1,000-member room encodes each message once). Treat the frame as read-only.
    _wire: list[tuple[dict[str, Any], str]] = field(
        default_factory=list, init=False, repr=False, compare=False
    )

    def frame(self) -> dict[str, Any]:
        return self._made()[0]

    def frame_text(self) -> str:
        return self._made()[1]

    def _made(self) -> tuple[dict[str, Any], str]:
        if not self._wire:
            frame = {"type": self.type, **self.payload}
            self._wire.append((frame, orjson.dumps(frame).decode()))
        return self._wire[0]
