"""A real server process (uvicorn via `hushroom serve`) for tests that need real sockets,
restarts and `kill -9`."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def installed_binary(candidates: tuple[str, ...], what: str) -> str:
    """The first candidate on PATH (or at its absolute path); fails the test if none is."""
    for candidate in candidates:
        found = shutil.which(candidate)
        if found:
            return found
    pytest.fail(f"{what} is not installed: run `make services` (scripts/services.sh)")


class ServerProcess:
    """`hushroom serve` on a free loopback port; logs go to `<data_dir>/server.log`."""

    def __init__(self, database_url: str, data_dir: Path, **env: str) -> None:
        self.database_url = database_url
        self.data_dir = data_dir
        self.port = free_port()
        self.extra_env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / "server.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self, timeout: float = 90.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "HUSHROOM_DATABASE_URL": self.database_url,
            "HUSHROOM_DATA_DIR": str(self.data_dir),
            "HUSHROOM_PORT": str(self.port),
            "HUSHROOM_HOST": "127.0.0.1",
            "HUSHROOM_JWT_SECRET": "live-test-secret-" + "y" * 40,
            "HUSHROOM_ALLOWED_ORIGINS": f'["http://127.0.0.1:{self.port}"]',
            **self.extra_env,
        }
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hushroom.cli", "serve"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log_path.read_text()[-4000:]}")
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server not ready in {timeout}s:\n{self.log_path.read_text()[-4000:]}")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def restart(self) -> None:
        self.stop()
        self.start()
