"""The shipped nginx TLS settings (deploy/nginx/hushroom-tls.conf, included by hushroom.conf) on a
real nginx in front of a real node, with a trustme RSA certificate (the Python listener's test
uses ECDSA, so both suite families are scanned): the handshake, old protocols refused, HSTS over
TLS on every location, and sslyze's scan with 0 high-severity findings and no deviation from
Mozilla's "intermediate" configuration (tests/support/tls_scan.py)."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import trustme

from tests.support import databases, tls_scan
from tests.support.nginx import NginxProcess
from tests.support.server import ServerProcess, TlsFiles

pytestmark = pytest.mark.timeout(300)

START_TIMEOUT_S = 120.0
# hushroom-headers.conf: two years, as Mozilla recommends.
HSTS = "max-age=63072000; includeSubDomains"
INTERMEDIATE_RSA = {
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-RSA-CHACHA20-POLY1305",
}


@dataclass
class TlsProxy:
    nginx: NginxProcess
    tls: TlsFiles

    @property
    def port(self) -> int:
        assert self.nginx.tls_port is not None
        return self.nginx.tls_port

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.tls.ca)


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[TlsProxy]:
    directory = tmp_path_factory.mktemp("nginx-tls")
    files = tls_scan.issue_certificates(directory / "certs", trustme.KeyType.RSA)
    node = ServerProcess(databases.fresh_sqlite(sqlite_template, directory), directory / "node")
    node.start(START_TIMEOUT_S)
    nginx = NginxProcess(directory / "nginx", [node.port], tls=files)
    try:
        nginx.start()
        yield TlsProxy(nginx, files)
    finally:
        nginx.stop()
        node.stop()


def _handshake(port: int, context: ssl.SSLContext) -> tuple[str | None, str]:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=tls_scan.SERVER_NAME) as conn,
    ):
        return conn.version(), conn.cipher()[0]


def test_handshake_through_nginx(proxy: TlsProxy) -> None:
    context = proxy.context()
    assert _handshake(proxy.port, context)[0] == "TLSv1.3"
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    version, cipher = _handshake(proxy.port, context)
    assert version == "TLSv1.2"
    assert cipher in INTERMEDIATE_RSA


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
@pytest.mark.parametrize("version", ["TLSv1", "TLSv1_1"])
def test_nginx_refuses_tls_below_1_2(proxy: TlsProxy, version: str) -> None:
    context = proxy.context()
    context.minimum_version = context.maximum_version = ssl.TLSVersion[version]
    context.set_ciphers("ALL:@SECLEVEL=0")
    with pytest.raises((ssl.SSLError, ConnectionError)) as refused:
        _handshake(proxy.port, context)
    assert getattr(refused.value, "reason", None) != "NO_PROTOCOLS_AVAILABLE", refused.value


async def test_hsts_over_tls_on_every_location(proxy: TlsProxy) -> None:
    async with httpx.AsyncClient(
        base_url=f"https://127.0.0.1:{proxy.port}", verify=proxy.context(), timeout=30
    ) as http:
        for path in ("/", "/healthz", "/api/v1/nope", "/assets/index-nope.js", "/metrics"):
            r = await http.get(path)
            assert r.headers.get_list("strict-transport-security") == [HSTS], path


def test_sslyze_finds_nothing_against_nginx(proxy: TlsProxy) -> None:
    tls_scan.prepare_sslyze()
    findings = tls_scan.scan(proxy.port, proxy.tls.ca)
    print(tls_scan.summary(findings))  # noqa: T201 - the scan's result, shown with `pytest -s`
    assert findings["seconds"] < tls_scan.SCAN_TIMEOUT_S
    assert tls_scan.high_severity(findings, proxy.tls, tls_scan.Allowed()) == [], tls_scan.summary(
        findings
    )
    # Nothing but the test certificate's known artifact separates it from the profile.
    assert set(findings["mozilla_intermediate"]["issues"]) <= {"certificate_path_validation"}
    assert set(findings["accepted"]["TLSv1.2"]) == {
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    }
    assert findings["curves"] == ["X25519", "secp256r1", "secp384r1"]
    assert findings["hsts_max_age"] == 63072000
