"""The operator CLI against the test database: `db upgrade` is idempotent, `create-admin` promotes
a registered user, `reset-account` issues a code that starts a reset; unknown emails are refused."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest
import sqlalchemy as sa

from hushroom.clock import FakeClock
from hushroom.config import Settings
from hushroom.storage.engine import Database
from hushroom.storage.sql.tables import users
from tests.support.accounts import register


@pytest.fixture
def clock() -> FakeClock:
    """The CLI runs on the real clock: the app under test must agree on the time."""
    return FakeClock(int(time.time() * 1000))


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


async def test_reset_account_prints_a_code_that_starts_a_reset(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    ana = await register(client, "Ana")
    unknown = cli(settings, "reset-account", "nobody@example.test")
    assert unknown.returncode == 1
    issued = cli(settings, "reset-account", ana.email)
    assert issued.returncode == 0, issued.stderr
    code = issued.stdout.strip().splitlines()[-1]
    r = await client.post(
        "/api/v1/auth/reset-account/start", json={"email": ana.email, "reset_code": code}
    )
    assert r.json() == {"user_id": ana.user_id}
    assert code not in (await _dump_users(settings))  # stored hashed only


async def _dump_users(settings: Settings) -> str:
    db = Database(settings.database_url)
    try:
        async with db.read() as conn:
            return repr((await conn.execute(sa.select(users))).all())
    finally:
        await db.dispose()
