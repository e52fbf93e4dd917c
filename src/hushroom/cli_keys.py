"""`hushroom keys rotate`: a new at-rest data key, and every sealed row re-sealed under it
(docs/decisions/0008-at-rest-encryption.md)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer

from hushroom.clock import SystemClock
from hushroom.config import Settings, decode_at_rest_key
from hushroom.storage.at_rest import AtRestCipher, KekMismatch
from hushroom.storage.engine import Database
from hushroom.storage.sql.at_rest_keys import REFRESH_S, AtRestKeys
from hushroom.storage.sql.reseal import Rotation, rewrap_all, rotate
from hushroom.storage.unit import Storage

keys_app = typer.Typer(help="Keys of the data stored at rest.", no_args_is_help=True)


def _storage(settings: Settings, kek: bytes | None = None) -> Storage:
    cipher = AtRestCipher(kek if kek is not None else settings.resolved_at_rest_key())
    return Storage(Database(settings.database_url), AtRestKeys(cipher, SystemClock()))


def _progress(label: str, done: int, _batch: int) -> None:
    # One line per batch on stderr: stdout stays for the summary.
    sys.stderr.write(f"\r{label}: {done} re-sealed")
    sys.stderr.flush()


@keys_app.command("rotate")
def rotate_command(
    resume: bool = typer.Option(
        False,
        "--resume",
        help="Make no new key: finish an interrupted rotation (re-seal what is left).",
    ),
    batch: int = typer.Option(500, min=1, help="Rows per transaction."),
    max_batches: int | None = typer.Option(
        None, min=1, help="Stop after this many batches (resume later with --resume)."
    ),
    activate_after: float = typer.Option(
        2 * REFRESH_S,
        min=0,
        help="Seconds before the new key seals new values: running servers re-read the key "
        f"table every {REFRESH_S:.0f} s. 0 only with every server stopped.",
    ),
    new_kek_file: Annotated[
        Path | None,
        typer.Option(
            help="Instead: re-wrap every data key under the KEK in this file (base64url, 32 "
            "bytes). Stop every server first; start them with the new KEK.",
        ),
    ] = None,
) -> None:
    """Create a new data key and re-seal every row under it, in short transactions, while the
    server keeps serving. Interrupted, run it again with --resume."""
    settings = Settings()
    try:
        if new_kek_file is not None:
            new = decode_at_rest_key(new_kek_file.read_text().strip(), str(new_kek_file))
            count = asyncio.run(_rewrap(settings, new))
            typer.echo(f"{count} data keys re-wrapped; configure the new KEK before serving")
            return
        result = asyncio.run(
            _rotate(
                settings,
                new_key=not resume,
                activate_after_s=activate_after,
                batch=batch,
                max_batches=max_batches,
            )
        )
    except (KekMismatch, ValueError, OSError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(code=2) from exc
    sys.stderr.write("\n")
    left = sum(result.left.values())
    typer.echo(f"data key {result.key_id} current; {result.resealed} rows re-sealed")
    if left:
        typer.echo(f"{left} rows still under older keys: run `hushroom keys rotate --resume`")
        raise typer.Exit(code=3)
    typer.echo("every row is under the current key; older keys retired")


async def _rotate(
    settings: Settings,
    *,
    new_key: bool,
    activate_after_s: float,
    batch: int,
    max_batches: int | None,
) -> Rotation:
    storage = _storage(settings)
    try:
        return await rotate(
            storage,
            new_key=new_key,
            activate_after_s=activate_after_s,
            batch=batch,
            max_batches=max_batches,
            progress=_progress,
        )
    finally:
        await storage.db.dispose()


async def _rewrap(settings: Settings, new_kek: bytes) -> int:
    storage = _storage(settings)
    try:
        return await rewrap_all(storage, AtRestCipher(new_kek))
    finally:
        await storage.db.dispose()
