"""Delivery to the subscribers of this process; shared by the memory and Redis backends."""

from __future__ import annotations

import uuid

from hushroom.events.event import Event
from hushroom.fanout.base import Subscriber


class LocalHub:
    def __init__(self) -> None:
        self._by_user: dict[uuid.UUID, set[Subscriber]] = {}

    def add(self, subscriber: Subscriber) -> bool:
        """Returns True when this is the user's first subscriber here."""
        subs = self._by_user.setdefault(subscriber.user_id, set())
        subs.add(subscriber)
        return len(subs) == 1

    def remove(self, subscriber: Subscriber) -> bool:
        """Returns True when the user has no subscriber left here."""
        subs = self._by_user.get(subscriber.user_id)
        if subs is None:
            return False
        subs.discard(subscriber)
        if not subs:
            del self._by_user[subscriber.user_id]
            return True
        return False

    def deliver(self, event: Event) -> int:
        delivered = 0
        for user_id in event.recipients:
            # Copy: a subscriber may unsubscribe itself (slow consumer) while we iterate.
            for sub in tuple(self._by_user.get(user_id, ())):
                sub.deliver(event)
                delivered += 1
        return delivered

    def user_ids(self) -> set[uuid.UUID]:
        return set(self._by_user)
