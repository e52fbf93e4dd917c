"""Schemathesis over /openapi.json against a real server process: no input yields a 5xx."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.accounts import register_and_login
from tests.support.server import ServerProcess


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_fuzzed_requests_never_get_a_server_error(
    live_server: ServerProcess, tmp_path: Path
) -> None:
    async def token() -> str:
        async with httpx.AsyncClient(base_url=live_server.base_url) as c:
            return (await register_and_login(c, "Fuzzer")).access_token

    access = asyncio.run(token())
    st = shutil.which("schemathesis") or str(Path(sys.executable).parent / "schemathesis")
    result = subprocess.run(
        [
            st,
            "run",
            f"{live_server.base_url}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--header",
            f"Authorization: Bearer {access}",
            "--max-examples",
            "10",
            "--seed",
            "20261127",
            "--phases",
            "coverage,fuzzing",
            "--request-timeout",
            "20",
            "--max-time",
            "75",
            "--generation-database",
            "none",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-6000:]
    assert " passed" in result.stdout
    # The server itself logged no unhandled error.
    assert "unhandled error" not in live_server.log_path.read_text()
