"""`hushroom restore`: decrypt a backup, check everything about it, then replace the database.

Every check runs before the database is touched: the identity opens the file (age
authenticates each chunk, so a changed byte fails here), the manifest is well-formed, the dump's
SHA-256 matches it, the schema revision is one this code can migrate from, the database kind
matches, and the target is empty unless --force. Only then is the database replaced (SQLite:
an atomic rename; PostgreSQL: one pg_restore transaction) and migrated to head.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from hushroom.ops import age, postgres_db, sqlite_db
from hushroom.ops.archive import PAYLOAD_NAMES, Manifest, ProgressReader, read_archive
from hushroom.ops.errors import BackupError, Progress, no_progress
from hushroom.storage import migrate
from hushroom.storage.engine import Database


async def restore_backup(
    database_url: str,
    backup: Path,
    identity_file: Path,
    *,
    force: bool = False,
    progress: Progress = no_progress,
) -> Manifest:
    """Restore `backup` into the database at `database_url`; returns its manifest. For SQLite
    the server must be stopped."""
    identities = age.identities_from_file(identity_file)
    kind = make_url(database_url).get_backend_name()
    if kind not in PAYLOAD_NAMES:
        raise BackupError(f"cannot restore into a {kind} database")
    with tempfile.TemporaryDirectory(prefix="hushroom-restore-") as workdir:
        manifest, payload = await asyncio.to_thread(
            open_backup, backup, identities, Path(workdir), progress
        )
        check_revision(manifest)
        if manifest.database != kind:
            raise BackupError(
                f"this is a {manifest.database} backup and the target is {kind}: restore it "
                f"into a {manifest.database} database"
            )
        if kind == "sqlite":
            target = sqlite_db.database_path(database_url)
            await asyncio.to_thread(sqlite_db.verify_copy, payload, manifest.tables)
            refuse_non_empty(await asyncio.to_thread(sqlite_db.rows_in, target), force)
            progress("restoring", 0, 1)
            await asyncio.to_thread(sqlite_db.install, payload, target)
        else:
            existing = await postgres_db.rows_in(database_url)
            refuse_non_empty(existing, force)
            _refuse_foreign_tables(existing, manifest)
            progress("restoring", 0, 1)
            await asyncio.to_thread(postgres_db.restore, database_url, payload)
            if await postgres_db.rows_in(database_url) != manifest.tables:
                raise BackupError(
                    "pg_restore finished but the row counts differ from the manifest: check "
                    "the database before serving it"
                )
        progress("restoring", 1, 1)
    db = Database(database_url)
    try:
        await migrate.upgrade(db)
    finally:
        await db.dispose()
    return manifest


def open_backup(
    backup: Path, identities: list[Any], workdir: Path, progress: Progress = no_progress
) -> tuple[Manifest, Path]:
    """Decrypt `backup` into `workdir` and verify it: its manifest, and the payload's path
    there once its checksum matched."""
    tar = workdir / "backup.tar"
    try:
        size = backup.stat().st_size
        with backup.open("rb") as src, tar.open("wb") as out:
            age.decrypt(ProgressReader(src, "decrypting", size, progress), out, identities)
    except OSError as exc:
        raise BackupError(f"cannot read the backup {backup}: {exc}") from exc
    try:
        return read_archive(tar, workdir)
    finally:
        tar.unlink()  # the payload is extracted: don't hold the disk twice


def check_revision(manifest: Manifest) -> None:
    """Refuse a schema this code does not know: one from a newer Hushroom (or another
    branch). A known revision is the head or an ancestor of it (the history is linear), which
    `db upgrade` migrates after the restore."""
    script = ScriptDirectory.from_config(migrate.alembic_config())
    known = {rev.revision for rev in script.walk_revisions()}
    if manifest.alembic_revision not in known:
        raise BackupError(
            f"the backup's schema revision {manifest.alembic_revision!r} is unknown to this "
            f"version of Hushroom (head: {script.get_current_head()}); it was made by "
            f"Hushroom {manifest.hushroom_version}: restore it with that version or a newer one"
        )


def refuse_non_empty(rows: dict[str, int], force: bool) -> None:
    filled = {t: n for t, n in rows.items() if n and t != "alembic_version"}
    if filled and not force:
        raise BackupError(
            f"the target database is not empty ({sum(filled.values())} rows in {len(filled)} "
            "tables): pass --force to replace its contents with the backup's"
        )


def _refuse_foreign_tables(existing: dict[str, int], manifest: Manifest) -> None:
    # pg_restore --clean drops only what the dump holds: a table it doesn't know (a newer
    # schema's, another application's) would survive the restore and break `db upgrade`.
    foreign = sorted(set(existing) - set(manifest.tables))
    if foreign:
        raise BackupError(
            f"the target database has tables the backup does not ({', '.join(foreign)}): "
            "restore into an empty database (createdb) instead"
        )
