"""The PostgreSQL half: pg_dump from one snapshot, pg_restore in one transaction.

The client tools come from PATH (or the newest /usr/lib/postgresql/*/bin); they must be at least
the server's major version. The password, if the URL has one, reaches them through PGPASSWORD,
never the command line where `ps` would show it.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import subprocess
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from hushroom.ops.errors import BackupError
from hushroom.storage.engine import Database


def libpq_target(database_url: str) -> tuple[str, dict[str, str]]:
    """The SQLAlchemy URL (postgresql+asyncpg://…) as a libpq URL, and the environment that
    carries its password."""
    url = make_url(database_url)
    query = dict(url.query)
    if "ssl" in query and "sslmode" not in query:
        query["sslmode"] = query.pop("ssl")  # asyncpg's name for libpq's sslmode
    # set() reads password=None as "unchanged": drop it with the namedtuple's _replace.
    libpq = url._replace(password=None).set(drivername="postgresql", query=query)
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return libpq.render_as_string(hide_password=False), env


def tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_major)
    if candidates:
        return candidates[-1]
    raise BackupError(f"{name} not found: install the PostgreSQL client tools (postgresql-client)")


def _major(path: str) -> int:
    part = Path(path).parent.parent.name
    return int(part) if part.isdigit() else 0


def _run(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        tail = done.stderr.strip()[-2000:]
        raise BackupError(f"{Path(args[0]).name} failed (exit {done.returncode}): {tail}")


async def dump(database_url: str, dest: Path) -> tuple[str | None, dict[str, int]]:
    """pg_dump --format=custom into `dest`; the revision and row counts are read in the very
    snapshot pg_dump dumps (exported from a REPEATABLE READ transaction held open meanwhile),
    so the manifest describes exactly the dump."""
    dsn, env = libpq_target(database_url)
    db = Database(database_url, pool_size=1)
    try:
        async with db.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="REPEATABLE READ")
            async with conn.begin():
                snapshot = (await conn.execute(text("SELECT pg_export_snapshot()"))).scalar_one()
                args = [tool("pg_dump"), "--format=custom", f"--snapshot={snapshot}"]
                await asyncio.to_thread(_run, [*args, f"--file={dest}", f"--dbname={dsn}"], env)
                return await _revision(conn), await row_counts(conn)
    except (OSError, SQLAlchemyError) as exc:
        raise BackupError(f"cannot read the database: {exc}") from exc
    finally:
        await db.dispose()


async def row_counts(conn: AsyncConnection) -> dict[str, int]:
    """Rows per table of the current schema (public unless search_path says otherwise)."""

    def names(sync: Connection) -> list[str]:
        return list(inspect(sync).get_table_names())

    counts = {}
    for name in sorted(await conn.run_sync(names)):
        quoted = '"' + name.replace('"', '""') + '"'
        counts[name] = (await conn.execute(text(f"SELECT count(*) FROM {quoted}"))).scalar_one()  # noqa: S608
    return counts


async def _revision(conn: AsyncConnection) -> str | None:
    exists = (await conn.execute(text("SELECT to_regclass('alembic_version')"))).scalar_one()
    if exists is None:
        return None
    found = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    return str(found) if found is not None else None


async def rows_in(database_url: str) -> dict[str, int]:
    db = Database(database_url, pool_size=1)
    try:
        async with db.read() as conn:
            return await row_counts(conn)
    except (OSError, SQLAlchemyError) as exc:
        raise BackupError(f"cannot read the target database: {exc}") from exc
    finally:
        await db.dispose()


def restore(database_url: str, payload: Path) -> None:
    """pg_restore in one transaction: it either fully replaces the dumped objects or changes
    nothing. Ownership and grants are left to the connecting role, which may differ from the
    one that made the dump."""
    dsn, env = libpq_target(database_url)
    args = [tool("pg_restore"), "--clean", "--if-exists", "--single-transaction"]
    args += ["--exit-on-error", "--no-owner", "--no-privileges", f"--dbname={dsn}", str(payload)]
    _run(args, env)
