"""SeenRecently: it saves queries, never answers "yes" on its own for a key the query has not
confirmed, and forgets after its TTL."""

from __future__ import annotations

import uuid

from hushroom.clock import FakeClock
from hushroom.services.seen_recently import SeenRecently


class Devices:
    def __init__(self, certified: set[uuid.UUID]) -> None:
        self.certified = certified
        self.asked: list[set[uuid.UUID]] = []

    async def query(self, ids: list[uuid.UUID]) -> set[uuid.UUID]:
        self.asked.append(set(ids))
        return {d for d in ids if d in self.certified}


async def test_a_device_seen_certified_is_not_queried_again_within_the_ttl() -> None:
    clock = FakeClock()
    a, b = uuid.uuid4(), uuid.uuid4()
    store = Devices({a})
    cache = SeenRecently[uuid.UUID](clock, ttl_s=30, max_size=100)
    assert await cache.which({a, b}, store.query) == {a}
    assert await cache.which({a, b}, store.query) == {a}
    # The second call asked only about b: uncertified answers are never remembered.
    assert store.asked == [{a, b}, {b}]
    store.certified.add(b)
    assert await cache.which({a, b}, store.query) == {a, b}
    assert await cache.which({a, b}, store.query) == {a, b}
    assert store.asked == [{a, b}, {b}, {b}]


async def test_an_entry_expires_after_the_ttl() -> None:
    clock = FakeClock()
    a = uuid.uuid4()
    store = Devices({a})
    cache = SeenRecently[uuid.UUID](clock, ttl_s=30, max_size=100)
    await cache.which({a}, store.query)
    clock.advance(31)
    store.certified.clear()
    assert await cache.which({a}, store.query) == set()
    assert store.asked == [{a}, {a}]


async def test_memory_is_bounded_and_drops_the_oldest_first() -> None:
    clock = FakeClock()
    ids = [uuid.uuid4() for _ in range(4)]
    store = Devices(set(ids))
    cache = SeenRecently[uuid.UUID](clock, ttl_s=30, max_size=3)
    for device_id in ids:
        await cache.which({device_id}, store.query)
    store.asked.clear()
    assert await cache.which(set(ids), store.query) == set(ids)
    # Only the oldest fell out beyond three entries, so only it was asked about again.
    assert store.asked == [{ids[0]}]
