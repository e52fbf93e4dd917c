"""hushroom/tls.py without sockets: the hardened context, the redirect's Location, the redirect
app, and `hushroom serve`'s refusal of unusable TLS options."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import trustme
import typer

from hushroom import cli, tls
from tests.support.server import TlsFiles
from tests.support.tls_scan import issue_certificates


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return issue_certificates(tmp_path_factory.mktemp("certs"), trustme.KeyType.ECDSA)


def test_server_context_is_tls12_plus_with_the_intermediate_suites(certs: TlsFiles) -> None:
    context = tls.server_context(certs.cert, certs.key)
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    names = {c["name"] for c in context.get_ciphers()}
    tls12 = {c["name"] for c in context.get_ciphers() if c["protocol"] == "TLSv1.2"}
    assert tls12 == set(tls.MOZILLA_INTERMEDIATE_CIPHERS.split(":"))
    # TLS 1.3: OpenSSL's three, exactly the profile's.
    assert names - tls12 == {
        "TLS_AES_256_GCM_SHA384",
        "TLS_CHACHA20_POLY1305_SHA256",
        "TLS_AES_128_GCM_SHA256",
    }
    for flag in (ssl.OP_NO_COMPRESSION, ssl.OP_NO_RENEGOTIATION, ssl.OP_NO_TICKET):
        assert context.options & flag
    assert not context.options & ssl.OP_CIPHER_SERVER_PREFERENCE


def test_server_context_refuses_a_key_that_does_not_match(
    certs: TlsFiles, tmp_path_factory: pytest.TempPathFactory
) -> None:
    other = issue_certificates(tmp_path_factory.mktemp("other"), trustme.KeyType.ECDSA)
    with pytest.raises(ssl.SSLError):
        tls.server_context(certs.cert, other.key)


@pytest.mark.parametrize(
    ("host", "path", "query", "port", "expected"),
    [
        ("chat.example.org", b"/", b"", 443, "https://chat.example.org/"),
        ("Chat.Example.org:80", b"/a/b", b"x=1", 443, "https://chat.example.org/a/b?x=1"),
        ("127.0.0.1:8080", b"/r%20s", b"q=%2F&a", 8443, "https://127.0.0.1:8443/r%20s?q=%2F&a"),
        ("[::1]:80", b"/", b"", 8443, "https://[::1]:8443/"),
        # Bytes outside printable ASCII are escaped; "*" (OPTIONS *) becomes "/".
        ("h", b'/\xc3\xa9 "<', b"a b", 443, "https://h/%C3%A9%20%22%3C?a%20b"),
        ("h", b"*", b"", 443, "https://h/"),
        # A path starting "//" stays on the named host (an authority only follows "https:").
        ("h", b"//evil.example/x", b"", 443, "https://h//evil.example/x"),
    ],
)
def test_redirect_location(host: str, path: bytes, query: bytes, port: int, expected: str) -> None:
    assert tls.redirect_location(host, path, query, port) == expected


@pytest.mark.parametrize(
    "host",
    [None, "", "a b", "evil.example/x", "user@host", "host:80:80", "-x", "h\r\nSet-Cookie: a=b"],
)
def test_redirect_location_refuses_a_bad_host(host: str | None) -> None:
    assert tls.redirect_location(host, b"/", b"", 443) is None


async def _call(
    app: tls.RedirectToHttps, headers: list[tuple[bytes, bytes]], **scope_items: Any
) -> list[Any]:
    sent: list[Any] = []

    async def receive() -> Any:
        if scope["type"] == "websocket":
            return {"type": "websocket.connect"}
        raise AssertionError("the redirect reads no body")

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/auth/login",
        "raw_path": b"/api/v1/auth/login",
        "query_string": b"",
        "headers": headers,
        **scope_items,
    }
    await app(scope, receive, send)
    return sent


async def test_redirect_app_answers_308_and_nothing_else() -> None:
    app = tls.RedirectToHttps(8443)
    start, body = await _call(app, [(b"host", b"127.0.0.1:8080"), (b"cookie", b"a=b")])
    assert start["status"] == 308
    assert dict(start["headers"]) == {
        b"location": b"https://127.0.0.1:8443/api/v1/auth/login",
        b"content-length": b"0",
    }
    assert body == {"type": "http.response.body", "body": b""}
    start, body = await _call(app, [])
    assert start["status"] == 400


async def test_redirect_app_denies_a_websocket_with_the_redirect() -> None:
    app = tls.RedirectToHttps(443)
    extensions = {"websocket.http.response": {}}
    start, body = await _call(
        app, [(b"host", b"chat.example.org")], type="websocket", extensions=extensions
    )
    assert start["type"] == "websocket.http.response.start"
    assert start["status"] == 308
    assert dict(start["headers"])[b"location"] == b"https://chat.example.org/api/v1/auth/login"
    assert body == {"type": "websocket.http.response.body", "body": b""}
    # A server without the denial-response extension: a plain refusal.
    (close,) = await _call(app, [(b"host", b"h")], type="websocket")
    assert close == {"type": "websocket.close", "code": 1008}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((None, "key", None), "need --tls-cert"),
        ((None, None, 8080), "need --tls-cert"),
        (("missing", None, None), "cannot use the TLS certificate"),
        (("cert", "ca", None), "cannot use the TLS certificate"),
        (("cert", "key", 8443), "is the HTTPS port"),
    ],
)
def test_serve_refuses_unusable_tls_options(
    certs: TlsFiles,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: tuple[str | None, str | None, int | None],
    message: str,
) -> None:
    files = {"cert": certs.cert, "key": certs.key, "ca": certs.ca, "missing": tmp_path / "x.pem"}
    cert, key, redirect = args
    with pytest.raises(typer.Exit) as exited:
        cli._tls_options(files[cert] if cert else None, files[key] if key else None, redirect, 8443)
    assert exited.value.exit_code == 2
    assert message in capsys.readouterr().err


def test_serve_options_for_uvicorn(certs: TlsFiles) -> None:
    assert cli._tls_options(None, None, None, 8000) == {}
    options = cli._tls_options(certs.cert, certs.key, 8080, 8443)
    assert options["ssl_certfile"] == str(certs.cert)
    assert options["ssl_keyfile"] == str(certs.key)
    assert options["ssl_ciphers"] == tls.MOZILLA_INTERMEDIATE_CIPHERS
    assert options["ssl_context_factory"] is tls.uvicorn_context_factory


def test_serve_reads_the_tls_settings(certs: TlsFiles, tmp_path: Path) -> None:
    """HUSHROOM_TLS_* reach the same checks (here: a key without a certificate)."""
    env = {
        **os.environ,
        "HUSHROOM_DATA_DIR": str(tmp_path),
        "HUSHROOM_LOG_LEVEL": "WARNING",
        "HUSHROOM_TLS_KEY": str(certs.key),
    }
    env.pop("HUSHROOM_TLS_CERT", None)
    result = subprocess.run(
        [sys.executable, "-m", "hushroom.cli", "serve", "--no-upgrade"],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "need --tls-cert" in result.stderr
