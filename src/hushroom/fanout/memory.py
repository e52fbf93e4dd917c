"""Single-node fan-out: no Redis, events go straight to this process's sockets."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from hushroom.events.event import Event
from hushroom.fanout.base import Subscriber
from hushroom.fanout.local import LocalHub


class MemoryFanout:
    def __init__(self) -> None:
        self._hub = LocalHub()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def publish(self, event: Event) -> None:
        self._hub.deliver(event)

    async def publish_many(self, events: Sequence[Event]) -> None:
        for event in events:
            self._hub.deliver(event)

    def subscribe(self, subscriber: Subscriber) -> None:
        self._hub.add(subscriber)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._hub.remove(subscriber)

    async def sync(self) -> None:
        return None  # subscriptions take effect immediately

    def local_user_ids(self) -> set[uuid.UUID]:
        return self._hub.user_ids()
