"""Prometheus metrics, on a registry owned by the container (no module-level globals).

One process (`hushroom serve`, `--workers 1`, the in-process test apps): the values live in
memory, on `Metrics.registry`, and /metrics renders that registry.

Several workers (`hushroom serve --workers N`): each worker is a separate process, and whichever
one answers /metrics must report them all. `serve` gives the workers prometheus_client's
multiprocess mode (`prepare_multiprocess_dir`): before they start, it points
`PROMETHEUS_MULTIPROC_DIR` at a fresh directory of its own under the data dir, so every
worker's values live in small memory-mapped files there, and /metrics (`exposition`) merges
the files of every worker, past ones included: counters and histograms are summed (a restarted
worker's counts are not lost), `hushroom_ws_connections` sums the live workers, and the 0/1
gauges report the minimum over the live workers (0 when any worker is down on it). A worker that
exits cleanly drops its live gauges (`process_exiting`); one that was killed is dropped by the
next scrape (`_reap_dead_workers`).
"""

from __future__ import annotations

import atexit
import glob
import logging
import os
import re
import shutil
from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

log = logging.getLogger("hushroom.metrics")

# `gauge_livesum_1234.db`, `gauge_livemin_1234.db`: a worker's live gauges.
_LIVE_GAUGE_FILE = re.compile(r"^gauge_live[a-z]+_(\d+)\.db$")


def prepare_multiprocess_dir(data_dir: Path) -> Path:
    """For `serve --workers N`, before the workers start: a fresh, empty directory for this
    run (`<data_dir>/metrics/<pid of serve>`), exported as `PROMETHEUS_MULTIPROC_DIR` to the
    workers, and removed when `serve` exits. Directories of earlier runs whose `serve` is gone
    (killed, so it could not remove its own) are removed here; those of a `serve` still running
    on the same data dir are left alone."""
    root = data_dir.resolve() / "metrics"
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    me = os.getpid()
    for child in root.iterdir():
        # Our own pid too: in a container `serve` is often pid 1 on every run.
        if child.name.isdigit() and (int(child.name) == me or not _alive(int(child.name))):
            shutil.rmtree(child, ignore_errors=True)
    run_dir = root / str(me)
    run_dir.mkdir(mode=0o700)
    os.environ[MULTIPROC_ENV] = str(run_dir)
    # Only `serve` registers this: spawned workers start a fresh interpreter.
    atexit.register(shutil.rmtree, run_dir, True)
    return run_dir


def _multiprocess_dir() -> Path | None:
    """The multiprocess directory when this process records its values there: prometheus_client
    picks its value class when first imported, from the same environment variable."""
    path = os.environ.get(MULTIPROC_ENV)
    if not path:
        return None
    if not getattr(values.ValueClass, "_multiprocess", False):
        log.warning("%s was set after prometheus_client was imported: ignored", MULTIPROC_ENV)
        return None
    return Path(path)


def _mark_dead(pid: int, path: Path) -> None:
    """Drop the live gauges of worker `pid` (its counters and histograms stay in the sums)."""
    multiprocess.mark_process_dead(pid, str(path))  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.multiprocess_dir = _multiprocess_dir()
        if self.multiprocess_dir is not None:
            # A dead worker whose pid this one reuses: its live gauges must not become ours.
            _mark_dead(os.getpid(), self.multiprocess_dir)
        self.ws_connections = Gauge(
            "hushroom_ws_connections",
            "Open authenticated WebSocket connections",
            multiprocess_mode="livesum",
            registry=self.registry,
        )
        self.messages_sent = Counter(
            "hushroom_messages_sent_total", "Messages stored", ["kind"], registry=self.registry
        )
        self.send_latency = Histogram(
            "hushroom_send_seconds",
            "Time from receiving a send to its ack (includes the commit)",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
        )
        self.send_batch_size = Histogram(
            "hushroom_send_batch_size",
            "Sends stored per transaction (group commit)",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
            registry=self.registry,
        )
        self.gc_pauses = Histogram(
            "hushroom_gc_pause_seconds",
            "Garbage-collector pauses (nothing else runs meanwhile)",
            ["generation"],
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
        )
        self.http_requests = Counter(
            "hushroom_http_requests_total",
            "HTTP requests",
            ["method", "status"],
            registry=self.registry,
        )
        # transport="http": every HTTP response with status >= 400, by its problem `code`
        # (api/http_metrics.py); transport="ws": every command a WebSocket answered with an
        # error frame, by its `code`.
        self.errors = Counter(
            "hushroom_errors_total",
            "Errors returned to clients, by stable error code and transport (http, ws)",
            ["code", "transport"],
            registry=self.registry,
        )
        self.ws_closes = Counter(
            "hushroom_ws_closes_total", "WebSocket closes by code", ["code"], registry=self.registry
        )
        self.wire_direct_writes = Gauge(
            "hushroom_wire_direct_writes",
            "1: WebSocket frames are written straight to the transport (gateway/wire.py); "
            "0: the start-up self-check fell back to plain ASGI sends",
            multiprocess_mode="livemin",
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        """The text format for /metrics: this process's registry, or with several workers the
        merge of every worker's files."""
        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        self._reap_dead_workers()
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged, path=str(self.multiprocess_dir))  # type: ignore[no-untyped-call]
        return generate_latest(merged)

    def process_exiting(self) -> None:
        """At a worker's clean exit: its live gauges (open sockets…) stop counting."""
        if self.multiprocess_dir is not None:
            _mark_dead(os.getpid(), self.multiprocess_dir)

    def _reap_dead_workers(self) -> None:
        """Drop the live gauges of workers that died without `process_exiting` (killed); the
        supervisor starts a replacement with a new pid."""
        assert self.multiprocess_dir is not None
        pids = set()
        for path in glob.glob(os.path.join(self.multiprocess_dir, "gauge_live*_*.db")):
            match = _LIVE_GAUGE_FILE.match(os.path.basename(path))
            if match:
                pids.add(int(match.group(1)))
        for pid in pids:
            if not _alive(pid):
                _mark_dead(pid, self.multiprocess_dir)
