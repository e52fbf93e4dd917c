"""The operator CLI against the test database: `db upgrade` is idempotent, `create-admin` promotes
a registered user and refuses unknown emails."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import sqlalchemy as sa

from hushroom.config import Settings
from hushroom.storage.engine import Database
from hushroom.storage.sql.tables import users
from tests.support.accounts import register


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "HUSHROOM_DATABASE_URL": settings.database_url,
        "HUSHROOM_DATA_DIR": str(settings.data_dir),
        "HUSHROOM_LOG_LEVEL": "WARNING",
    }
    return subprocess.run(
        [sys.executable, "-m", "hushroom.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )


async def test_db_upgrade_and_create_admin(client: httpx.AsyncClient, settings: Settings) -> None:
    upgraded = cli(settings, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert "database at revision" in upgraded.stdout

    ana = await register(client, "Ana")
    unknown = cli(settings, "create-admin", "nobody@example.test")
    assert unknown.returncode == 1
    promoted = cli(settings, "create-admin", ana.email.upper())
    assert promoted.returncode == 0, promoted.stderr

    db = Database(settings.database_url)
    try:
        async with db.read() as conn:
            rows = (await conn.execute(sa.select(users.c.email, users.c.is_admin))).all()
    finally:
        await db.dispose()
    assert {email: admin for email, admin in rows} == {ana.email: True}
