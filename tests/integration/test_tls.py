"""`hushroom serve --tls-cert --tls-key --http-redirect-port` as a real process, with trustme
certificates: the handshake, old protocols refused, HSTS and the refresh cookie over TLS, the
plain listener's redirect, and sslyze's scan with 0 high-severity findings
(tests/support/tls_scan.py defines them)."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path

import httpx
import pytest
import trustme

from hushroom import tls
from tests.integration.helpers import START_TIMEOUT_S, unique_email
from tests.support import databases, tls_scan
from tests.support.accounts import REFRESH_COOKIE, b64, keyed_register_body
from tests.support.server import ServerProcess

pytestmark = pytest.mark.timeout(300)

ONE_YEAR_S = 365 * 24 * 3600


@pytest.fixture(scope="module")
def tls_server(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[ServerProcess]:
    directory = tmp_path_factory.mktemp("tls-server")
    files = tls_scan.issue_certificates(directory / "certs", trustme.KeyType.ECDSA)
    url = databases.fresh_sqlite(sqlite_template, directory)
    server = ServerProcess(url, directory / "data", tls=files, http_redirect=True)
    server.start(START_TIMEOUT_S)
    try:
        yield server
    finally:
        server.stop()


def _client_context(server: ServerProcess) -> ssl.SSLContext:
    assert server.tls is not None
    return ssl.create_default_context(cafile=server.tls.ca)


def _handshake(port: int, context: ssl.SSLContext) -> tuple[str | None, str]:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=tls_scan.SERVER_NAME) as conn,
    ):
        return conn.version(), conn.cipher()[0]


def test_handshake_with_the_test_ca(tls_server: ServerProcess) -> None:
    context = _client_context(tls_server)
    assert _handshake(tls_server.port, context)[0] == "TLSv1.3"
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    version, cipher = _handshake(tls_server.port, context)
    assert version == "TLSv1.2"
    assert cipher in tls.MOZILLA_INTERMEDIATE_CIPHERS.split(":")
    # A client that does not trust the test CA refuses the server.
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(tls_server.port, ssl.create_default_context())


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
@pytest.mark.parametrize("version", ["TLSv1", "TLSv1_1"])
def test_tls_below_1_2_is_refused(tls_server: ServerProcess, version: str) -> None:
    context = _client_context(tls_server)
    context.minimum_version = context.maximum_version = ssl.TLSVersion[version]
    context.set_ciphers("ALL:@SECLEVEL=0")  # offer the old protocol's suites too
    with pytest.raises((ssl.SSLError, ConnectionError)) as refused:
        _handshake(tls_server.port, context)
    # The server refused: this client did offer the version (it did not fail on its own).
    assert getattr(refused.value, "reason", None) != "NO_PROTOCOLS_AVAILABLE", refused.value


async def test_hsts_over_tls(tls_server: ServerProcess) -> None:
    async with httpx.AsyncClient(
        base_url=tls_server.base_url, verify=_client_context(tls_server), timeout=30
    ) as http:
        for path in ("/healthz", "/", "/api/v1/nope"):
            r = await http.get(path)
            hsts = r.headers.get_list("strict-transport-security")
            assert len(hsts) == 1, (path, hsts)
            max_age = int(hsts[0].split(";")[0].removeprefix("max-age="))
            assert max_age >= ONE_YEAR_S, (path, hsts)


def _cookie_attributes(set_cookie: str) -> dict[str, str | bool]:
    parsed = SimpleCookie()
    parsed.load(set_cookie)
    morsel = parsed[REFRESH_COOKIE]
    return {key: value for key, value in morsel.items() if value}


async def test_refresh_cookie_over_tls(tls_server: ServerProcess) -> None:
    """A browser's login over TLS: the refresh cookie is `__Host-` (no Domain, Path=/), Secure,
    HttpOnly and SameSite=Strict, and refreshing with it works."""
    origin = {"origin": tls_server.base_url}
    async with httpx.AsyncClient(
        base_url=tls_server.base_url, verify=_client_context(tls_server), timeout=60
    ) as http:
        secret = b"\x07" * 32
        keyed = keyed_register_body("Tls User", unique_email("tls"), secret)
        registered = await http.post("/api/v1/auth/register", json=keyed.body)
        assert registered.status_code == 201, registered.text
        body = {"email": keyed.body["email"], "auth_secret": b64(secret), "device_name": "tls"}
        login = await http.post("/api/v1/auth/login", json=body, headers=origin)
        assert login.status_code == 200, login.text
        cookies = [c for c in login.headers.get_list("set-cookie") if REFRESH_COOKIE in c]
        assert len(cookies) == 1, cookies
        attributes = _cookie_attributes(cookies[0])
        assert attributes.pop("secure") is True
        assert attributes.pop("httponly") is True
        assert str(attributes.pop("samesite")).lower() == "strict"
        assert attributes.pop("path") == "/"
        assert "domain" not in attributes
        assert "refresh_token" not in login.json()  # browsers get it in the cookie only
        # The client's jar sends the Secure cookie back over https.
        refreshed = await http.post("/api/v1/auth/refresh", headers=origin)
        assert refreshed.status_code == 200, refreshed.text
        assert any(REFRESH_COOKIE in c for c in refreshed.headers.get_list("set-cookie"))


async def test_plain_listener_only_redirects(tls_server: ServerProcess) -> None:
    assert tls_server.redirect_port is not None
    plain = f"http://127.0.0.1:{tls_server.redirect_port}"
    target = f"https://127.0.0.1:{tls_server.port}"
    async with httpx.AsyncClient(base_url=plain, timeout=30, follow_redirects=False) as http:
        for method, path in (
            ("GET", "/"),
            ("GET", "/healthz"),
            ("GET", "/metrics"),
            ("POST", "/api/v1/auth/login?next=%2Fx"),
            ("GET", "/ws"),
        ):
            r = await http.request(method, path, content=b"{}" if method == "POST" else None)
            assert r.status_code == 308, (method, path, r.status_code)
            assert r.headers["location"] == target + path
            assert r.content == b""
            assert "strict-transport-security" not in r.headers  # meaningless without TLS
        # A WebSocket handshake on the plain port is redirected like anything else.
        upgrade = {"connection": "upgrade", "upgrade": "websocket", "sec-websocket-version": "13"}
        r = await http.get(
            "/ws", headers={**upgrade, "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ=="}
        )
        assert r.status_code == 308
        assert r.headers["location"] == target + "/ws"
    # Following the redirect lands on the TLS listener.
    async with httpx.AsyncClient(
        base_url=plain, verify=_client_context(tls_server), timeout=30, follow_redirects=True
    ) as http:
        r = await http.get("/healthz")
        assert r.status_code == 200
        assert str(r.url) == f"{target}/healthz"
    # HTTP/1.0 without a Host header: nowhere to send it.
    with socket.create_connection(("127.0.0.1", tls_server.redirect_port), timeout=10) as raw:
        raw.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert raw.recv(100).startswith(b"HTTP/1.1 400")


def test_sslyze_finds_nothing_high(tls_server: ServerProcess) -> None:
    assert tls_server.tls is not None
    tls_scan.prepare_sslyze()
    findings = tls_scan.scan(tls_server.port, tls_server.tls.ca)
    print(tls_scan.summary(findings))  # noqa: T201 - the scan's result, shown with `pytest -s`
    assert findings["seconds"] < tls_scan.SCAN_TIMEOUT_S
    allowed = tls_scan.Allowed(stronger_curves=True)
    assert tls_scan.high_severity(findings, tls_server.tls, allowed) == [], tls_scan.summary(
        findings
    )
    assert findings["accepted"]["TLSv1.2"]
    assert findings["accepted"]["TLSv1.3"]
    assert findings["hsts_max_age"] >= ONE_YEAR_S
