"""Per-conversation ordering without I/O: dedupe by (conversation_id, seq), buffer what arrives
early, and report the holes the caller must fill over HTTP.

A conversation is tracked from a position (the last seq the client has). Messages at or below it
are duplicates; the next one (position + 1) is delivered at once, together with any buffered
successors; later ones wait in a buffer until the hole before them is filled (or skipped).
A conversation seen for the first time without `track` starts right before its first message.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from hushroom.client.models import Message


@dataclass(frozen=True, slots=True)
class Hole:
    """Messages (after_seq, before_seq) are missing: before_seq is the first one buffered."""

    conversation_id: uuid.UUID
    after_seq: int
    before_seq: int


class Sequencer:
    def __init__(self) -> None:
        self._last: dict[uuid.UUID, int] = {}
        self._early: dict[uuid.UUID, dict[int, Message]] = {}

    def track(self, conversation_id: uuid.UUID, last_seq: int = 0) -> None:
        """Follow a conversation from `last_seq` (0 = from the start). Never moves backwards."""
        if last_seq > self._last.get(conversation_id, -1):
            self._last[conversation_id] = last_seq
            self._release(conversation_id, [])

    def last_seq(self, conversation_id: uuid.UUID) -> int | None:
        return self._last.get(conversation_id)

    def positions(self) -> dict[uuid.UUID, int]:
        """What to send in `resume`: the last seq delivered per tracked conversation."""
        return dict(self._last)

    def offer(self, message: Message) -> list[Message]:
        """A message from anywhere (live, backfill, HTTP): what can be delivered now, in order."""
        conv = message.conversation_id
        last = self._last.get(conv)
        if last is None:
            last = self._last[conv] = message.seq - 1
        if message.seq <= last:
            return []
        if message.seq > last + 1:
            self._early.setdefault(conv, {}).setdefault(message.seq, message)
            return []
        self._last[conv] = message.seq
        return self._release(conv, [message])

    def holes(self) -> list[Hole]:
        """Gaps before buffered messages, one per conversation."""
        return [
            Hole(conv, self._last[conv], min(early)) for conv, early in self._early.items() if early
        ]

    def skip_to(self, conversation_id: uuid.UUID, seq: int) -> list[Message]:
        """Give up on messages up to `seq` (they do not exist); deliver what follows."""
        if seq > self._last.get(conversation_id, -1):
            self._last[conversation_id] = seq
        return self._release(conversation_id, [])

    def _release(self, conv: uuid.UUID, out: list[Message]) -> list[Message]:
        early = self._early.get(conv)
        if not early:
            return out
        last = self._last[conv]
        for seq in [s for s in early if s <= last]:
            del early[seq]
        while (nxt := early.pop(last + 1, None)) is not None:
            out.append(nxt)
            last = nxt.seq
        self._last[conv] = last
        if not early:
            del self._early[conv]
        return out
