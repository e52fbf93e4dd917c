"""Alembic, driven programmatically: no alembic.ini to ship, the URL comes from Settings."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection

from hushroom.storage.engine import Database


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "hushroom.storage:migrations")
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def schema_behind(current: str | None) -> bool:
    """Whether the database needs `db upgrade` before this code serves it. A revision this code
    does not know belongs to a newer release, whose schema it runs on during a rolling upgrade
    (migrations stay backward compatible for one release: docs/operations.md § Upgrades)."""
    script = ScriptDirectory.from_config(alembic_config())
    if current == script.get_current_head():
        return False
    if current is None:
        return True
    try:
        script.get_revision(current)
    except CommandError:
        return False
    return True


async def upgrade(db: Database, revision: str = "head") -> None:
    def run(conn: Connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)

    async with db.write() as conn:
        await conn.run_sync(run)


async def current_revision(db: Database) -> str | None:
    def read(conn: Connection) -> Any:
        return MigrationContext.configure(conn).get_current_revision()

    async with db.read() as conn:
        rev: str | None = await conn.run_sync(read)
        return rev
