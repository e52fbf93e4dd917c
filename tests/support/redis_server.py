"""A private `redis-server` for tests that kill and restart Redis (the shared one serves the whole
run, so it must never be killed).

Loopback only, no persistence (`--save "" --appendonly no`): a restart comes back empty, as a
Redis without disk does. `kill()` sends SIGKILL; `start()` again brings it back on the same port,
so clients configured with its URL reconnect to the new process.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import redis

from tests.support.server import free_port, installed_binary

REDIS_CANDIDATES = ("redis-server", "/usr/bin/redis-server")


def redis_binary() -> str:
    return installed_binary(REDIS_CANDIDATES, "redis-server")


def private_redis_args(port: int, directory: Path) -> list[str]:
    """redis-server's options for a private server (also bench/servers.py's): loopback only,
    nothing saved, its files in `directory`."""
    return [
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(directory),
    ]


class RedisProcess:
    """`redis-server --port N --bind 127.0.0.1` in the foreground (a child of the test process);
    logs go to `<directory>/redis.log`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = directory / "redis.log"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 15.0) -> None:
        if self.running:
            raise RuntimeError("redis-server is already running")
        self.directory.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [redis_binary(), *private_redis_args(self.port, self.directory), "--daemonize", "no"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited early:\n{self.log_tail()}")
            if self.ping():
                return
            time.sleep(0.05)
        raise RuntimeError(f"redis-server not answering PING in {timeout}s:\n{self.log_tail()}")

    def ping(self) -> bool:
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def log_tail(self) -> str:
        return self.log_path.read_text()[-4000:] if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no shutdown, connections reset, every key gone."""
        if self.proc is None:
            raise RuntimeError("redis-server was not started")
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
