"""The web client, served from the built `web/dist` on the API's own origin.

- `/assets/*` are content-hashed by Vite: cached for a year, immutable.
- `index.html` (and any other top-level file) is `no-cache`, so a deploy shows up at once.
- Client routes (`/rooms/…`, `/login`, …) get `index.html` when the request accepts HTML
  (the SPA fallback); API, WebSocket and operations paths never do.
- Without a build, `/` shows a small status page instead.

Installed as the router's default (what runs when no route matches), last in `create_app`,
so every API route wins.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.types import Receive, Scope, Send

IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"

# Paths that belong to the server, never to the client's router.
RESERVED_PREFIXES = (
    "/api",
    "/ws",
    "/docs",
    "/redoc",
    "/openapi.json",
    "/healthz",
    "/readyz",
    "/metrics",
)

MIME_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".wasm": "application/wasm",
    ".txt": "text/plain; charset=utf-8",
}

STATUS_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Hushroom</title></head><body><h1>Hushroom</h1>
<p>The server is running. API: <code>/openapi.json</code> (with
<code>HUSHROOM_API_DOCS=true</code>), described in docs/protocol.md.</p>
<p>The web client is not built: run <code>make web-build</code> (or <code>make run</code>).</p>
</body></html>"""


def default_dist() -> Path:
    """`<repo>/web/dist` next to the source tree (src/hushroom/api/web.py → repo root)."""
    return Path(__file__).resolve().parents[3] / "web" / "dist"


def packaged_dist() -> Path:
    """`hushroom/web_dist`: where an installed wheel carries the build (hatch_build.py)."""
    return Path(__file__).resolve().parents[1] / "web_dist"


def resolve_dist(configured: Path | None) -> Path | None:
    """The directory to serve, or None when there is no build (then the status page):
    HUSHROOM_WEB_DIST if set, else the wheel's copy, else the repository's web/dist."""
    candidates = [configured] if configured is not None else [packaged_dist(), default_dist()]
    for dist in candidates:
        if (dist / "index.html").is_file():
            return dist.resolve()
    return None


def _is_reserved(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in RESERVED_PREFIXES)


def _file(path: Path, cache_control: str) -> FileResponse:
    media_type = MIME_TYPES.get(path.suffix.lower(), "application/octet-stream")
    return FileResponse(
        path,
        media_type=media_type,
        headers={"Cache-Control": cache_control, "X-Content-Type-Options": "nosniff"},
    )


# Longest path this serves: the build's files have short names; anything longer is a 404
# without asking the file system (which would refuse it with ENAMETOOLONG).
MAX_FILE_PATH_CHARS = 1024
MAX_FILE_NAME_CHARS = 255


def _inside(root: Path, relative: str) -> Path | None:
    """`root/relative` if it is a regular file inside root (no traversal, no dotfiles, no NUL,
    nothing the file system would refuse)."""
    if len(relative) > MAX_FILE_PATH_CHARS or "\x00" in relative:
        return None
    parts = [p for p in relative.split("/") if p]
    if any(
        p in (".", "..") or p.startswith(".") or "\\" in p or len(p) > MAX_FILE_NAME_CHARS
        for p in parts
    ):
        return None
    try:
        candidate = root.joinpath(*parts).resolve() if parts else root
        if not candidate.is_relative_to(root) or not candidate.is_file():
            return None
    except (OSError, ValueError):  # whatever else the file system refuses: not ours to serve
        return None
    return candidate


def _respond(request: Request, dist: Path) -> Response | None:
    """The file or SPA fallback for a GET/HEAD, or None (then the usual 404)."""
    path = request.url.path
    if _is_reserved(path):
        return None
    relative = path.lstrip("/")
    if path.startswith("/assets/"):
        asset = _inside(dist, relative)
        return _file(asset, IMMUTABLE) if asset is not None else None
    if relative:
        static = _inside(dist, relative)
        if static is not None:
            return _file(static, NO_CACHE)
        if "text/html" not in request.headers.get("accept", ""):
            return None
    return _file(dist / "index.html", NO_CACHE)


def install(app: FastAPI, dist: Path | None) -> None:
    """Serve the web client for whatever no route matched (so every API route wins, and a
    wrong method on an API path is still a 405). Without a build, `/` is a status page."""
    if dist is None:

        @app.get("/", include_in_schema=False)
        async def status_page() -> HTMLResponse:
            return HTMLResponse(STATUS_PAGE, headers={"Cache-Control": NO_CACHE})

        return

    not_found = app.router.default

    async def web_client(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            response = _respond(Request(scope, receive), dist)
            if response is not None:
                await response(scope, receive, send)
                return
        await not_found(scope, receive, send)

    app.router.default = web_client
