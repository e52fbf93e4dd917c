"""Garbage-collector pauses: measured, and kept short on a serving process.

A full (generation 2) collection walks every tracked object: ~0.1 s on this machine for a fresh
node, and it grows with every socket held; during it no frame is read or written, which shows up
as latency tails. A serving process therefore freezes what exists after start-up (modules,
schemas, metadata: never garbage) so full collections skip it, and every pause is measured.
"""

from __future__ import annotations

import gc
import time
from typing import Any

from prometheus_client import Histogram


class GcPauses:
    def __init__(self, histogram: Histogram) -> None:
        self._histogram = histogram
        self._started = 0.0
        self._frozen = False

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self._histogram.labels(str(info["generation"])).observe(
                time.perf_counter() - self._started
            )

    def start(self, *, freeze: bool) -> None:
        gc.callbacks.append(self._callback)
        if freeze:
            gc.collect()  # what is garbage now is freed, not frozen
            gc.freeze()
            self._frozen = True

    def stop(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)
        if self._frozen:
            gc.unfreeze()
            self._frozen = False
