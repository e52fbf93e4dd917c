"""`hushroom backup`, `hushroom restore` and `hushroom backup-keygen` (logic: hushroom/ops/)."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Annotated

import typer
from rich.console import Console
from rich.filesize import decimal
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn

from hushroom import logs
from hushroom.config import Settings
from hushroom.ops import age
from hushroom.ops.backup import create_backup
from hushroom.ops.errors import BackupError
from hushroom.ops.restore import restore_backup
from hushroom.storage import migrate

backup_app = typer.Typer()


class _Bar:
    """ops' Progress callback drawn as rich progress bars on stderr, one per phase (stdout
    stays for the result, so scripts can read it)."""

    def __init__(self) -> None:
        self._progress = Progress(
            TextColumn("{task.description:<22}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[size]}"),
            console=Console(stderr=True),
        )
        self._tasks: dict[str, TaskID] = {}

    def __call__(self, phase: str, done: int, total: int) -> None:
        # Steps report 0 or 1 of 1; byte counts are shown as sizes.
        size = f"{decimal(done)} of {decimal(total)}" if total > 1 else ""
        if phase not in self._tasks:
            self._tasks[phase] = self._progress.add_task(phase, total=total, size=size)
        self._progress.update(self._tasks[phase], completed=done, total=total, size=size)

    def __enter__(self) -> _Bar:
        self._progress.start()
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self._progress.stop()


def _fail(exc: BackupError) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(code=1)


@backup_app.command("backup")
def backup(
    output: Annotated[Path, typer.Argument(help="The backup file to create (e.g. x.age)")],
    recipient: Annotated[
        list[str] | None,
        typer.Option(
            "--recipient",
            "-r",
            envvar="HUSHROOM_BACKUP_RECIPIENT",
            help="age public key (age1…) to encrypt to; repeatable",
        ),
    ] = None,
    recipient_file: Annotated[
        Path | None,
        typer.Option("--recipient-file", "-R", help="File of age public keys, one per line"),
    ] = None,
) -> None:
    """Back up the database into one file encrypted to an age public key.

    Safe while the server runs: SQLite is copied with its online backup API, PostgreSQL dumped
    with pg_dump from one snapshot. Only the holder of the matching identity (secret key) can
    read the file, so it can live on an untrusted backup host. Not included: the data dir's
    secrets (jwt-secret, the at-rest key file), which need their own encrypted copy.
    """
    settings = Settings()
    logs.configure(settings.log_level, settings.log_json)
    keys = list(recipient or [])
    try:
        if recipient_file is not None:
            keys += age.recipients_from_file(recipient_file)
        with _Bar() as bar:
            manifest = asyncio.run(create_backup(settings.database_url, output, keys, bar))
    except BackupError as exc:
        raise _fail(exc) from exc
    rows = sum(manifest.tables.values())
    typer.echo(
        f"backed up {manifest.database} at revision {manifest.alembic_revision} "
        f"({rows} rows in {len(manifest.tables)} tables) to {output}"
    )


@backup_app.command("restore")
def restore(
    backup_file: Annotated[Path, typer.Argument(metavar="INPUT", help="A `hushroom backup` file")],
    identity: Annotated[
        Path,
        typer.Option("--identity", "-i", help="age identity file (AGE-SECRET-KEY-…) to decrypt"),
    ],
    force: Annotated[bool, typer.Option(help="Replace a database that already holds data")] = False,
) -> None:
    """Restore a backup into the configured database, then migrate it to the head revision.

    Stop the server first (required for SQLite, whose file is replaced). Nothing is changed
    unless the backup decrypts, every checksum matches, its schema revision is known to this
    version, and the database is empty (or --force).
    """
    settings = Settings()
    logs.configure(settings.log_level, settings.log_json)
    try:
        with _Bar() as bar:
            restoring = restore_backup(
                settings.database_url, backup_file, identity, force=force, progress=bar
            )
            manifest = asyncio.run(restoring)
    except BackupError as exc:
        raise _fail(exc) from exc
    typer.echo(
        f"restored the backup of {manifest.created_at} (revision {manifest.alembic_revision}); "
        f"database at revision {migrate.head_revision()}"
    )


@backup_app.command("backup-keygen")
def backup_keygen(
    identity_file: Annotated[
        Path, typer.Argument(help="Where to write the new identity (secret key), mode 0600")
    ],
) -> None:
    """Create an age key pair for backups, like `age-keygen -o FILE`: prints the public key to
    pass to `hushroom backup --recipient`. Keep the identity file off the server and the
    backup host."""
    secret, public = age.generate_identity()
    created = datetime.now(UTC).isoformat(timespec="seconds")
    try:
        fd = os.open(identity_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        typer.echo(f"error: {identity_file} already exists", err=True)
        raise typer.Exit(code=1) from exc
    with os.fdopen(fd, "w") as f:
        f.write(f"# created: {created}\n# public key: {public}\n{secret}\n")
    typer.echo(public)
