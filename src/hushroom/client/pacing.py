"""Pacing: reconnect delays (exponential backoff with jitter) and a client-side frame rate limit."""

from __future__ import annotations

import asyncio
import random
import re

# A restarting server's close (1012) says within how long to come back (docs/protocol.md § Close
# codes): each client picks a random moment in it, so the other nodes get the herd spread out.
_RESTART_HINT = re.compile(r"reconnect_within_ms=(\d{1,6})")
_SERVICE_RESTART = 1012
_MAX_HINT_MS = 60_000


def restart_spread_s(code: int | None, reason: str) -> float | None:
    """The `reconnect_within_ms` of a 1012 close, in seconds (None: no usable hint)."""
    if code != _SERVICE_RESTART:
        return None
    match = _RESTART_HINT.search(reason)
    if match is None:
        return None
    return min(int(match.group(1)), _MAX_HINT_MS) / 1000


class Backoff:
    """Delays base·2ⁿ capped at `cap`, each drawn uniformly from its upper half ("equal jitter"),
    so many clients dropped at once (a server restart) do not come back in lockstep."""

    def __init__(
        self, base: float = 0.25, cap: float = 5.0, rng: random.Random | None = None
    ) -> None:
        self.base = base
        self.cap = cap
        self._rng = rng or random.SystemRandom()
        self._attempt = 0

    def next(self) -> float:
        ceiling = min(self.cap, self.base * 2.0**self._attempt)
        self._attempt = min(self._attempt + 1, 30)
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def reset(self) -> None:
        self._attempt = 0


class RateLimit:
    """Client-side token bucket, kept under the server's (docs/protocol.md § Limits)."""

    def __init__(self, per_second: float, burst: int) -> None:
        self._rate = per_second
        self._burst = float(burst)
        self._tokens = float(burst)
        self._at: float | None = None

    async def acquire(self) -> None:
        now = asyncio.get_running_loop().time()
        if self._at is not None:
            self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = now
        self._tokens -= 1.0
        if self._tokens < 0:
            # A reservation: the token is taken now and paid for by waiting.
            await asyncio.sleep(-self._tokens / self._rate)
