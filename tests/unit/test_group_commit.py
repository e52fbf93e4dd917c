"""Group commit: calls made while a batch is stored wait for the next one; each gets its own
outcome only after the handler returned."""

from __future__ import annotations

import asyncio

import pytest

from hushroom.services.group_commit import GroupCommit


class Recorder:
    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.release = asyncio.Event()
        self.release.set()

    async def handler(self, items: list[int]) -> list[int | Exception]:
        self.batches.append(list(items))
        await self.release.wait()
        return [ValueError(f"odd {i}") if i % 2 else i * 10 for i in items]


async def test_lone_call_goes_straight_through() -> None:
    rec = Recorder()
    commit = GroupCommit(rec.handler, max_batch=8)
    assert await commit.submit(4) == 40
    assert rec.batches == [[4]]


async def test_calls_made_during_a_batch_share_the_next_one() -> None:
    rec = Recorder()
    rec.release.clear()
    commit = GroupCommit(rec.handler, max_batch=100)
    first = asyncio.create_task(commit.submit(0))
    await asyncio.sleep(0)  # the first batch (just [0]) is now being stored
    rest = [asyncio.create_task(commit.submit(i)) for i in range(2, 42, 2)]
    await asyncio.sleep(0)
    rec.release.set()
    assert await first == 0
    assert [await t for t in rest] == [i * 10 for i in range(2, 42, 2)]
    assert rec.batches == [[0], list(range(2, 42, 2))]


async def test_batches_never_exceed_max_batch() -> None:
    rec = Recorder()
    rec.release.clear()
    commit = GroupCommit(rec.handler, max_batch=3)
    tasks = [asyncio.create_task(commit.submit(i * 2)) for i in range(7)]
    await asyncio.sleep(0)
    rec.release.set()
    assert [await t for t in tasks] == [i * 20 for i in range(7)]
    assert [len(b) for b in rec.batches] == [3, 3, 1]


async def test_refusal_fails_only_its_own_call() -> None:
    rec = Recorder()
    commit = GroupCommit(rec.handler, max_batch=10)
    results = await asyncio.gather(*(commit.submit(i) for i in range(4)), return_exceptions=True)
    assert results[0] == 0
    assert results[2] == 20
    assert isinstance(results[1], ValueError)
    assert isinstance(results[3], ValueError)


async def test_cancelled_caller_does_not_disturb_the_others() -> None:
    rec = Recorder()
    rec.release.clear()
    commit = GroupCommit(rec.handler, max_batch=10)
    first = asyncio.create_task(commit.submit(0))
    await asyncio.sleep(0)
    impatient = asyncio.create_task(commit.submit(2))
    patient = asyncio.create_task(commit.submit(4))
    await asyncio.sleep(0)
    impatient.cancel()
    rec.release.set()
    assert await first == 0
    assert await patient == 40
    with pytest.raises(asyncio.CancelledError):
        await impatient
    # The cancelled call was still handled (stored): a retry would find it.
    assert rec.batches == [[0], [2, 4]]


async def test_handler_bug_fails_every_call_of_its_batch_and_recovers() -> None:
    calls = 0

    async def flaky(items: list[int]) -> list[int | Exception]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("bug")
        return list(items)

    commit = GroupCommit(flaky, max_batch=10)
    with pytest.raises(RuntimeError):
        await commit.submit(1)
    assert await commit.submit(2) == 2


async def test_cancelled_worker_cancels_every_waiting_call() -> None:
    rec = Recorder()
    rec.release.clear()
    commit = GroupCommit(rec.handler, max_batch=10)
    first = asyncio.create_task(commit.submit(0))
    await asyncio.sleep(0)
    waiting = asyncio.create_task(commit.submit(2))
    await asyncio.sleep(0)
    (worker,) = commit._workers
    worker.cancel()
    results = await asyncio.wait_for(asyncio.gather(first, waiting, return_exceptions=True), 5)
    assert all(isinstance(r, asyncio.CancelledError) for r in results)
    # A later call starts a new worker.
    rec.release.set()
    assert await commit.submit(6) == 60


