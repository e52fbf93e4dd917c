"""Server memory per idle authenticated WebSocket (budget: ≤ 25 KB each).

Starts `hushroom serve` on SQLite in a temporary data dir, registers a few users, opens N
authenticated connections that then stay idle, and reports the growth of the server's RSS
divided by N. A warm-up round (connections opened and closed) runs first, so one-off costs
(lazy imports, first-use caches, allocator arenas) do not count against the connections.

Run: `python -m bench.conn_memory --n 2000 [--users 10] [--runs 1]`.

`--trace`: the server runs under tracemalloc (bench/traced_serve.py, slower); the report adds
the Python heap's growth per connection by allocation site (the rest of the RSS growth is C:
socket buffers, the allocator's slack, objects of C extensions).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil
from websockets.asyncio.client import ClientConnection, connect

from bench.accounts import create_users
from bench.common import set_nofile_max
from bench.servers import Server, baseline_server, hushroom_server

CONCURRENCY = 64


async def _ticket(http: httpx.AsyncClient, base: str, token: str | None) -> str:
    if token is None:  # the transport baseline: the ticket is the user id
        return "baseline-user"
    r = await http.post(f"{base}/api/v1/ws-ticket", headers={"Authorization": f"Bearer {token}"})
    r.raise_for_status()
    return str(r.json()["ticket"])


async def _open(server: Server, users: list[dict[str, Any]], n: int) -> list[ClientConnection]:
    sem = asyncio.Semaphore(CONCURRENCY)
    async with httpx.AsyncClient(timeout=60) as http:

        async def one(i: int) -> ClientConnection:
            async with sem:
                ticket = await _ticket(http, server.base_url, users[i % len(users)].get("token"))
                ws = await connect(
                    server.ws_url, compression=None, open_timeout=30, ping_interval=None
                )
                await ws.send(orjson.dumps({"type": "auth", "ticket": ticket}).decode())
                first = await asyncio.wait_for(ws.recv(), 30)
                if not str(first).startswith('{"type":"ready"'):
                    raise RuntimeError(f"auth failed: {str(first)[:200]}")
                return ws

        return list(await asyncio.gather(*(one(i) for i in range(n))))


async def _close(conns: list[ClientConnection]) -> None:
    sem = asyncio.Semaphore(CONCURRENCY)

    async def one(ws: ClientConnection) -> None:
        async with sem:
            with contextlib.suppress(Exception):
                await ws.close()

    await asyncio.gather(*(one(ws) for ws in conns))


def _rss(ps: psutil.Process, settle_s: float) -> int:
    # Let the server finish any per-connection work (presence, ping timers) before sampling.
    time.sleep(settle_s)
    return int(ps.memory_info().rss)


# Allocation sites listed by `--trace`.
TRACE_TOP = 25


def _snapshot(server: Server, trace_dir: Path, n: int) -> tracemalloc.Snapshot:
    path = trace_dir / f"snapshot-{n}.bin"
    os.kill(server.pid, signal.SIGUSR1)
    deadline = time.monotonic() + 120
    size = -1
    while time.monotonic() < deadline:  # written once its size stops changing
        time.sleep(0.5)
        if path.exists() and path.stat().st_size == size:
            break
        size = path.stat().st_size if path.exists() else -1
    return tracemalloc.Snapshot.load(str(path))


def _site(frames: tracemalloc.Traceback) -> str:
    """The allocating line and, when that is a library's, the innermost line of ours that led
    to it (a Traceback runs from the oldest frame to the most recent)."""
    top = frames[-1]
    where = f"{top.filename.split('site-packages/')[-1]}:{top.lineno}"
    ours = [f for f in frames if "/src/hushroom/" in f.filename]
    if ours and ours[-1] is not top:
        return f"{ours[-1].filename.split('src/')[-1]}:{ours[-1].lineno} → {where}"
    return where


def _report_trace(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, n: int) -> None:
    sites: dict[str, int] = {}
    for stat in after.compare_to(before, "traceback"):
        key = _site(stat.traceback)
        sites[key] = sites.get(key, 0) + stat.size_diff
    total = sum(sites.values())
    print(f"  Python heap growth: {total / n / 1024:.2f} KB per connection; by site:")
    for key, size in sorted(sites.items(), key=lambda kv: -kv[1])[:TRACE_TOP]:
        print(f"    {size / n:8.0f} B  {key}")


async def _measure(
    server: Server,
    users: list[dict[str, Any]],
    n: int,
    settle: float,
    trace_dir: Path | None = None,
) -> float:
    ps = psutil.Process(server.pid)
    # Warm-up: first-use costs are not per connection.
    await _close(await _open(server, users, min(n, 200)))
    before = _rss(ps, settle)
    traced = _snapshot(server, trace_dir, 1) if trace_dir else None
    conns = await _open(server, users, n)
    after = _rss(ps, settle)
    if trace_dir and traced:
        _report_trace(traced, _snapshot(server, trace_dir, 2), n)
    await _close(conns)
    per_conn = (after - before) / n / 1024
    print(
        f"  rss before {before / 2**20:.1f} MiB, after {n} idle connections "
        f"{after / 2**20:.1f} MiB: {per_conn:.1f} KB per connection",
        flush=True,
    )
    return per_conn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="idle connections to open")
    parser.add_argument("--users", type=int, default=10, help="users the connections belong to")
    parser.add_argument("--runs", type=int, default=1, help="fresh server per run")
    parser.add_argument(
        "--baseline", action="store_true", help="measure bench.baseline_server (bare transport)"
    )
    parser.add_argument("--settle", type=float, default=3.0, help="seconds before each sample")
    parser.add_argument(
        "--trace", action="store_true", help="also the Python heap by allocation site (slower)"
    )
    args = parser.parse_args()
    set_nofile_max()
    results = []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="hushroom-connmem-") as tmp:
            log_dir = Path(tmp)
            # No CPU pinning: the measurement is memory, not CPU.
            if args.baseline:
                server = baseline_server(log_dir, set())
            else:
                server = hushroom_server(
                    "conn-memory",
                    f"sqlite+aiosqlite:///{log_dir / 'hushroom.db'}",
                    log_dir,
                    set(),
                    module="bench.traced_serve" if args.trace else "hushroom.cli",
                    HUSHROOM_MAX_CONNECTIONS_PER_USER=str(args.n + 1000),
                    HUSHROOM_BENCH_TRACE_DIR=str(log_dir),
                )
            server.start()
            try:
                users = (
                    [{"token": None}]
                    if args.baseline
                    else create_users(server.base_url, args.users, tag=f"mem{run}")
                )
                print(f"run {run + 1}/{args.runs}", flush=True)
                trace_dir = log_dir if args.trace and not args.baseline else None
                results.append(asyncio.run(_measure(server, users, args.n, args.settle, trace_dir)))
            finally:
                server.stop()
    print("KB per idle authenticated connection: " + ", ".join(f"{r:.1f}" for r in results))


if __name__ == "__main__":
    main()
