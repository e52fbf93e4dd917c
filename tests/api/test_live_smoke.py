from __future__ import annotations

import httpx

from tests.support.server import ServerProcess


def test_real_server_process_serves_readyz_and_openapi(live_server: ServerProcess) -> None:
    assert httpx.get(f"{live_server.base_url}/readyz").json() == {"status": "ready"}
    spec = httpx.get(f"{live_server.base_url}/openapi.json").json()
    assert "/api/v1/rooms" in spec["paths"]
