"""HTTPS for `hushroom serve` without a reverse proxy (`--tls-cert/--tls-key`, docs/operations.md
§ TLS), and the plain-HTTP listener that only redirects to it (`--http-redirect-port`).

The TLS settings follow Mozilla's "intermediate" server profile, as deploy/nginx/hushroom-tls.conf
does for nginx:

- TLS 1.2 and 1.3 only.
- TLS 1.2: the ECDHE-ECDSA/ECDHE-RSA AES-GCM and ChaCha20-Poly1305 suites only (no DHE, so no
  Diffie-Hellman parameters to manage), the client's preference order (every suite is strong:
  a phone without AES instructions picks ChaCha20).
- TLS 1.3: OpenSSL's three default suites, which are exactly the profile's; Python's `ssl`
  cannot change them.
- No session tickets (their key would live as long as the process, weakening forward secrecy):
  sessions resume from the context's own cache. No compression (CRIME), no client-initiated
  renegotiation (a CPU-exhaustion vector); secure renegotiation stays advertised.
- Key-exchange groups: OpenSSL's defaults (X25519, P-256, X448, P-521, P-384). Python's `ssl`
  can restrict them to one group only, which would cost clients a round trip or refuse older
  ones; X448 and P-521 are stronger than the profile asks, so they stay
  (tests/integration/test_tls.py records this as the one deviation from the profile).

tests/integration/test_tls.py checks all of it with a TLS scanner (sslyze).
"""

from __future__ import annotations

import logging
import re
import socket
import ssl
import threading
import urllib.parse
from collections.abc import Callable
from os import PathLike
from typing import TYPE_CHECKING

import uvicorn

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

log = logging.getLogger("hushroom.tls")

# Mozilla "intermediate" TLS 1.2 suites (OpenSSL names), ECDHE only.
MOZILLA_INTERMEDIATE_CIPHERS = ":".join(
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
    )
)


def harden(context: ssl.SSLContext) -> ssl.SSLContext:
    """Apply the profile above to a server context (in place); returns it."""
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(MOZILLA_INTERMEDIATE_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION | ssl.OP_NO_TICKET
    # CPython turns on the server's preference; the profile leaves the choice to the client.
    context.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    return context


def server_context(cert: str | PathLike[str], key: str | PathLike[str] | None) -> ssl.SSLContext:
    """A hardened server context with the certificate chain (leaf first) and its key (None: the
    key is in the certificate file). Raises OSError or ssl.SSLError on unreadable or mismatched
    files."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return harden(context)


def uvicorn_context_factory(
    config: uvicorn.Config, default: Callable[[], ssl.SSLContext]
) -> ssl.SSLContext:
    """uvicorn's `ssl_context_factory`: its own context (certificate, key, ciphers from the
    Config), hardened. A module-level function, so spawned workers can unpickle it."""
    return harden(default())


# A Host header: a DNS name or IPv4 address, or a bracketed IPv6 address; an optional port.
_HOST = re.compile(
    r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)(?::[0-9]{1,5})?"
)
# Characters kept as they are in the redirect's path and query; every other byte is %-escaped
# (the request's own escapes stay as they came).
_URL_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _URL_SAFE + "?"


def redirect_location(
    host_header: str | None, raw_path: bytes, query: bytes, tls_port: int
) -> str | None:
    """`https://<host>[:tls_port]<path>[?query]`, or None for a missing or malformed Host."""
    if host_header is None:
        return None
    match = _HOST.fullmatch(host_header.strip())
    if match is None:
        return None
    authority = match["host"].lower()
    if tls_port != 443:
        authority += f":{tls_port}"
    path = urllib.parse.quote(raw_path, safe=_URL_SAFE) if raw_path.startswith(b"/") else "/"
    location = f"https://{authority}{path}"
    if query:
        location += "?" + urllib.parse.quote(query, safe=_QUERY_SAFE)
    return location


class RedirectToHttps:
    """An ASGI app that answers every request with `308 Permanent Redirect` to the same host
    and path over HTTPS on `tls_port` (308 keeps the method and body, unlike 301). It reads
    nothing else of the request and serves nothing else; a request without a usable Host
    header gets 400. A WebSocket handshake gets the same answer (ASGI's WebSocket denial
    response; without that extension, a plain refusal)."""

    def __init__(self, tls_port: int) -> None:
        self.tls_port = tls_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):  # lifespan is off
            return
        host = None
        for name, value in scope["headers"]:
            if name == b"host":
                host = value.decode("latin-1")
                break
        raw_path = scope.get("raw_path") or scope["path"].encode("utf-8")
        location = redirect_location(host, raw_path, scope["query_string"], self.tls_port)
        if location is None:
            status, body = 400, b"Host header required\n"
            headers = [(b"content-type", b"text/plain; charset=utf-8")]
        else:
            status, body, headers = 308, b"", [(b"location", location.encode("ascii"))]
        headers.append((b"content-length", str(len(body)).encode("ascii")))
        prefix = "http"
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            if "websocket.http.response" not in scope.get("extensions", {}):
                await send({"type": "websocket.close", "code": 1008})
                return
            prefix = "websocket.http"
        await send({"type": f"{prefix}.response.start", "status": status, "headers": headers})
        await send({"type": f"{prefix}.response.body", "body": body})


class RedirectListener:
    """`RedirectToHttps` on its own uvicorn server, in a daemon thread of the serving process.

    The socket is bound by `start` in the calling thread, so a port in use (or a privileged
    port without the capability) stops `hushroom serve` at once, not silently. The thread has
    its own event loop and never touches the node's; it ends with the process (after the node's
    graceful shutdown), having nothing to finish."""

    def __init__(self, host: str, port: int, tls_port: int) -> None:
        self.tls_port = tls_port
        self.config = uvicorn.Config(
            RedirectToHttps(tls_port),
            host=host,
            port=port,
            # uvicorn's own WebSocket protocol (not the node's): a handshake is answered with
            # the redirect too, rather than logged as an unsupported upgrade.
            ws="websockets-sansio",
            lifespan="off",
            proxy_headers=False,
            log_config=None,
            access_log=False,
            server_header=False,
            timeout_keep_alive=5,
            limit_concurrency=1000,
        )
        self.server = uvicorn.Server(self.config)
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        sock: socket.socket = self.config.bind_socket()  # exits the process if it cannot bind
        self.thread = threading.Thread(
            target=self.server.run, args=([sock],), name="hushroom-http-redirect", daemon=True
        )
        self.thread.start()
        log.info(
            "plain HTTP on port %d redirects to https on port %d",
            self.config.port,
            self.tls_port,
        )

    def stop(self, timeout: float = 5.0) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout)
