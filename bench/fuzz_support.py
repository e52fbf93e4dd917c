"""What bench/fuzz_http.py and bench/fuzz_ws.py share: the server under test (a real
`hushroom serve`, tests/support/server.py's `ServerProcess`), accounts, its /metrics counters,
its memory and its log, and where results go."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import psutil
from tests.support import databases
from tests.support.accounts import Account, register_and_login
from tests.support.server import METRICS_AUTH, ServerProcess

from bench.common import REPO, loadavg, machine_info

RESULTS = REPO / "bench" / "results"

# Lines uvicorn writes about a client's own mistake (rate-limited by logs.py; the exception's
# type and code location, never its text): expected under fuzzing, counted, not a failure.
# `Invalid UTF-8 sequence…` is logged at error level with `logger.exception` (and the gateway
# never sees the frame: uvicorn closes with 1007 itself).
CLIENT_FAULT_EVENTS = frozenset(
    {"Invalid UTF-8 sequence received from client.", "Invalid HTTP request received."}
)

# On top of ServerProcess's test settings (operator endpoints on, loopback trusted as proxy).
# Only the HTTP abuse limits and the server-side Argon2 cost are relaxed, so the fuzzers are not
# all 429s and login/register fuzz cases do not each cost 19 MiB and ≈ 50 ms of hashing; the
# WebSocket limits (frame size, frame rate, error budget, auth deadline) stay at their defaults.
FUZZ_ENV = {
    "HUSHROOM_RATE_LIMIT_SCALE": "100000",
    "HUSHROOM_AUTH_HASH_MEMORY_KIB": "1024",
    "HUSHROOM_AUTH_HASH_TIME_COST": "1",
    "HUSHROOM_ACCESS_TOKEN_TTL_S": "7200",
    # Errors and warnings are still logged (and scanned); the per-request info line is not.
    "HUSHROOM_LOG_LEVEL": "WARNING",
}


class FuzzServer:
    """A fresh database (SQLite file, or PostgreSQL database `hushroom_fuzz`) and a server."""

    def __init__(self, database: str, **env: str) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="hushroom-fuzz-")
        root = Path(self._tmp.name)
        if database == "postgres":
            from bench.servers import recreate_database

            url = recreate_database("hushroom_fuzz")
        else:
            url = databases.fresh_sqlite(databases.make_sqlite_template(root / "template"), root)
        self.database = database
        settings: dict[str, str] = {**FUZZ_ENV, **env}
        self.process = ServerProcess(url, root / "server", **settings)  # type: ignore[arg-type]
        self._ps: psutil.Process | None = None

    def start(self) -> None:
        self.process.start()
        assert self.process.proc is not None
        self._ps = psutil.Process(self.process.proc.pid)

    @property
    def base_url(self) -> str:
        return self.process.base_url

    @property
    def ws_url(self) -> str:
        return self.process.ws_url

    def alive(self) -> bool:
        proc = self.process.proc
        return proc is not None and proc.poll() is None

    def returncode(self) -> int | None:
        proc = self.process.proc
        return None if proc is None else proc.poll()

    def rss(self) -> int | None:
        if self._ps is None or not self.alive():
            return None
        return int(self._ps.memory_info().rss)

    def cpu_s(self) -> float | None:
        if self._ps is None or not self.alive():
            return None
        t = self._ps.cpu_times()
        return round(float(t.user + t.system), 2)

    def log_size(self) -> int:
        path = self.process.log_path
        return path.stat().st_size if path.exists() else 0

    def metrics(self) -> dict[str, dict[str, float]]:
        """Every `hushroom_*` counter of /metrics: name → {labels: value}."""
        r = httpx.get(f"{self.base_url}/metrics", headers=METRICS_AUTH, timeout=30)
        r.raise_for_status()
        out: dict[str, dict[str, float]] = {}
        for line in r.text.splitlines():
            m = re.match(r"^(hushroom_\w+?)(?:\{(.*)\})? (\S+)$", line)
            if m:
                out.setdefault(m.group(1), {})[m.group(2) or ""] = float(m.group(3))
        return out

    def stop(self) -> None:
        self.process.stop()
        self._tmp.cleanup()


def metric_delta(
    before: dict[str, dict[str, float]], after: dict[str, dict[str, float]], name: str
) -> dict[str, int]:
    """Increase of one labelled counter, keyed by its label values joined with ','."""
    out: dict[str, int] = {}
    for labels, value in after.get(name, {}).items():
        diff = int(value - before.get(name, {}).get(labels, 0.0))
        if diff:
            key = ",".join(v for v in re.findall(r'="([^"]*)"', labels)) or "-"
            out[key] = diff
    return dict(sorted(out.items()))


def scan_log(path: Path, start: int = 0) -> dict[str, Any]:
    """The server log from byte `start` on: its size, error and warning lines by event, and
    anything that looks like a traceback (our logs put exceptions in a `traceback` field;
    a raw Python traceback means something escaped the logging set-up)."""
    levels: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    server_faults: Counter[str] = Counter()
    warnings: Counter[str] = Counter()
    tracebacks = 0
    raw_tracebacks = 0
    unparsed = 0
    samples: list[str] = []
    size = 0
    with path.open("rb") as f:
        f.seek(start)
        for raw in f:
            size += len(raw)
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if "Traceback (most recent call last)" in line:
                raw_tracebacks += 1
            try:
                event = json.loads(line)
            except ValueError:
                unparsed += 1
                if len(samples) < 10:
                    samples.append(line[:300])
                continue
            if not isinstance(event, dict):
                unparsed += 1
                continue
            level = str(event.get("level", "?"))
            levels[level] += 1
            name = str(event.get("event", "?"))[:120]
            client_fault = name in CLIENT_FAULT_EVENTS
            if "traceback" in event and not client_fault:
                tracebacks += 1
            if level in ("error", "critical", "exception"):
                errors[name] += 1
                if not client_fault:
                    server_faults[name] += 1
                if len(samples) < 10:
                    samples.append(line[:600])
            elif level == "warning":
                warnings[name] += 1
    return {
        "bytes": size,
        "lines_by_level": dict(levels),
        "error_events": dict(errors),
        # Error lines other than CLIENT_FAULT_EVENTS: a server fault (must stay empty).
        "server_fault_events": dict(server_faults),
        "warning_events": dict(warnings),
        # Exceptions logged other than CLIENT_FAULT_EVENTS (must stay 0).
        "traceback_fields": tracebacks,
        "raw_tracebacks": raw_tracebacks,
        "unparsed_lines": unparsed,
        "samples": samples,
    }


def register_accounts(base_url: str, names: list[str]) -> list[Account]:
    """Real-key accounts (tests/support/accounts.py), logged in."""

    async def run() -> list[Account]:
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as c:
            return [await register_and_login(c, name) for name in names]

    return asyncio.run(run())


def write_result(kind: str, result: dict[str, Any], out: Path | None) -> Path:
    """bench/results/<UTC>-fuzz-<kind>.json, and a copy at `out` (e.g. latest-quick/)."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{stamp}-fuzz-{kind}.json"
    text = json.dumps(result, indent=1, sort_keys=False) + "\n"
    path.write_text(text)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    return path


def header(kind: str) -> dict[str, Any]:
    return {
        "benchmark": f"fuzz_{kind}",
        "started_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
    }


def status_classes(statuses: dict[str, int]) -> dict[str, int]:
    out: Counter[str] = Counter()
    for status, n in statuses.items():
        out[f"{status[0]}xx" if status.isdigit() else status] += n
    return dict(sorted(out.items()))


__all__ = [
    "FuzzServer",
    "header",
    "loadavg",
    "metric_delta",
    "register_accounts",
    "scan_log",
    "status_classes",
    "write_result",
]
