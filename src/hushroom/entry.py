"""The `hushroom` console script. The command line is the server's (hushroom/cli.py), which
needs the `server` extra; the base install is only the SDK (`hushroom.client`), so without the
extra this says what to install instead of printing a traceback.
docs/decisions/0009-packaging.md.
"""

from __future__ import annotations

import sys

# Top-level modules of the `server` extra's distributions (pyproject.toml).
SERVER_MODULES = frozenset(
    {
        "fastapi",
        "starlette",
        "uvicorn",
        "pydantic",
        "pydantic_settings",
        "sqlalchemy",
        "alembic",
        "aiosqlite",
        "asyncpg",
        "orjson",
        "jwt",
        "prometheus_client",
        "structlog",
        "typer",
        "click",
        "redis",
        "limits",
        "authlib",
        "httpx2",
        "pyrage",
    }
)

MISSING_SERVER = (
    "hushroom: the server is not installed ({missing} is missing). This installation has the "
    "client SDK only (hushroom.client); for the `hushroom` command install the server extra:\n"
    "    pip install 'hushroom[server]'"
)


def main() -> None:
    try:
        from hushroom import cli
    except ModuleNotFoundError as exc:
        top = (exc.name or "").partition(".")[0]
        if top not in SERVER_MODULES:
            raise
        print(MISSING_SERVER.format(missing=top), file=sys.stderr)  # noqa: T201
        raise SystemExit(1) from None
    cli.main()
