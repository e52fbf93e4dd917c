"""Delivery to the subscribers of this process; shared by the memory and Redis backends."""

from __future__ import annotations

import uuid

from hushroom.events.event import Event
from hushroom.fanout.base import Subscriber


class LocalHub:
    def __init__(self) -> None:
        # Keyed by the user id's int: a room message looks up every member, and a UUID's hash
        # is computed in Python where an int's is not.
        self._by_user: dict[int, set[Subscriber]] = {}

    def add(self, subscriber: Subscriber) -> bool:
        """Returns True when this is the user's first subscriber here."""
        subs = self._by_user.setdefault(subscriber.user_id.int, set())
        subs.add(subscriber)
        return len(subs) == 1

    def remove(self, subscriber: Subscriber) -> bool:
        """Returns True when the user has no subscriber left here."""
        key = subscriber.user_id.int
        subs = self._by_user.get(key)
        if subs is None:
            return False
        subs.discard(subscriber)
        if not subs:
            del self._by_user[key]
            return True
        return False

    def deliver(self, event: Event) -> int:
        by_user = self._by_user
        targets: list[Subscriber] = []
        for user_id in event.recipients:
            subs = by_user.get(user_id.int)
            if subs is not None:
                targets.extend(subs)
        if not targets:
            return 0
        # Collected first: a subscriber may unsubscribe itself (slow consumer) meanwhile. A
        # subscriber class may take them all in one call (the gateway's sockets: one loop).
        deliver_many = getattr(type(targets[0]), "deliver_many", None)
        if deliver_many is not None:
            deliver_many(event, targets)
        else:
            for sub in targets:
                sub.deliver(event)
        return len(targets)

    def user_ids(self) -> set[uuid.UUID]:
        return {uuid.UUID(int=key) for key in self._by_user}

    def subscriber_count(self, users: frozenset[uuid.UUID]) -> int:
        """Subscribers (sockets) here of these users."""
        by_user = self._by_user
        return sum(len(by_user.get(user_id.int, ())) for user_id in users)
