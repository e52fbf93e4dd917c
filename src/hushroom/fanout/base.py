"""Fan-out: deliver events to the live sockets of their recipients (on this node, or via Redis).

It is a fast path only: anything lost here is recovered by clients resyncing from the database.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Protocol

from hushroom.events.event import Event


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
