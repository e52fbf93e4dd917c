"""`hushroom backup` / `hushroom restore` on both databases: a backup restored into an empty
database holds the same rows and serves the same history; the file holds no plaintext; corrupted,
wrong-key, unknown-revision backups and non-empty targets are refused without changing anything.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import Connection, inspect, text
from typer.testing import CliRunner, Result

from hushroom import logs
from hushroom.app import create_app
from hushroom.cli import app as cli_app
from hushroom.clock import FakeClock
from hushroom.config import Settings
from hushroom.container import Container
from hushroom.ops import age, postgres_db
from hushroom.ops.backup import create_backup, write_backup
from hushroom.ops.errors import BackupError
from hushroom.ops.restore import open_backup, restore_backup
from hushroom.storage.engine import Database
from tests.support import databases
from tests.support.accounts import Account, register_and_login


@pytest.fixture
def clock() -> FakeClock:
    """The real time: tokens issued before the restore must still be valid after it."""
    return FakeClock(int(time.time() * 1000))


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, str]:
    """An age identity file and its public key."""
    secret, public = age.generate_identity()
    path = tmp_path / "backup-identity.txt"
    path.write_text(f"# test identity\n{secret}\n")
    return path, public


@pytest.fixture
async def empty_target(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """A database URL of the same kind as `database_url` with nothing in it: a file that does
    not exist yet, or a scratch PostgreSQL database (dropped afterwards)."""
    if database_url.startswith("sqlite"):
        yield databases.sqlite_url(tmp_path / "restored" / "hushroom.db")
        return
    name = f"hushroom_restore_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(databases.PG_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield databases.pg_url(name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@asynccontextmanager
async def app_client(settings: Settings, clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(container=Container(settings, clock=clock))
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
            yield c


async def populate(settings: Settings, clock: FakeClock, canary: str) -> tuple[Account, str]:
    """Two users, a public room with a few messages (one of them `canary`); the app is shut
    down again before the test goes on. Returns the room owner and the room id."""
    async with app_client(settings, clock) as client:
        ana = await register_and_login(client, "Ana")
        ben = await register_and_login(client, "Ben")
        room = (
            await client.post("/api/v1/rooms", json={"name": "Garden"}, headers=ana.headers)
        ).json()["id"]
        await client.post(f"/api/v1/rooms/{room}/join", headers=ben.headers)
        for who, body in [(ana, "hello"), (ben, canary), (ana, "bye")]:
            r = await client.post(
                f"/api/v1/conversations/{room}/messages",
                json={"client_msg_id": uuid.uuid4().hex, "body": body},
                headers=who.headers,
            )
            assert r.status_code == 201, r.text
    return ana, room


async def history(client: httpx.AsyncClient, who: Account, room: str) -> list[str]:
    r = await client.get(f"/api/v1/conversations/{room}/messages", headers=who.headers)
    assert r.status_code == 200, r.text
    return [m["body"] for m in r.json()["messages"]]


async def fingerprint(database_url: str) -> dict[str, tuple[int, str]]:
    """Per table: row count and a hash of its sorted rows."""

    def names(conn: Connection) -> list[str]:
        return list(inspect(conn).get_table_names())

    db = Database(database_url)
    try:
        async with db.read() as conn:
            found = {}
            for name in sorted(await conn.run_sync(names)):
                rows = (await conn.execute(text(f'SELECT * FROM "{name}"'))).all()  # noqa: S608
                digest = hashlib.sha256("\n".join(sorted(repr(tuple(r)) for r in rows)).encode())
                found[name] = (len(rows), digest.hexdigest())
            return found
    finally:
        await db.dispose()


async def cli(database_url: str, data_dir: Path, *args: str, **env: str) -> Result:
    """The CLI in-process (a subprocess costs seconds of imports), in a thread: the commands
    run their own event loop."""
    full_env = {
        "HUSHROOM_DATABASE_URL": database_url,
        "HUSHROOM_DATA_DIR": str(data_dir),
        **env,
    }
    return await asyncio.to_thread(CliRunner().invoke, cli_app, list(args), env=full_env)


@pytest.fixture(autouse=True)
def keep_test_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands configure logging for a process of their own: not this one's."""
    monkeypatch.setattr(logs, "configure", lambda *_args, **_kwargs: None)


