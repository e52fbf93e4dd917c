"""A real server process (uvicorn via `hushroom serve`) for tests that need real sockets,
restarts and `kill -9`."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
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


# Operator-only endpoints, on for test servers: /metrics with this token, /openapi.json.
METRICS_TOKEN = "test-metrics-token-" + "m" * 20
METRICS_AUTH = {"authorization": f"Bearer {METRICS_TOKEN}"}


@dataclass(frozen=True)
class TlsFiles:
    """A server certificate (chain, leaf first), its key, and the CA that clients trust."""

    cert: Path
    key: Path
    ca: Path


class ServerProcess:
    """`hushroom serve` on a free loopback port; logs go to `<data_dir>/server.log`.
    /metrics answers `METRICS_AUTH`, and /openapi.json is served.

    With `tls`, it serves HTTPS (`--tls-cert/--tls-key`), and with `http_redirect` also the
    plain listener on `redirect_port` (`--http-redirect-port`)."""

    def __init__(
        self,
        database_url: str,
        data_dir: Path,
        *,
        tls: TlsFiles | None = None,
        http_redirect: bool = False,
        **env: str,
    ) -> None:
        self.database_url = database_url
        self.data_dir = data_dir
        self.port = free_port()
        self.tls = tls
        self.redirect_port = free_port() if tls is not None and http_redirect else None
        self.extra_env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / "server.log"

    @property
    def base_url(self) -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        scheme = "wss" if self.tls is not None else "ws"
        return f"{scheme}://127.0.0.1:{self.port}/ws"

    @property
    def verify(self) -> ssl.SSLContext | bool:
        """httpx's `verify` for this server: a context trusting the test CA over TLS."""
        return ssl.create_default_context(cafile=self.tls.ca) if self.tls is not None else True

    def serve_args(self) -> list[str]:
        if self.tls is None:
            return []
        args = ["--tls-cert", str(self.tls.cert), "--tls-key", str(self.tls.key)]
        if self.redirect_port is not None:
            args += ["--http-redirect-port", str(self.redirect_port)]
        return args

    def start(self, timeout: float = 90.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "HUSHROOM_DATABASE_URL": self.database_url,
            "HUSHROOM_DATA_DIR": str(self.data_dir),
            "HUSHROOM_PORT": str(self.port),
            "HUSHROOM_HOST": "127.0.0.1",
            "HUSHROOM_JWT_SECRET": "live-test-secret-" + "y" * 40,
            "HUSHROOM_ALLOWED_ORIGINS": f'["{self.base_url}"]',
            "HUSHROOM_METRICS_TOKEN": METRICS_TOKEN,
            "HUSHROOM_API_DOCS": "true",
            # Many logins from one address; the abuse-limit tests pass "1" (the defaults).
            "HUSHROOM_RATE_LIMIT_SCALE": "1000",
            # Loopback is the trusted proxy (nginx in the multi-node tests): its
            # X-Forwarded-For and -Proto are believed, nobody else's.
            "HUSHROOM_TRUSTED_PROXIES": '["127.0.0.1"]',
            **self.extra_env,
        }
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hushroom.cli", "serve", *self.serve_args()],
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
                ready = httpx.get(f"{self.base_url}/readyz", timeout=1.0, verify=self.verify)
                if ready.status_code == 200:
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
