"""Stopping background tasks reliably."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable


async def cancel_and_wait(tasks: Iterable[asyncio.Task[None] | None], rounds: int = 20) -> None:
    """Cancel the tasks and wait until every one has finished (their outcome is discarded).

    A single cancel() is not enough on Python 3.11: `asyncio.wait_for` (under driver calls such
    as redis-py's socket reads) can swallow a cancellation that races with its inner future
    completing, and a loop task then runs on. So cancel again until it stops.
    """
    owned = [t for t in tasks if t is not None]
    pending = {t for t in owned if not t.done()}
    for _ in range(rounds):
        if not pending:
            break
        for task in pending:
            task.cancel()
        _done, pending = await asyncio.wait(pending, timeout=0.5)
    for task in owned:
        if task.done():
            with contextlib.suppress(BaseException):
                task.result()  # retrieve, so no "exception was never retrieved" warning
