"""`hushroom backup`: dump the database, describe it in a manifest, archive both and encrypt
the archive to the operator's age public key, all into one file.

The plaintext dump exists only in a private (0700) temporary directory under TMPDIR while the
backup runs; the output is written as OUTPUT.partial and renamed when complete, so a file with
the final name is always a whole backup.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from hushroom.ops import age, postgres_db, sqlite_db
from hushroom.ops.archive import (
    MANIFEST_NAME,
    PAYLOAD_NAMES,
    Manifest,
    ProgressReader,
    TarStream,
    sha256_file,
)
from hushroom.ops.errors import BackupError, Progress, no_progress


async def create_backup(
    database_url: str, output: Path, recipient_keys: list[str], progress: Progress = no_progress
) -> Manifest:
    """Back up the database at `database_url` into `output`, readable only with the identity
    behind one of `recipient_keys`. Safe while the server runs."""
    to = age.recipients(recipient_keys)  # before any work: a typo fails at once
    if await asyncio.to_thread(output.exists):
        raise BackupError(f"{output} already exists: choose another name")
    kind = make_url(database_url).get_backend_name()
    if kind not in PAYLOAD_NAMES:
        raise BackupError(f"cannot back up a {kind} database")
    payload_name = PAYLOAD_NAMES[kind]
    with tempfile.TemporaryDirectory(prefix="hushroom-backup-") as workdir:
        payload = Path(workdir) / payload_name
        progress("dumping the database", 0, 1)
        if kind == "sqlite":
            source = sqlite_db.database_path(database_url)
            revision, tables = await asyncio.to_thread(sqlite_db.snapshot, source, payload)
        else:
            revision, tables = await postgres_db.dump(database_url, payload)
        progress("dumping the database", 1, 1)
        if revision is None:
            raise BackupError("the database has no schema yet: nothing to back up")
        manifest = Manifest(
            hushroom_version=importlib.metadata.version("hushroom"),
            database=kind,
            alembic_revision=revision,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            tables=tables,
            files={payload_name: await asyncio.to_thread(sha256_file, payload)},
        )
        await asyncio.to_thread(write_backup, manifest, payload, output, to, progress)
    return manifest


def write_backup(
    manifest: Manifest, payload: Path, output: Path, to: list[Any], progress: Progress
) -> None:
    """Archive `manifest` and `payload` and encrypt the archive to `to` (age recipients) into
    `output`, atomically."""
    (payload_name,) = manifest.files
    mtime = int(datetime.fromisoformat(manifest.created_at).timestamp())
    stream = TarStream([(MANIFEST_NAME, manifest.to_json()), (payload_name, payload)], mtime)
    reader = ProgressReader(stream, "encrypting", stream.total, progress)
    partial = output.with_name(output.name + ".partial")
    try:
        # Exclusive create: never write through a file (or link) someone else put there.
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            age.encrypt(reader, out, to)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, output)
    except FileExistsError as exc:
        raise BackupError(f"{partial} exists: another backup is running, or remove it") from exc
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        raise
