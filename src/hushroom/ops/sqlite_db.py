"""The SQLite half: a consistent copy of a live database file, and putting one in place."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

from hushroom.ops.errors import BackupError


def database_path(database_url: str) -> Path:
    path = make_url(database_url).database
    if not path or path == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    return Path(path)


def snapshot(source: Path, dest: Path) -> tuple[str | None, dict[str, int]]:
    """Copy `source` to `dest` with SQLite's online backup API and return the copy's Alembic
    revision and row counts. The copy is taken in one step, inside one read transaction: it is
    consistent while the server keeps writing (WAL readers do not block writers), and never
    restarts the way a paced, page-by-page backup does under steady writes."""
    if not source.is_file():
        raise BackupError(f"no SQLite database at {source}")
    src = sqlite3.connect(source)
    try:
        src.execute("PRAGMA busy_timeout=10000")
        dst = sqlite3.connect(dest)
        try:
            src.backup(dst)
            # A self-contained file: no -wal beside it to lose on the way into the archive.
            dst.execute("PRAGMA journal_mode=DELETE")
            return revision(dst), row_counts(dst)
        finally:
            dst.close()
    except sqlite3.Error as exc:
        raise BackupError(f"cannot copy the SQLite database {source}: {exc}") from exc
    finally:
        src.close()


def row_counts(conn: sqlite3.Connection) -> dict[str, int]:
    names = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    return {name: _count(conn, name) for name in sorted(names)}


def _count(conn: sqlite3.Connection, table: str) -> int:
    quoted = '"' + table.replace('"', '""') + '"'
    count: int = conn.execute(f"SELECT count(*) FROM {quoted}").fetchone()[0]  # noqa: S608
    return count


def revision(conn: sqlite3.Connection) -> str | None:
    found = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
    ).fetchone()
    if not found:
        return None
    row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return str(row[0]) if row else None


def rows_in(path: Path) -> dict[str, int]:
    """Row counts of the database at `path` ({} when there is none), read-only."""
    if not path.exists() or path.stat().st_size == 0:
        return {}
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            return row_counts(conn)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise BackupError(f"cannot read the target database {path}: {exc}") from exc


def verify_copy(path: Path, expected: dict[str, int]) -> None:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        found = row_counts(conn)
        check = conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()
    if check != "ok":
        raise BackupError(f"the backed-up SQLite database fails its integrity check: {check}")
    if found != expected:
        raise BackupError("the backed-up database's row counts differ from its manifest")


def install(payload: Path, target: Path) -> None:
    """Replace `target` with `payload` atomically: copied beside it, synced, renamed over it.

    The server must be stopped. Its write-ahead log is checkpointed into the old file first
    (failing when a server still holds it), because a leftover -wal would be replayed onto the
    new file by the next open and corrupt it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    wal = Path(f"{target}-wal")
    if wal.exists() and wal.stat().st_size > 0:
        conn = sqlite3.connect(target)
        try:
            busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        finally:
            conn.close()
        if busy:
            raise BackupError(f"{target} is in use: stop the Hushroom server, then restore")
    temp = target.with_name(f".{target.name}.restore-{os.getpid()}")
    try:
        with payload.open("rb") as src, temp.open("wb") as out:
            while chunk := src.read(1 << 20):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
    for stale in (wal, Path(f"{target}-shm"), Path(f"{target}-journal")):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself survives a crash
    finally:
        os.close(dir_fd)
