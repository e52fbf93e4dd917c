"""`hushroom` command line: serve, db upgrade, create-admin, disable-account, enable-account,
reset-account."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import uvicorn

from hushroom import logs, tls
from hushroom.config import Settings
from hushroom.gateway import wire
from hushroom.storage import migrate
from hushroom.storage.engine import Database

if TYPE_CHECKING:
    from starlette.types import ASGIApp

app = typer.Typer(
    help="Hushroom: self-hostable, end-to-end encrypted web chat.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Bind address (default: HUSHROOM_HOST)"),
    port: int | None = typer.Option(None, help="Port (default: HUSHROOM_PORT)"),
    upgrade: bool = typer.Option(True, help="Migrate the database to the head revision first"),
    workers: int = typer.Option(
        1, min=1, help="Worker processes, one per core (more than 1 needs HUSHROOM_REDIS_URL)"
    ),
    tls_cert: Annotated[
        Path | None,
        typer.Option(
            help="Serve HTTPS with this PEM certificate chain, leaf first "
            "(default: HUSHROOM_TLS_CERT)"
        ),
    ] = None,
    tls_key: Annotated[
        Path | None,
        typer.Option(help="The certificate's PEM private key (default: HUSHROOM_TLS_KEY)"),
    ] = None,
    http_redirect_port: int | None = typer.Option(
        None,
        min=1,
        max=65535,
        help="With TLS: also listen for plain HTTP on this port, answering every request with "
        "a redirect to https (default: HUSHROOM_HTTP_REDIRECT_PORT)",
    ),
) -> None:
    """Serve the API, the WebSocket gateway and the web client on one port.

    On SIGTERM the node stops accepting, closes every WebSocket with 1012 (clients reconnect,
    to another node behind the load balancer), lets in-flight requests and commits finish
    (up to 10 s), then exits.

    With --tls-cert (and --tls-key) it speaks HTTPS only, TLS 1.2 and 1.3 on Mozilla's
    "intermediate" profile (hushroom/tls.py); --http-redirect-port adds a plain-HTTP listener
    that only redirects to it. Behind nginx, leave TLS to nginx (docs/operations.md § TLS).
    """
    settings = Settings()
    logs.configure(settings.log_level, settings.log_json)
    bind_host = host or settings.host
    bind_port = port or settings.port
    tls_options = _tls_options(
        tls_cert or settings.tls_cert,
        tls_key or settings.tls_key,
        http_redirect_port or settings.http_redirect_port,
        bind_port,
    )
    if workers > 1 and not settings.redis_url:
        typer.echo(
            f"--workers {workers} needs Redis: each worker is a separate process, and only "
            "Redis fan-out and presence reach the sockets of the others. Set "
            "HUSHROOM_REDIS_URL (e.g. redis://127.0.0.1:6379/0) or use --workers 1.",
            err=True,
        )
        raise typer.Exit(code=2)
    if upgrade:
        asyncio.run(_upgrade(settings))
    # Generate the secret once here, so workers never race to create it.
    settings.resolved_jwt_secret()
    redirect_port = http_redirect_port or settings.http_redirect_port
    if tls_options and redirect_port:
        tls.RedirectListener(bind_host, redirect_port, tls_port=bind_port).start()
    if workers > 1:  # /metrics reports every worker: prometheus_client's multiprocess mode
        from hushroom.metrics import prepare_multiprocess_dir

        prepare_multiprocess_dir(settings.data_dir)
    uvicorn.run(
        "hushroom.cli:worker_app",
        factory=True,
        host=bind_host,
        port=bind_port,
        workers=workers,
        **tls_options,
        # uvicorn's websockets-sansio protocol plus direct frame writes (gateway/wire.py).
        ws=wire.uvicorn_ws_protocol(),
        ws_max_size=settings.max_ws_frame_bytes,
        # Envelopes don't compress, and deflate costs ~41 KB per socket (docs/performance.md).
        # The wire's frames carry no extension, which needs it off.
        ws_per_message_deflate=False,
        ws_ping_interval=settings.ws_ping_interval_s,
        ws_ping_timeout=settings.ws_ping_interval_s,
        # X-Forwarded-For and -Proto are believed only from the configured proxies (none by
        # default): the client address keys the abuse limits (services/rate_limits.py).
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=",".join(settings.trusted_proxies) or None,
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=10,
        # A spawned worker imports the whole app before it can answer the supervisor's ping;
        # on a busy machine that takes longer than uvicorn's 5 s default, which would kill
        # and respawn workers forever.
        timeout_worker_healthcheck=60,
    )


def _tls_options(
    cert: Path | None, key: Path | None, redirect_port: int | None, port: int
) -> dict[str, Any]:
    """uvicorn's TLS arguments ({} without a certificate), after checking the files load; exits
    with status 2 on a bad combination or unusable files."""
    if cert is None:
        if key is not None or redirect_port is not None:
            typer.echo(
                "--tls-key and --http-redirect-port need --tls-cert (HUSHROOM_TLS_CERT)", err=True
            )
            raise typer.Exit(code=2)
        return {}
    if redirect_port == port:
        typer.echo(f"--http-redirect-port {redirect_port} is the HTTPS port", err=True)
        raise typer.Exit(code=2)
    try:
        # Fail here, before migrations and workers, with a message an operator can act on.
        tls.server_context(cert, key)
    except (OSError, ssl.SSLError) as exc:
        typer.echo(f"cannot use the TLS certificate {cert} / key {key}: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    return {
        "ssl_certfile": str(cert),
        "ssl_keyfile": str(key) if key is not None else None,
        "ssl_ciphers": tls.MOZILLA_INTERMEDIATE_CIPHERS,
        # uvicorn's context, hardened: TLS 1.2+, no tickets, no renegotiation (hushroom/tls.py).
        "ssl_context_factory": tls.uvicorn_context_factory,
    }


def worker_app() -> ASGIApp:
    """The app factory uvicorn calls in each worker (spawned workers configure logging anew):
    the app, with WebSockets taken in before any of its layers (gateway/routes.py)."""
    # Here: the other commands need not import the app.
    from hushroom.app import create_app
    from hushroom.gateway.routes import DirectGateway

    settings = Settings()
    logs.configure(settings.log_level, settings.log_json)
    app = create_app(settings, freeze_startup_objects=settings.gc_freeze)
    return DirectGateway(app, owner=app)


async def _upgrade(settings: Settings) -> None:
    db = Database(settings.database_url)
    try:
        await migrate.upgrade(db)
    finally:
        await db.dispose()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the head revision."""
    settings = Settings()
    logs.configure(settings.log_level, settings.log_json)
    asyncio.run(_upgrade(settings))
    typer.echo(f"database at revision {migrate.head_revision()}")


