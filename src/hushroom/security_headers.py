"""Security headers on every HTTP response: the web client, its assets, API answers and errors.

A pure ASGI layer (no BaseHTTPMiddleware: that costs a task and a stream per request), wrapped
around the whole middleware stack, outside Starlette's ServerErrorMiddleware, so that even a 500
from the catch-all exception handler carries the headers (`install`).

The Content-Security-Policy allows only the app's own origin:

- `script-src 'self' 'wasm-unsafe-eval'`: the Argon2id worker (hash-wasm) compiles WebAssembly,
  which a worker's CSP (delivered with the worker script) blocks without 'wasm-unsafe-eval';
  no 'unsafe-inline', no 'unsafe-eval'.
- `style-src 'self'`: the build has no inline <style> or style="…" markup; React and GSAP set
  styles through the CSSOM, which CSP allows.
- `connect-src 'self'`: the API and the same-origin WebSocket (CSP3 matches ws:/wss: of the
  page's host with 'self').
- `require-trusted-types-for 'script'` with `trusted-types default`: no string reaches an HTML
  or script sink; the one script URL the client builds (the Argon2 worker's) passes the page's
  default policy, which accepts same-origin script URLs only (web/src/lib/trusted-types.ts).

Strict-Transport-Security only on HTTPS requests: `scope["scheme"]` is "https" when uvicorn
terminates TLS or when a proxy it trusts (`HUSHROOM_TRUSTED_PROXIES`, given to uvicorn as its
forwarded-allow-ips) says X-Forwarded-Proto: https. nginx adds its own HSTS either way.

A header the route set itself wins (it is not added twice). WebSocket scopes pass through
untouched: a refused handshake is an empty 403 from uvicorn, no document to protect, and the
frames of an accepted socket must not pay for a wrapper.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hushroom.config import Settings

# The one policy web/src/lib/trusted-types.ts creates (same-origin script URLs only).
TRUSTED_TYPES_POLICY = "default"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "style-src 'self'",
        "img-src 'self'",
        "font-src 'self'",
        "connect-src 'self'",
        "worker-src 'self'",
        "manifest-src 'self'",
        "media-src 'none'",
        "object-src 'none'",
        "frame-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "require-trusted-types-for 'script'",
        f"trusted-types {TRUSTED_TYPES_POLICY}",
    )
)

# Features Chromium knows (an unknown one is a console warning on every page load), all off.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "autoplay",
        "browsing-topics",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "hid",
        "idle-detection",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
)

HEADERS: tuple[tuple[str, str], ...] = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Permissions-Policy", PERMISSIONS_POLICY),
)


def hsts_value(settings: Settings) -> str | None:
    if settings.hsts_max_age_s <= 0:
        return None
    value = f"max-age={settings.hsts_max_age_s}"
    return value + "; includeSubDomains" if settings.hsts_include_subdomains else value


def _encoded(headers: tuple[tuple[str, str], ...]) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]


class SecurityHeaders:
    """Adds `HEADERS` (and HSTS over HTTPS) to every `http.response.start`."""

    def __init__(self, app: ASGIApp, hsts: str | None) -> None:
        self.app = app
        self._plain = _encoded(HEADERS)
        self._secure = (
            _encoded((*HEADERS, ("Strict-Transport-Security", hsts))) if hsts else self._plain
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self._secure if scope.get("scheme") == "https" else self._plain

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [h for h in extra if h[0] not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install(app: FastAPI, settings: Settings) -> None:
    """Wrap the app's whole middleware stack (built on its first request), so the headers are
    on every response, the catch-all 500 of ServerErrorMiddleware included."""
    build: Callable[[], ASGIApp] = app.build_middleware_stack
    hsts = hsts_value(settings)

    def build_with_headers() -> ASGIApp:
        return SecurityHeaders(build(), hsts)

    app.build_middleware_stack = build_with_headers  # type: ignore[method-assign]
