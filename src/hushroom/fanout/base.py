"""Fan-out: deliver events to the live sockets of their recipients (on this node, or via Redis).

It is a fast path only: anything lost here is recovered by clients resyncing from the database.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Protocol

from hushroom.events.event import Event

SYNC_STALE = "sync.stale"
# Resumes a node answers per ms while it serves (their "anything new?" queries are batched:
# services/messages.py), the pace `sync.stale` asks its sockets to come back at.
RESUMES_PER_MS = 4


def stale_event(recipients: frozenset[uuid.UUID], sockets: int | None = None) -> Event:
    """Tell `recipients` the live stream may have lost events: resume from the database.

    `within_ms` spreads the resumes (each client waits a random part of it), so an outage that
    touches every socket of a node does not bring every resume at once: `RESUMES_PER_MS`.
    Each socket resumes, so the node that knows how many it holds (`sockets`) says so; a user
    may have dozens of tabs and devices.
    """
    resumes = len(recipients) if sockets is None else sockets
    return Event(
        type=SYNC_STALE,
        payload={"within_ms": min(15_000, resumes // RESUMES_PER_MS)},
        recipients=recipients,
    )


class Subscriber(Protocol):
    """A local socket (or anything) that wants the events of one user."""

    @property
    def user_id(self) -> uuid.UUID: ...

    def deliver(self, event: Event) -> None:
        """Called on the event loop; must not block. Queue the event or drop the subscriber."""
        ...


class FanoutBackend(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, event: Event) -> None:
        """Deliver to every subscriber of every recipient, on every node."""
        ...

    async def publish_many(self, events: Sequence[Event]) -> None:
        """`publish` for each event, in order, in as few round trips as the backend allows
        (a batch of sends stored by one commit)."""
        ...

    def subscribe(self, subscriber: Subscriber) -> None: ...

    def unsubscribe(self, subscriber: Subscriber) -> None: ...

    async def sync(self) -> None:
        """Return once every subscribe/unsubscribe asked for so far is in effect (the gateway
        waits for it before a resume query, so nothing committed in between skips the fast
        path)."""
        ...

    def local_user_ids(self) -> set[uuid.UUID]:
        """Users with at least one subscriber on this node."""
        ...
