"""`hushroom serve --workers 2`: /metrics reports every worker, whichever one answers
(prometheus_client's multiprocess mode, src/hushroom/metrics.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector

from tests.multinode.conftest import REDIS_URL, START_TIMEOUT_S, _truncate, require_redis
from tests.multinode.helpers import clients
from tests.support.metrics import sample
from tests.support.server import METRICS_AUTH, METRICS_TOKEN, free_port

pytestmark = pytest.mark.timeout(600)

NOT_FOUND = "/api/v1/no-such-route"


def worker_files(run_dir: Path, kind: str) -> dict[int, Path]:
    """Each worker's file of `kind` (counter, gauge_livesum…), by pid."""
    found = {}
    for path in run_dir.glob(f"{kind}_*.db"):
        pid = path.stem.rsplit("_", 1)[1]
        if pid.isdigit():
            found[int(pid)] = path
    return found


def worker_value(path: Path, name: str, **labels: str) -> float:
    """What one worker's file holds for a sample (pid label aside)."""
    total = 0.0
    for metric in MultiProcessCollector.merge([str(path)], accumulate=False):
        for s in metric.samples:
            own = {k: v for k, v in s.labels.items() if k != "pid"}
            if s.name == name and own == labels:
                total += s.value
    return total


async def get_fresh_connection(url: str) -> httpx.Response:
    """One request on a new connection: the kernel hands it to either worker."""
    async with httpx.AsyncClient(timeout=5) as http:
        return await http.get(url, headers={"connection": "close"})


async def scrape(base_url: str) -> str:
    async with httpx.AsyncClient(timeout=5) as http:
        r = await http.get(f"{base_url}/metrics", headers=METRICS_AUTH)
    assert r.status_code == 200, r.text
    return r.text


async def test_metrics_sum_every_worker(pg_database: str, tmp_path: Path) -> None:
    require_redis()
    await asyncio.to_thread(_truncate, pg_database)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    data_dir = tmp_path / "data"
    # A run of an earlier `serve` that was killed (its pid is gone): removed at start.
    stale = data_dir / "metrics" / "999999999"
    stale.mkdir(parents=True)
    (stale / "counter_123.db").write_bytes(b"\0" * 16)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUSHROOM_", "PROMETHEUS_"))}
    env.update(
        HUSHROOM_DATA_DIR=str(data_dir),
        HUSHROOM_DATABASE_URL=pg_database,
        HUSHROOM_REDIS_URL=REDIS_URL,
        HUSHROOM_REDIS_PREFIX=f"hushroom-test:{secrets.token_hex(6)}:",
        HUSHROOM_PORT=str(port),
        HUSHROOM_ALLOWED_ORIGINS=json.dumps([base_url]),
        HUSHROOM_METRICS_TOKEN=METRICS_TOKEN,
        HUSHROOM_RATE_LIMIT_SCALE="1000",
    )
    log_path = tmp_path / "server.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(  # noqa: ASYNC220 (returns at once)
            [sys.executable, "-m", "hushroom.cli", "serve", "--workers", "2"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    run_dir = data_dir / "metrics" / str(proc.pid)
    try:
        # Both workers started (spawning them is slow on a busy machine), then ready.
        deadline = time.monotonic() + 2 * START_TIMEOUT_S
        ok = False
        while not ok:
            assert proc.poll() is None, log_path.read_text()[-4000:]
            assert time.monotonic() < deadline, log_path.read_text()[-4000:]
            await asyncio.sleep(0.2)
            if log_path.read_text().count("Application startup complete") < 2:
                continue
            try:
                ok = (await get_fresh_connection(f"{base_url}/readyz")).status_code == 200
            except httpx.HTTPError:
                ok = False
        assert run_dir.is_dir()
        assert not stale.exists()

        # 404s on new connections until both workers have answered some.
        before = await scrape(base_url)
        sent = 0
        answered: set[int] = set()
        while len(answered) < 2:
            assert sent < 2000, f"one worker answered all {sent} requests"
            for r in await asyncio.gather(
                *(get_fresh_connection(f"{base_url}{NOT_FOUND}") for _ in range(20))
            ):
                assert r.status_code == 404
            sent += 20
            answered = {
                pid
                for pid, path in worker_files(run_dir, "counter").items()
                if worker_value(path, "hushroom_http_requests_total", method="GET", status="404")
            }

        # Whichever worker answers the scrape reports the sum of both.
        for _ in range(6):
            text = await scrape(base_url)
            assert sample(
                text, "hushroom_http_requests_total", method="GET", status="404"
            ) == sent + sample(before, "hushroom_http_requests_total", method="GET", status="404")
            assert sample(text, "hushroom_errors_total", code="not_found", transport="http") == (
                sent + sample(before, "hushroom_errors_total", code="not_found", transport="http")
            )
        assert sample(before, "hushroom_http_requests_total", method="GET", status="404") == 0
        # One series per metric, no per-worker `pid` label.
        assert 'pid="' not in text

        # Open sockets: summed over the live workers.
        names = [f"M{i}" for i in range(6)]
        async with clients(*((n, base_url) for n in names)) as people:
            for person in people:
                await person.connect()
            for _ in range(6):
                text = await scrape(base_url)
                assert sample(text, "hushroom_ws_connections") == len(people)
                assert sample(text, "hushroom_wire_direct_writes") == 1
                assert sample(text, "hushroom_fanout_redis_connected") == 1

            # A worker killed outright cannot drop its sockets from the sum itself: the next
            # scrape does (the supervisor starts a replacement).
            live = worker_files(run_dir, "gauge_livesum")
            assert len(live) == 2
            victim = max(live, key=lambda pid: worker_value(live[pid], "hushroom_ws_connections"))
            on_victim = worker_value(live[victim], "hushroom_ws_connections")
            os.kill(victim, signal.SIGKILL)
            gone = time.monotonic() + 30
            with contextlib.suppress(ProcessLookupError):
                while time.monotonic() < gone:
                    os.kill(victim, 0)  # until the supervisor reaps it (a zombie is "alive")
                    await asyncio.sleep(0.05)
            text = await scrape(base_url)
            assert not live[victim].exists()
            # Counters keep the dead worker's counts.
            assert sample(text, "hushroom_errors_total", code="not_found", transport="http") >= (
                sent
            )
            # Its sockets are gone (the clients may reconnect to the survivor meanwhile).
            assert sample(text, "hushroom_ws_connections") <= len(people)
            assert on_victim > 0

        # The replacement worker up before the SIGTERM (one stopped while it still starts can
        # take long to exit).
        deadline = time.monotonic() + START_TIMEOUT_S
        while log_path.read_text().count("Application startup complete") < 3:
            assert time.monotonic() < deadline, log_path.read_text()[-4000:]
            await asyncio.sleep(0.2)
        assert len(worker_files(run_dir, "gauge_livesum")) == 2
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(proc.wait, 60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
    assert proc.returncode in (0, -signal.SIGTERM), log_path.read_text()[-4000:]
    # `serve` removes its run's directory on the way out.
    assert not run_dir.exists()
