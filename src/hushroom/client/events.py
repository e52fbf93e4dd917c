"""What `Realtime` yields: connection changes, messages in order, and every other server frame."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from hushroom.client.models import Message


@dataclass(frozen=True, slots=True)
class Connected:
    """The socket is authenticated (`ready`); `resume` and pending sends have been sent."""

    user_id: uuid.UUID
    device_id: uuid.UUID
    # 1 for the first connection, then 2, 3, … after each reconnect.
    connection: int


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The socket closed; the client reconnects unless `final`."""

    code: int | None
    reason: str
    final: bool = False


@dataclass(frozen=True, slots=True)
class MessageEvent:
    """The next message of a conversation (seq order, exactly once), live or fetched."""

    message: Message


@dataclass(frozen=True, slots=True)
class ServerEvent:
    """Any other frame: `typing`, `receipt`, `presence`, `member.*`, `conversation.updated`,
    `sync.gap` (its messages were already delivered), `sync.done`, `sync.stale` (a resume is
    on its way), `pong`, and `error` frames that answer no pending send."""

    type: str
    data: dict[str, Any]


RealtimeEvent = Connected | Disconnected | MessageEvent | ServerEvent