async def test_backup_restored_into_an_empty_database_has_identical_rows_and_history(
    settings: Settings,
    clock: FakeClock,
    keys: tuple[Path, str],
    empty_target: str,
    tmp_path: Path,
) -> None:
    identity, public = keys
    canary = f"canary {uuid.uuid4().hex}"
    ana, room = await populate(settings, clock, canary)
    backup = tmp_path / "hushroom.age"
    async with app_client(settings, clock) as client:  # backed up while the server runs
        r = await client.post(
            f"/api/v1/conversations/{room}/messages",
            json={"client_msg_id": uuid.uuid4().hex, "body": "while running"},
            headers=ana.headers,
        )
        assert r.status_code == 201, r.text
        before = await fingerprint(settings.database_url)
        made = await cli(
            settings.database_url,
            settings.data_dir,
            "backup",
            str(backup),
            HUSHROOM_BACKUP_RECIPIENT=public,
        )
    assert made.exit_code == 0, made.output
    raw = backup.read_bytes()
    assert raw.startswith(b"age-encryption.org/v1\n")
    assert canary.encode() not in raw
    assert ana.email.encode() not in raw
    # Decrypted too, the payload holds the public message only sealed at rest: the SQLite file
    # as it is, a pg_dump archive as the plain SQL it decompresses to.
    opened = tmp_path / "opened"
    opened.mkdir()
    _, payload = open_backup(backup, age.identities_from_file(identity), opened)
    if settings.database_url.startswith("sqlite"):
        plain = payload.read_bytes()
    else:
        plain = (
            await asyncio.to_thread(
                subprocess.run,
                [postgres_db.tool("pg_restore"), "--file=-", str(payload)],
                check=True,
                capture_output=True,
                timeout=120,
            )
        ).stdout
        assert b"COPY public.messages" in plain  # the decompressed dump really has the rows
    assert len(plain) > 10_000
    assert canary.encode() not in plain

    restored = await cli(
        empty_target, tmp_path / "data2", "restore", str(backup), "-i", str(identity)
    )
    assert restored.exit_code == 0, restored.output
    assert await fingerprint(empty_target) == before

    # The same secret as the original server: Ana's access token is still good.
    served = Settings(**{**settings.model_dump(), "database_url": empty_target})
    async with app_client(served, clock) as client:
        assert await history(client, ana, room) == ["hello", canary, "bye", "while running"]


async def backed_up(settings: Settings, clock: FakeClock, path: Path, recipient: str) -> Path:
    """A populated database backed up to `path` for `recipient`."""
    await populate(settings, clock, "canary")
    await create_backup(settings.database_url, path, [recipient])
    return path


async def refused(
    database_url: str, backup: Path, identity: Path, match: str, *, force: bool = True
) -> None:
    """Restore must fail with `match` and leave the database as it was (even with --force)."""
    before = await fingerprint(database_url)
    with pytest.raises(BackupError, match=match):
        await restore_backup(database_url, backup, identity, force=force)
    assert await fingerprint(database_url) == before


async def test_restore_refuses_corrupted_backup_and_changes_nothing(
    settings: Settings, clock: FakeClock, keys: tuple[Path, str], tmp_path: Path
) -> None:
    identity, public = keys
    backup = await backed_up(settings, clock, tmp_path / "hushroom.age", public)
    data = bytearray(backup.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit, inside the encrypted payload
    backup.write_bytes(bytes(data))

    before = await fingerprint(settings.database_url)
    run = await cli(
        settings.database_url,
        settings.data_dir,
        "restore",
        str(backup),
        "-i",
        str(identity),
        "--force",
    )
    assert run.exit_code == 1
    assert "cannot decrypt the backup" in run.output
    assert await fingerprint(settings.database_url) == before


async def test_restore_refuses_backup_for_another_key_and_changes_nothing(
    settings: Settings, clock: FakeClock, keys: tuple[Path, str], tmp_path: Path
) -> None:
    identity, _ = keys
    _, someone_else = age.generate_identity()
    backup = await backed_up(settings, clock, tmp_path / "hushroom.age", someone_else)
    await refused(settings.database_url, backup, identity, "cannot decrypt the backup")


async def test_restore_refuses_unknown_schema_revision_and_changes_nothing(
    settings: Settings, clock: FakeClock, keys: tuple[Path, str], tmp_path: Path
) -> None:
    identity, public = keys
    genuine = await backed_up(settings, clock, tmp_path / "genuine.age", public)
    # A well-formed, correctly encrypted backup from a "future" schema, built by the same writer.
    workdir = tmp_path / "work"
    workdir.mkdir()
    manifest, payload = open_backup(genuine, age.identities_from_file(identity), workdir)
    future = tmp_path / "future.age"
    write_backup(
        replace(manifest, alembic_revision="9999_from_the_future"),
        payload,
        future,
        age.recipients([public]),
        lambda *_: None,
    )
    await refused(settings.database_url, future, identity, "revision '9999_from_the_future'")


async def test_restore_refuses_a_non_empty_database_without_force_and_replaces_it_with_force(
    settings: Settings, clock: FakeClock, keys: tuple[Path, str], tmp_path: Path
) -> None:
    identity, public = keys
    backup = await backed_up(settings, clock, tmp_path / "hushroom.age", public)
    as_backed_up = await fingerprint(settings.database_url)
    async with app_client(settings, clock) as client:
        await register_and_login(client, "Carl")  # written after the backup

    await refused(settings.database_url, backup, identity, "not empty", force=False)
    await restore_backup(settings.database_url, backup, identity, force=True)
    assert await fingerprint(settings.database_url) == as_backed_up


async def test_backup_refuses_a_secret_key_as_recipient_and_writes_nothing(
    tmp_path: Path,
) -> None:
    secret, _ = age.generate_identity()
    output = tmp_path / "hushroom.age"
    url = databases.sqlite_url(tmp_path / "missing.db")
    run = await cli(url, tmp_path / "data", "backup", str(output), "--recipient", secret)
    assert run.exit_code == 1
    assert "pass its public key" in run.output
    assert secret not in run.output
    assert not output.exists()