@app.command("create-admin")
def create_admin(email: str = typer.Argument(..., help="Email of a registered user")) -> None:
    """Make a registered user an operator (admin)."""
    settings = Settings()
    found = asyncio.run(_make_admin(settings, email.strip().lower()))
    if not found:
        typer.echo("no registered user has that email", err=True)
        raise typer.Exit(code=1)
    typer.echo("done")


async def _make_admin(settings: Settings, email: str) -> bool:
    from hushroom.container import Container  # here: the other commands need not build it

    container = Container(settings)
    try:
        return await container.accounts.make_admin(email)
    finally:
        await container.db.dispose()


@app.command("disable-account")
def disable_account(email: str = typer.Argument(..., help="Email of the account")) -> None:
    """Disable an account: its sessions end at once and it cannot log in until enabled again
    (recorded in the audit log with no actor: the operator)."""
    _set_disabled(email, disabled=True)


@app.command("enable-account")
def enable_account(email: str = typer.Argument(..., help="Email of the account")) -> None:
    """Let a disabled account log in again."""
    _set_disabled(email, disabled=False)


def _set_disabled(email: str, *, disabled: bool) -> None:
    settings = Settings()
    if not asyncio.run(_set_disabled_async(settings, email, disabled)):
        typer.echo("no registered user has that email", err=True)
        raise typer.Exit(code=1)
    typer.echo("done")


async def _set_disabled_async(settings: Settings, email: str, disabled: bool) -> bool:
    from hushroom.container import Container

    container = Container(settings)
    # Started: the revocation reaches open sockets through Redis when the nodes use it.
    await container.start()
    try:
        return await container.moderation.set_disabled_by_operator(email, disabled=disabled)
    finally:
        await container.stop()


@app.command("reset-account")
def reset_account(email: str = typer.Argument(..., help="Email of the account to reset")) -> None:
    """Issue a single-use account reset code (valid 24 hours) for a user who lost both the
    password and the recovery code. Hand it to them in person: whoever holds it can give the
    account a new identity (its old private history stays unreadable)."""
    settings = Settings()
    code = asyncio.run(_issue_reset_code(settings, email))
    if code is None:
        typer.echo("no registered user has that email", err=True)
        raise typer.Exit(code=1)
    typer.echo("reset code (single use, valid 24 hours):")
    typer.echo(code)


async def _issue_reset_code(settings: Settings, email: str) -> str | None:
    from hushroom.container import Container

    container = Container(settings)
    try:
        return await container.keys.issue_reset_code(email)
    finally:
        await container.db.dispose()


from hushroom.cli_backup import backup_app  # noqa: E402  (beside its registration)

# Unnamed: backup, restore and backup-keygen become top-level commands.
app.add_typer(backup_app)

from hushroom.cli_keys import keys_app  # noqa: E402  (beside its registration)

app.add_typer(keys_app, name="keys")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