def test_max_batch_below_one_is_refused() -> None:
    async def handler(items: list[int]) -> list[int | Exception]:
        return list(items)

    with pytest.raises(ValueError, match="max_batch"):
        GroupCommit(handler, max_batch=0)


async def test_second_worker_takes_what_arrives_while_the_first_batch_is_stored() -> None:
    rec = Recorder()
    rec.release.clear()
    commit = GroupCommit(rec.handler, max_batch=100, workers=2)
    first = asyncio.create_task(commit.submit(0))
    await asyncio.sleep(0)
    second = asyncio.create_task(commit.submit(2))
    await asyncio.sleep(0)
    rest = [asyncio.create_task(commit.submit(i)) for i in (4, 6, 8)]
    await asyncio.sleep(0)
    assert rec.batches == [[0], [2]]  # two batches in flight; the rest wait for a free worker
    rec.release.set()
    assert [await t for t in (first, second, *rest)] == [0, 20, 40, 60, 80]
    assert sorted(map(sorted, rec.batches)) == [[0], [2], [4, 6, 8]]
    assert not commit._workers


def test_workers_below_one_are_refused() -> None:
    async def handler(items: list[int]) -> list[int | Exception]:
        return list(items)

    with pytest.raises(ValueError, match="workers"):
        GroupCommit(handler, max_batch=1, workers=0)


async def test_second_worker_waits_until_spill_at_calls_are_waiting() -> None:
    rec = Recorder()
    rec.release.clear()
    commit = GroupCommit(rec.handler, max_batch=100, workers=2, spill_at=3)
    first = asyncio.create_task(commit.submit(0))
    await asyncio.sleep(0)
    few = [asyncio.create_task(commit.submit(i)) for i in (2, 4)]
    await asyncio.sleep(0)
    assert rec.batches == [[0]]  # 2 waiting: below the spill, they wait for the first worker
    more = asyncio.create_task(commit.submit(6))
    await asyncio.sleep(0)  # the call starts the worker...
    await asyncio.sleep(0)  # ...which takes the batch
    assert rec.batches == [[0], [2, 4, 6]]  # the 3rd waiting call starts the second batch
    rec.release.set()
    assert [await t for t in (first, *few, more)] == [0, 20, 40, 60]
    assert not commit._workers


def test_spill_at_below_one_is_refused() -> None:
    async def handler(items: list[int]) -> list[int | Exception]:
        return list(items)

    with pytest.raises(ValueError, match="spill_at"):
        GroupCommit(handler, max_batch=1, spill_at=0)


async def test_a_keys_later_calls_wait_for_its_batch_in_flight() -> None:
    """A socket's pipelined sends (one key) never sit in two batches at once, so a later one
    cannot commit before an earlier one; other keys still use the second worker."""
    rec = Recorder()
    rec.release.clear()
    commit = GroupCommit(rec.handler, max_batch=100, workers=2)
    first = asyncio.create_task(commit.submit(0, key="a"))
    await asyncio.sleep(0)  # batch [0] (key a) in flight
    later = [
        asyncio.create_task(commit.submit(i, key=k))
        for i, k in ((2, "a"), (4, "b"), (6, None), (8, "a"))
    ]
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    # The second worker takes the calls of other keys only; key a's wait, in order.
    assert rec.batches == [[0], [4, 6]]
    rec.release.set()
    assert [await t for t in (first, *later)] == [0, 20, 40, 60, 80]
    assert rec.batches == [[0], [4, 6], [2, 8]]
    assert not commit._workers
    assert not commit._busy


async def test_a_worker_finding_only_waiting_keys_leaves_them_to_the_batch_in_flight() -> None:
    rec = Recorder()
    rec.release.clear()
    commit = GroupCommit(rec.handler, max_batch=100, workers=2)
    first = asyncio.create_task(commit.submit(0, key="a"))
    await asyncio.sleep(0)
    second = asyncio.create_task(commit.submit(2, key="a"))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert rec.batches == [[0]]  # the second worker found nothing it may take, and left
    assert len(commit._workers) == 1
    rec.release.set()
    assert [await first, await second] == [0, 20]
    assert rec.batches == [[0], [2]]
    assert not commit._workers
