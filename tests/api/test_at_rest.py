"""Data at rest (docs/decisions/0008): what the server can read is sealed in the database, on
SQLite (the file and its WAL, byte for byte) and PostgreSQL (every value of every table)."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select, update

from hushroom.clock import FakeClock, SystemClock
from hushroom.config import Settings
from hushroom.container import Container
from hushroom.storage.at_rest import AtRestCipher, key_id_of
from hushroom.storage.engine import Database
from hushroom.storage.migrate import upgrade
from hushroom.storage.sql.at_rest_keys import REFRESH_S, AtRestKeys
from hushroom.storage.sql.reseal import pending, rotate
from hushroom.storage.sql.tables import at_rest_keys, audit_log, conversations, messages, users
from hushroom.storage.unit import Storage
from tests.api.test_cli import cli
from tests.api.test_migrations import _filler, empty_database
from tests.integration.test_canary import _dump_database, _sqlite_files
from tests.support import databases
from tests.support.accounts import Account, register_and_login
from tests.support.events import app_client

__all__ = ["app_client", "empty_database"]  # fixtures used below

API = "/api/v1"


@pytest.fixture
def client(app_client: httpx.AsyncClient) -> httpx.AsyncClient:
    return app_client


def canary() -> str:
    return f"CANARY{uuid.uuid4().hex[:12]}"


async def new_room(client: httpx.AsyncClient, owner: Account, name: str, topic: str = "") -> str:
    body = {"name": name} | ({"topic": topic} if topic else {})
    r = await client.post(f"{API}/rooms", json=body, headers=owner.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def say(client: httpx.AsyncClient, who: Account, room: str, body: str) -> int:
    r = await client.post(
        f"{API}/conversations/{room}/messages",
        json={"client_msg_id": uuid.uuid4().hex, "body": body},
        headers=who.headers,
    )
    assert r.status_code == 201, r.text
    return int(r.json()["message_id"])


async def bodies(client: httpx.AsyncClient, who: Account, room: str) -> list[str | None]:
    r = await client.get(f"{API}/conversations/{room}/messages", headers=who.headers)
    assert r.status_code == 200, r.text
    return [m["body"] for m in r.json()["messages"]]


async def test_canaries_in_names_topics_and_public_messages_never_reach_the_database(
    client: httpx.AsyncClient, container: Container, database_url: str
) -> None:
    name, topic, body, display = canary(), canary(), canary(), canary()
    # The email (the login) stays in clear: not the display name it would be derived from.
    ana = await register_and_login(client, display, f"{uuid.uuid4().hex}@example.org")
    room = await new_room(client, ana, name, topic)
    await say(client, ana, room, body)
    # A moderation entry names the room it deleted (audit_log.detail).
    gone_name = canary()
    gone = await new_room(client, ana, gone_name)
    assert await container.accounts.make_admin(ana.email)
    r = await client.delete(f"{API}/admin/rooms/{gone}", headers=ana.headers)
    assert r.status_code == 204, r.text

    # Everything still reads back through the API.
    assert await bodies(client, ana, room) == [body]
    found = (await client.get(f"{API}/rooms", params={"q": name}, headers=ana.headers)).json()
    assert [(r["name"], r["topic"]) for r in found] == [(name, topic)]
    users_found = await client.get(f"{API}/users", params={"q": display}, headers=ana.headers)
    assert [u["display_name"] for u in users_found.json()] == [display]
    log = (await client.get(f"{API}/admin/audit-log", headers=ana.headers)).json()
    assert any((e.get("detail") or {}).get("name") == gone_name for e in log["entries"])

    dump = await _dump_database(database_url)
    files = _sqlite_files(database_url)  # the raw file, free pages and WAL included
    assert str(ana.user_id).encode() in dump  # the dump is real
    for needle in (name, topic, body, display, gone_name):
        assert needle.encode() not in dump, "a canary reached the database"
        assert needle.encode() not in files, "a canary reached the SQLite file"
        assert needle.lower().encode() not in dump + files  # nor its lower-cased index


async def test_a_message_body_swapped_between_rows_fails_as_at_rest_integrity(
    client: httpx.AsyncClient, container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    ana = await register_and_login(client, "Ana")
    room = await new_room(client, ana, "swap")
    first, second = await say(client, ana, room, "first"), await say(client, ana, room, "second")
    async with container.db.write() as conn:
        rows = {
            r.id: r.body_sealed
            for r in await conn.execute(select(messages.c.id, messages.c.body_sealed))
        }
        await conn.execute(
            update(messages).where(messages.c.id == first).values(body_sealed=rows[second])
        )
    with caplog.at_level(logging.ERROR, logger="hushroom.at_rest"):
        r = await client.get(f"{API}/conversations/{room}/messages", headers=ana.headers)
    assert r.status_code == 500
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "at_rest_integrity"
    assert "second" not in r.text and "Traceback" not in r.text
    # The log names the row (conversation, seq), never its content.
    logged = [rec.getMessage() for rec in caplog.records if rec.name == "hushroom.at_rest"]
    assert any(f"messages/body/{room}/1" in line for line in logged), logged
    assert not any("second" in line for line in logged)


async def test_a_room_name_moved_to_another_room_fails_as_at_rest_integrity(
    client: httpx.AsyncClient, container: Container
) -> None:
    ana = await register_and_login(client, "Ana")
    one, two = await new_room(client, ana, "one"), await new_room(client, ana, "two")
    async with container.db.write() as conn:
        sealed_two = (
            await conn.execute(
                select(conversations.c.name_sealed).where(conversations.c.id == uuid.UUID(two))
            )
        ).scalar_one()
        await conn.execute(
            update(conversations)
            .where(conversations.c.id == uuid.UUID(one))
            .values(name_sealed=sealed_two)
        )
    r = await client.get(f"{API}/rooms/{one}", headers=ana.headers)
    assert (r.status_code, r.json()["code"]) == (500, "at_rest_integrity")


async def _key_ids(db: Database) -> set[int]:
    """The data key ids of every sealed value in the database."""
    found: set[int] = set()
    async with db.read() as conn:
        for column in (
            messages.c.body_sealed,
            conversations.c.name_sealed,
            conversations.c.topic_sealed,
            users.c.display_name_sealed,
            audit_log.c.detail_sealed,
        ):
            for (blob,) in await conn.execute(select(column).where(column.is_not(None))):
                found.add(key_id_of(bytes(blob)))
    return found


async def test_rotation_interrupted_half_way_and_resumed_leaves_every_row_under_the_new_key(
    client: httpx.AsyncClient, container: Container, settings: Settings, clock: FakeClock
) -> None:
    ana = await register_and_login(client, "Ana")
    room = await new_room(client, ana, "Garden", "plants")
    texts = [f"message {i}" for i in range(7)]
    for text in texts:
        await say(client, ana, room, text)
    assert await _key_ids(container.db) == {1}

    # `hushroom keys rotate` runs as its own process: its own key ring and connections.
    tool = Storage(
        Database(settings.database_url),
        AtRestKeys(AtRestCipher(settings.resolved_at_rest_key()), SystemClock()),
    )
    try:
        half = await rotate(
            tool, new_key=True, activate_after_s=0, batch=2, max_batches=2
        )  # interrupted
        assert (half.key_id, half.resealed) == (2, 4)
        assert sum(half.left.values()) > 0
        assert await _key_ids(container.db) == {1, 2}  # a mix, and every row still readable
        clock.advance(REFRESH_S)  # the server re-reads the key table
        assert await bodies(client, ana, room) == texts
        # New writes meanwhile use the new key.
        await say(client, ana, room, "during")

        done = await rotate(tool, new_key=False, activate_after_s=0, batch=2)  # resumed
        assert sum(done.left.values()) == 0
        assert await pending(tool) == dict.fromkeys(done.left, 0)
    finally:
        await tool.db.dispose()

    assert await _key_ids(container.db) == {2}
    async with container.db.read() as conn:
        retired = dict(
            (await conn.execute(select(at_rest_keys.c.id, at_rest_keys.c.retired_at))).all()
        )
    assert retired[1] is not None and retired[2] is None
    assert await bodies(client, ana, room) == [*texts, "during"]
    # Uniqueness (blind index) and search survive the rotation.
    taken = await client.post(f"{API}/rooms", json={"name": "GARDEN"}, headers=ana.headers)
    assert taken.status_code == 409, taken.text
    found = (await client.get(f"{API}/rooms", params={"q": "ard"}, headers=ana.headers)).json()
    assert [(r["name"], r["topic"]) for r in found] == [("Garden", "plants")]
    users_found = await client.get(f"{API}/users", params={"q": "an"}, headers=ana.headers)
    assert "Ana" in [u["display_name"] for u in users_found.json()]


async def test_rows_written_in_clear_before_0010_are_sealed_when_the_server_starts(
    empty_database: str, tmp_path: Path
) -> None:
    db = Database(empty_database)
    owner, room, detail = uuid.uuid4(), uuid.uuid4(), {"name": "Old Garden", "last_seq": 1}
    try:
        await upgrade(db, "0009")
        async with db.write() as conn:
            required: dict[str, Any] = {
                c.name: _filler(c)
                for c in users.c
                if not c.nullable and c.default is None and c.server_default is None
            }
            await conn.execute(
                insert(users).values(
                    {**required, "id": owner, "display_name": "Old Ana", "email": "a@x.org"}
                )
            )
            await databases.insert_plain_room_message(
                conn, room=room, owner=owner, name="Old Garden", body="old body", topic="old topic"
            )
            await conn.execute(
                insert(audit_log).values(
                    action="room.delete",
                    target_kind="room",
                    target_id=str(room),
                    detail=detail,
                    created_at=1,
                )
            )
        await upgrade(db)
    finally:
        await db.dispose()

    settings = Settings(database_url=empty_database, data_dir=tmp_path / "data")
    container = Container(settings, clock=FakeClock())
    await container.start()
    try:
        async with container.db.read() as conn:
            user = (await conn.execute(select(users))).one()
            conv = (await conn.execute(select(conversations))).one()
            message = (await conn.execute(select(messages))).one()
            entry = (await conn.execute(select(audit_log))).one()
        assert (user.display_name, user.display_name_lower) == ("", "")
        assert (conv.name, conv.name_lower, conv.topic) == (None, None, None)
        assert message.body is None and entry.detail is None
        assert None not in (
            user.display_name_sealed,
            conv.name_sealed,
            conv.topic_sealed,
            conv.name_hash,
            message.body_sealed,
            entry.detail_sealed,
        )
        async with container.storage.read() as tx:
            stored_user = await tx.users.get(owner)
            stored_room = await tx.conversations.get(room)
            stored_messages = await tx.messages.page(room)
            entries = await tx.audit.page(None, 10)
        assert stored_user is not None and stored_user.display_name == "Old Ana"
        assert stored_room is not None
        assert (stored_room.name, stored_room.topic) == ("Old Garden", "old topic")
        assert [m.body for m in stored_messages] == ["old body"]
        assert [e.detail for e in entries] == [detail]
    finally:
        await container.stop()


@pytest.mark.timeout(600)  # two CLI processes
async def test_keys_rotate_command_stops_at_a_batch_limit_and_resumes(
    client: httpx.AsyncClient, container: Container, settings: Settings, clock: FakeClock
) -> None:
    ana = await register_and_login(client, "Ana")
    room = await new_room(client, ana, "Orchard")
    for text in ("one", "two", "three"):
        await say(client, ana, room, text)

    stopped = cli(
        settings, "keys", "rotate", "--activate-after", "0", "--batch", "1", "--max-batches", "1"
    )
    assert stopped.returncode == 3, stopped.stderr
    assert "--resume" in stopped.stdout
    resumed = cli(settings, "keys", "rotate", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "older keys retired" in resumed.stdout

    assert await _key_ids(container.db) == {2}
    clock.advance(REFRESH_S)
    assert await bodies(client, ana, room) == ["one", "two", "three"]
