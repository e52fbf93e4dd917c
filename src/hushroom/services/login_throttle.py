"""Failed logins per email in a sliding window, in memory and bounded."""

from __future__ import annotations

import hashlib
from collections import OrderedDict, deque

from hushroom.clock import Clock
from hushroom.errors import RateLimited

# Login throttling: more than this many failures per email within the window → 429.
MAX_FAILED_LOGINS = 10
FAILED_LOGIN_WINDOW_S = 15 * 60
# Emails tracked at once; the least recently failed is forgotten first beyond this.
MAX_THROTTLED_EMAILS = 50_000


def _sha256(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8")).digest()


class LoginThrottle:
    """Failed logins per email in a sliding window, in memory and bounded.

    Keyed by a hash of the normalized email, so registered and unknown emails behave the same.
    """

    def __init__(self, clock: Clock, limit: int, window_s: float, max_keys: int) -> None:
        self._clock = clock
        self._limit = limit
        self._window_s = window_s
        self._max_keys = max_keys
        self._failures: OrderedDict[bytes, deque[float]] = OrderedDict()

    def _recent(self, key: bytes, now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self._window_s:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def check(self, email: str) -> None:
        now = self._clock.monotonic()
        times = self._recent(_sha256(email), now)
        if times is not None and len(times) >= self._limit:
            raise RateLimited(
                "too many failed logins; try again later",
                retry_after=max(1.0, times[0] + self._window_s - now),
            )

    def begin_attempt(self, email: str) -> None:
        """Refuse when the limit is reached; otherwise count this attempt as a failure until a
        success resets the count."""
        self.check(email)
        self.record_failure(email)

    def record_failure(self, email: str) -> None:
        now = self._clock.monotonic()
        key = _sha256(email)
        times = self._recent(key, now)
        if times is None:
            while len(self._failures) >= self._max_keys:
                self._failures.popitem(last=False)
            times = deque(maxlen=self._limit)
            self._failures[key] = times
        times.append(now)
        self._failures.move_to_end(key)

    def reset(self, email: str) -> None:
        self._failures.pop(_sha256(email), None)

    def __len__(self) -> int:
        return len(self._failures)
