"""GC pauses are measured, and a serving process keeps start-up objects out of full collections."""

from __future__ import annotations

import gc

from hushroom.gc_pauses import GcPauses
from hushroom.metrics import Metrics


def pauses(metrics: Metrics, generation: int) -> float:
    value = metrics.registry.get_sample_value(
        "hushroom_gc_pause_seconds_count", {"generation": str(generation)}
    )
    return value or 0.0


def test_every_collection_is_measured_by_generation() -> None:
    metrics = Metrics()
    watch = GcPauses(metrics.gc_pauses)
    watch.start(freeze=False)
    try:
        before = pauses(metrics, 2)
        gc.collect()
        gc.collect(0)
        assert pauses(metrics, 2) == before + 1
        assert pauses(metrics, 0) >= 1
    finally:
        watch.stop()
    gc.collect()
    assert pauses(metrics, 2) == before + 1  # stopped: no longer counted


def test_freeze_moves_startup_objects_out_of_collections_until_stop() -> None:
    metrics = Metrics()
    watch = GcPauses(metrics.gc_pauses)
    # Python 3.12+ starts with a few hundred objects frozen by the interpreter itself.
    before = gc.get_freeze_count()
    watch.start(freeze=True)
    try:
        assert gc.get_freeze_count() > before + 1000
        # New objects are still collected: a cycle made now is freed.
        cycle: list[object] = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1
    finally:
        watch.stop()
    assert gc.get_freeze_count() <= before
