"""Servers under test: `hushroom serve` on PostgreSQL (and Redis for two nodes), and the transport
baseline. Each is a subprocess pinned to the server cores, with the open-file limit raised."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil
from tests.support.redis_server import private_redis_args

from bench.common import pin, set_nofile_max
from hushroom.config import encode_at_rest_key

PG_ADMIN_DSN = os.environ.get(
    "HUSHROOM_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
# HUSHROOM_BENCH_DB: another name, so two runs on one PostgreSQL do not drop each other's.
BENCH_DB = os.environ.get("HUSHROOM_BENCH_DB", "hushroom_bench")
REDIS_URL = os.environ.get("HUSHROOM_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")

# Settings that only make the benchmark's setup fast or keep its load generator from tripping
# per-connection abuse limits; none of them is on the measured paths (see docs/performance.md).
BENCH_ENV = {
    # Registration and login run server-side Argon2id; hundreds of accounts at the production
    # cost (19 MiB, t=2) would take minutes of setup. Login is not measured.
    "HUSHROOM_AUTH_HASH_MEMORY_KIB": "1024",
    "HUSHROOM_AUTH_HASH_TIME_COST": "1",
    "HUSHROOM_ACCESS_TOKEN_TTL_S": "7200",
    # Same token-bucket code runs, with a budget a bench sender never exceeds.
    "HUSHROOM_WS_FRAMES_PER_SECOND": "1000",
    "HUSHROOM_WS_FRAME_BURST": "2000",
    "HUSHROOM_MAX_CONNECTIONS_PER_USER": "50",
    # The load generator registers and connects every account from one address; the limit
    # checks still run (services/rate_limits.py), with budgets it never reaches.
    "HUSHROOM_RATE_LIMIT_SCALE": "100000",
    "HUSHROOM_LOG_LEVEL": "WARNING",
}


# One at-rest key-encryption key for every server of a run: each server has its own data
# directory, and a server can only read the data keys the first one created with this KEK.
_AT_REST_KEY = encode_at_rest_key(os.urandom(32))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def pg_url(dbname: str = BENCH_DB) -> str:
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{dbname}"


async def _recreate(dbname: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{dbname}"')
    finally:
        await conn.close()


def recreate_database(dbname: str = BENCH_DB) -> str:
    """A fresh, empty `hushroom_bench` (the server migrates it on start)."""
    asyncio.run(_recreate(dbname))
    return pg_url(dbname)


def _preexec(cpus: set[int]) -> Callable[[], None]:
    def run() -> None:
        set_nofile_max()
        pin(cpus)

    return run


class Server:
    """A server subprocess on a free loopback port; logs to `<log_dir>/<name>.log`."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        port: int,
        log_dir: Path,
        cpus: set[int],
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.argv = argv
        self.port = port
        self.log_path = log_dir / f"{name}.log"
        self.cpus = cpus
        self.env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.ps: psutil.Process | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self, timeout: float = 180.0) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.argv,
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_preexec(self.cpus),  # no threads in the parent yet
        )
        log.close()
        self.ps = psutil.Process(self.proc.pid)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited early:\n{self.log_path.read_text()[-3000:]}"
                )
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()  # not left running behind the error
        raise RuntimeError(f"{self.name} not ready in {timeout}s")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def sample(self) -> dict[str, Any]:
        """CPU seconds (user+system, this process and children) and RSS in bytes."""
        assert self.ps is not None
        t = self.ps.cpu_times()
        return {
            "cpu_s": t.user + t.system + t.children_user + t.children_system,
            "rss": self.ps.memory_info().rss,
            "fds": self.ps.num_fds(),
            "t": time.monotonic(),
        }

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


def hushroom_server(
    name: str,
    database_url: str,
    log_dir: Path,
    cpus: set[int],
    module: str = "hushroom.cli",
    port: int | None = None,
    **extra: str,
) -> Server:
    """`module`: `bench.fallback_serve` runs it on the gateway's fallback path (ASGI sends)."""
    port = port or free_port()
    data_dir = log_dir / f"{name}-data"
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **BENCH_ENV,
        "HUSHROOM_DATABASE_URL": database_url,
        "HUSHROOM_DATA_DIR": str(data_dir),
        "HUSHROOM_PORT": str(port),
        "HUSHROOM_HOST": "127.0.0.1",
        "HUSHROOM_JWT_SECRET": "bench-secret-" + "z" * 40,
        "HUSHROOM_AT_REST_KEY": _AT_REST_KEY,
        "HUSHROOM_ALLOWED_ORIGINS": f'["http://127.0.0.1:{port}"]',
        **extra,
    }
    if module != "hushroom.cli":
        env["PYTHONPATH"] = str(Path(__file__).parent.parent)
    return Server(name, [sys.executable, "-m", module, "serve"], port, log_dir, cpus, env)


def baseline_server(log_dir: Path, cpus: set[int]) -> Server:
    port = free_port()
    argv = [sys.executable, "-m", "bench.baseline_server", "--port", str(port)]
    return Server(
        "baseline", argv, port, log_dir, cpus, {"PYTHONPATH": str(Path(__file__).parent.parent)}
    )


class PrivateRedis:
    """A redis-server of the bench's own on a free port (no persistence), so a storm can
    SIGKILL and restart it without touching the machine's shared Redis."""

    def __init__(self, log_dir: Path, cpus: set[int], port: int | None = None) -> None:
        self.port = port or free_port()
        self.dir = log_dir / "redis"
        self.log_path = log_dir / "redis.log"
        self.cpus = cpus
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 15.0) -> None:
        import shutil

        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server is not installed")
        self.dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [exe, *private_redis_args(self.port, self.dir)],
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_preexec(self.cpus),
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited:\n{self.log_path.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server not ready in {timeout}s")

    def kill(self) -> None:
        """SIGKILL: no goodbye to its clients."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
