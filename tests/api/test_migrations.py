"""Migrations over data that existed before them, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import JSON, Boolean, Integer, LargeBinary, String, Uuid, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.schema import Column

from hushroom.storage.engine import Database
from hushroom.storage.migrate import upgrade
from hushroom.storage.sql.tables import conversations, users
from tests.support import databases


@pytest.fixture(params=["sqlite", "postgres"])
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database with no schema yet (its own PostgreSQL database, not the shared one)."""
    if request.param == "sqlite":
        yield databases.sqlite_url(tmp_path / "old.db")
        return
    request.getfixturevalue("pg_database")  # skips like every PostgreSQL test when asked to
    name = f"{databases.PG_TEST_DB}_migration"
    await databases._recreate_pg(name)
    try:
        yield databases.pg_url(name)
    finally:
        await databases._drop_pg(name)


def _filler(column: Column[Any]) -> Any:
    """A value for a required column, whatever the users table holds at this revision."""
    kind = column.type
    if isinstance(kind, Uuid):
        return uuid.uuid4()
    if isinstance(kind, Boolean):
        return False
    if isinstance(kind, Integer):
        return 0
    if isinstance(kind, LargeBinary):
        return b"\x00" * 16
    if isinstance(kind, JSON):
        return {}
    if isinstance(kind, String):
        return "x"
    raise AssertionError(f"no filler for {column.name}: {kind!r}")


def _room(owner: uuid.UUID, name: str, created_at: int) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "kind": "room",
        "name": name,
        "name_lower": name.lower(),
        "created_by": owner,
        "created_at": created_at,
        "last_seq": 0,
        "member_count": 0,
    }


async def test_rooms_that_shared_a_name_are_renamed_and_new_duplicates_refused(
    empty_database: str,
) -> None:
    db = Database(empty_database)
    try:
        await upgrade(db, "0002")
        owner = uuid.uuid4()
        names = [
            ("Garden", 1),
            ("garden", 2),  # same name ignoring case: renamed "garden (3)", "(2)" being taken
            ("Garden (2)", 3),
            ("GARDEN", 4),  # → "GARDEN (4)"
            ("x" * 80, 5),
            ("X" * 80, 6),  # shortened to make room for the suffix
            ("Other", 7),
        ]
        async with db.write() as conn:
            required = {
                c.name: _filler(c)
                for c in users.c
                if not c.nullable and c.default is None and c.server_default is None
            }
            await conn.execute(insert(users).values({**required, "id": owner}))
            for name, at in names:
                await conn.execute(insert(conversations).values(_room(owner, name, at)))
            # A private group with a room's name is not a duplicate.
            group = _room(owner, "Other", 8) | {"kind": "group"}
            await conn.execute(insert(conversations).values(group))

        # 0003's renaming and plaintext index; 0010 moves uniqueness to the blind index
        # (tests/api/test_at_rest.py).
        await upgrade(db, "0009")

        async with db.read() as conn:
            rows = (
                await conn.execute(
                    select(
                        conversations.c.kind, conversations.c.name, conversations.c.name_lower
                    ).order_by(conversations.c.created_at)
                )
            ).all()
        assert [row.name for row in rows] == [
            "Garden",
            "garden (3)",
            "Garden (2)",
            "GARDEN (4)",
            "x" * 80,
            "X" * 76 + " (2)",
            "Other",
            "Other",
        ]
        assert all(row.name_lower == row.name.lower() for row in rows)

        with pytest.raises(IntegrityError):
            async with db.write() as conn:
                await conn.execute(insert(conversations).values(_room(owner, "OTHER", 9)))
    finally:
        await db.dispose()


async def test_placeholder_keys_are_dropped_and_the_account_kept(empty_database: str) -> None:
    """Accounts registered before real keys keep their login and set up keys at the next one."""
    from sqlalchemy import column, table

    db = Database(empty_database)
    try:
        await upgrade(db, "0001")
        # The users table as revision 0001 had it (the metadata describes the head).
        old_users = table(
            "users",
            column("id", Uuid()),
            *(column(n, String()) for n in ("email", "display_name", "display_name_lower")),
            column("kdf_salt", LargeBinary()),
            column("kdf_params", JSON()),
            column("auth_hash", String()),
            column("key_bundle", LargeBinary()),
            column("key_bundle_version", Integer()),
            column("vault", LargeBinary()),
            column("vault_version", Integer()),
            column("is_admin", Boolean()),
            column("created_at", Integer()),
        )
        user_id = uuid.uuid4()
        async with db.write() as conn:
            await conn.execute(
                insert(old_users).values(
                    id=user_id,
                    email="old@example.test",
                    display_name="Old",
                    display_name_lower="old",
                    kdf_salt=b"s" * 16,
                    kdf_params={"alg": "argon2id"},
                    auth_hash="$argon2id$placeholder",
                    key_bundle=b'{"placeholder":true,"v":0}',
                    key_bundle_version=1,
                    vault=b'{"placeholder":true,"v":0}',
                    vault_version=1,
                    is_admin=False,
                    created_at=1,
                )
            )
        await upgrade(db)
        async with db.read() as conn:
            row = (
                await conn.execute(
                    select(
                        users.c.email,
                        users.c.auth_hash,
                        users.c.vault,
                        users.c.identity_key,
                        users.c.keys_version,
                    ).where(users.c.id == user_id)
                )
            ).one()
        assert row.email == "old@example.test"
        assert row.auth_hash == "$argon2id$placeholder"  # the password still logs in
        assert (row.vault, row.identity_key, row.keys_version) == (None, None, 0)
    finally:
        await db.dispose()


async def test_memberships_made_before_requests_stay_accepted_and_visible(
    empty_database: str,
) -> None:
    """Migration 0006 (consent): nobody was asked before it, so nobody is left with a request."""
    from sqlalchemy import column, table

    from hushroom.storage.sql.tables import members

    db = Database(empty_database)
    try:
        await upgrade(db, "0005")
        owner = uuid.uuid4()
        old_members = table(
            "members",
            column("conversation_id", Uuid()),
            column("user_id", Uuid()),
            column("role", String()),
            column("joined_at", Integer()),
            column("last_read_seq", Integer()),
        )
        async with db.write() as conn:
            required = {
                c.name: _filler(c)
                for c in users.c
                if not c.nullable and c.default is None and c.server_default is None
            }
            await conn.execute(insert(users).values({**required, "id": owner}))
            dm = _room(owner, "", 1) | {"kind": "dm", "name": None, "name_lower": None}
            await conn.execute(insert(conversations).values(dm))
            await conn.execute(
                insert(old_members).values(
                    conversation_id=dm["id"],
                    user_id=owner,
                    role="member",
                    joined_at=1,
                    last_read_seq=0,
                )
            )
        await upgrade(db)
        async with db.read() as conn:
            row = (await conn.execute(select(members.c.accepted, members.c.hidden))).one()
        assert (row.accepted, row.hidden) == (True, False)
    finally:
        await db.dispose()
