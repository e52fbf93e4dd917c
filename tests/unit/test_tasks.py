"""Background tasks stop even when one swallows a cancellation (Python 3.11 wait_for race)."""

from __future__ import annotations

import asyncio

from hushroom.tasks import cancel_and_wait


async def test_task_that_swallows_first_cancel_is_still_stopped() -> None:
    swallowed = 0

    async def stubborn() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(0.05)
            except asyncio.CancelledError:
                if swallowed == 0:
                    swallowed += 1
                    continue  # what a racing wait_for does to a cancellation
                raise

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0.01)
    await asyncio.wait_for(cancel_and_wait([task, None]), 5)
    assert task.cancelled()
    assert swallowed == 1


async def test_failed_task_outcome_is_retrieved() -> None:
    async def fails() -> None:
        raise RuntimeError("boom")

    task = asyncio.create_task(fails())
    await asyncio.sleep(0)
    await cancel_and_wait([task])
    assert task.done()
