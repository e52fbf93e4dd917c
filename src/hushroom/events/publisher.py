"""The one event generator: services call `publish`; the fan-out backend delivers."""

from __future__ import annotations

from collections.abc import Sequence

from hushroom.events.event import Event
from hushroom.fanout.base import FanoutBackend


class EventPublisher:
    def __init__(self, fanout: FanoutBackend) -> None:
        self._fanout = fanout

    async def publish(self, event: Event) -> None:
        # An event nobody may see is dropped here rather than broadcast.
        if not event.recipients:
            return
        await self._fanout.publish(event)

    async def publish_many(self, events: Sequence[Event]) -> None:
        """Several events in order (one commit's messages): one round trip with Redis."""
        await self._fanout.publish_many([e for e in events if e.recipients])
