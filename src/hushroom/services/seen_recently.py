"""Keys a query recently answered "yes" for, remembered briefly to save a database read per
request. Two uses: devices seen certified (a send batch with envelopes), users seen to exist
(every authenticated request, so a validly signed token of a deleted user gets 401).

Only positive answers are remembered, for `ttl_s`, and the number kept is bounded (the oldest go
first). Both facts change only by revocation or deletion, which also end the sessions involved at
once (services/revocations.py), so a stale "yes" cannot let an ended session through.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection, Hashable
from typing import Generic, TypeVar

from hushroom.clock import Clock

K = TypeVar("K", bound=Hashable)


class SeenRecently(Generic[K]):
    def __init__(self, clock: Clock, ttl_s: float, max_size: int) -> None:
        self._clock = clock
        self._ttl_s = ttl_s
        self._max_size = max_size
        self._until: OrderedDict[K, float] = OrderedDict()

    async def which(
        self, keys: Collection[K], query: Callable[[list[K]], Awaitable[set[K]]]
    ) -> set[K]:
        """The keys among `keys` the query says yes to; it is asked only about the others."""
        now = self._clock.monotonic()
        known = {k for k in keys if self._until.get(k, 0.0) > now}
        unknown = [k for k in keys if k not in known]
        if not unknown:
            return known
        found = await query(unknown)
        for key in found:
            self._until[key] = now + self._ttl_s
            self._until.move_to_end(key)
        while len(self._until) > self._max_size:
            self._until.popitem(last=False)
        return known | found
