"""The shipped nginx locations: security headers exactly once on every answer (the nodes' and
nginx's own), and no operator-only endpoint or source map served through it."""

from __future__ import annotations

import httpx
import pytest

from hushroom.security_headers import CONTENT_SECURITY_POLICY, PERMISSIONS_POLICY
from tests.multinode.conftest import Cluster
from tests.support.server import METRICS_AUTH

pytestmark = pytest.mark.timeout(240)

HEADERS = {
    "strict-transport-security": "max-age=63072000; includeSubDomains",
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": PERMISSIONS_POLICY,
}
HTML = {"accept": "text/html"}


def assert_headers_once(r: httpx.Response) -> None:
    where = f"{r.request.method} {r.request.url.raw_path.decode()} → {r.status_code}"
    for name, value in HEADERS.items():
        assert r.headers.get_list(name) == [value], f"{name} on {where}"


async def test_every_answer_through_nginx_carries_the_headers_once(cluster: Cluster) -> None:
    async with httpx.AsyncClient(base_url=cluster.nginx.base_url, timeout=10) as http:
        answers = [
            await http.get("/", headers=HTML),  # the web client (or the status page)
            await http.get("/healthz"),
            await http.get("/api/v1/conversations"),  # 401 problem from a node
            await http.get("/api/v1/nope"),  # 404 problem from a node
            await http.get("/assets/index-nope.js"),  # the /assets/ location
            await http.get("/ws"),  # the WebSocket location, without an upgrade
            await http.get("/metrics", headers=METRICS_AUTH),  # nginx's own 404
            # nginx's own 413, before any node
            await http.post("/api/v1/auth/register", content=b"x" * (4 * 1024 * 1024 + 1)),
        ]
    assert {r.status_code for r in answers} >= {200, 401, 404, 413}
    for r in answers:
        assert_headers_once(r)


async def test_operator_endpoints_and_source_maps_are_not_served(cluster: Cluster) -> None:
    node = cluster.nodes[0]
    async with httpx.AsyncClient(timeout=10) as http:
        # On the node itself (test nodes turn both on): served.
        assert (await http.get(f"{node.base_url}/metrics", headers=METRICS_AUTH)).status_code == 200
        assert (await http.get(f"{node.base_url}/openapi.json")).status_code == 200
        # Through nginx: never, however the path is spelled.
        for path in (
            "/metrics",
            "/metrics/",
            "/%6Detrics",
            "//metrics",
            "/metrics?format=prometheus",
            "/openapi.json",
            "/docs",
            "/docs/oauth2-redirect",
            "/redoc",
            "/assets/index-abc123.js.map",
            "/index.js.map",
        ):
            r = await http.get(f"{cluster.nginx.base_url}{path}", headers=METRICS_AUTH)
            assert r.status_code == 404, path
            assert "hushroom_" not in r.text, path
            assert '"openapi"' not in r.text, path
