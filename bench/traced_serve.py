"""`hushroom serve` with tracemalloc on: SIGUSR1 writes a snapshot of the Python heap to
`$HUSHROOM_BENCH_TRACE_DIR/snapshot-<n>.bin` (n = 1, 2, …). For `bench.conn_memory --trace`,
which compares the snapshots before and after N idle sockets by allocation site.

Run: `python -m bench.traced_serve serve` (the same arguments and environment as
`python -m hushroom.cli`).
"""

from __future__ import annotations

import itertools
import os
import signal
import tracemalloc
from pathlib import Path
from types import FrameType

# Frames kept per allocation: enough to tell which of our lines asked for a library's object.
TRACE_FRAMES = 8


def main() -> None:
    out = Path(os.environ["HUSHROOM_BENCH_TRACE_DIR"])
    counter = itertools.count(1)
    tracemalloc.start(TRACE_FRAMES)

    def dump(_signum: int, _frame: FrameType | None) -> None:
        tracemalloc.take_snapshot().dump(str(out / f"snapshot-{next(counter)}.bin"))

    signal.signal(signal.SIGUSR1, dump)
    from hushroom.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
