"""Moderation by server admins over HTTP: removing public-room messages, deleting rooms,
disabling accounts, and the audit log; on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from hushroom.config import Settings
from hushroom.container import Container
from hushroom.events.event import Event
from hushroom.gateway.protocol import Authenticate, Close, GatewayProtocol, ProtocolLimits
from hushroom.principal import Principal
from hushroom.storage.conversations import NewMessage
from hushroom.storage.sql.tables import users
from tests.support import databases
from tests.support.accounts import Account, b64, register_and_login
from tests.support.events import app_client, published

__all__ = ["app_client", "published"]  # fixtures used by the tests below

API = "/api/v1"
ADMIN = f"{API}/admin"


@pytest.fixture
def client(app_client: httpx.AsyncClient) -> httpx.AsyncClient:
    return app_client


async def admin_account(client: httpx.AsyncClient, container: Container) -> Account:
    admin = await register_and_login(client, "Mod")
    assert await container.accounts.make_admin(admin.email)
    return admin


async def new_room(client: httpx.AsyncClient, owner: Account, *members: Account) -> str:
    r = await client.post(f"{API}/rooms", json={"name": uuid.uuid4().hex}, headers=owner.headers)
    assert r.status_code == 201, r.text
    room: str = r.json()["id"]
    for m in members:
        assert (await client.post(f"{API}/rooms/{room}/join", headers=m.headers)).is_success
    return room


async def say(client: httpx.AsyncClient, who: Account, room: str, body: str) -> int:
    r = await client.post(
        f"{API}/conversations/{room}/messages",
        json={"client_msg_id": uuid.uuid4().hex, "body": body},
        headers=who.headers,
    )
    assert r.status_code == 201, r.text
    message_id: int = r.json()["message_id"]
    return message_id


async def history(client: httpx.AsyncClient, who: Account, conv: str) -> list[dict[str, Any]]:
    r = await client.get(f"{API}/conversations/{conv}/messages", headers=who.headers)
    assert r.status_code == 200, r.text
    messages: list[dict[str, Any]] = r.json()["messages"]
    return messages


async def login_answer(
    client: httpx.AsyncClient, account: Account, secret: bytes | None = None
) -> httpx.Response:
    return await client.post(
        f"{API}/auth/login",
        json={"email": account.email, "auth_secret": b64(secret or account.auth_secret)},
    )


def principal(account: Account) -> Principal:
    return Principal(
        uuid.UUID(account.user_id), uuid.UUID(account.device_id), uuid.UUID(account.session_id)
    )


def of_type(events: list[Event], kind: str) -> list[Event]:
    return [e for e in events if e.type == kind]


def assert_problem(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == code


async def test_a_non_admin_is_refused_every_action_and_nothing_changes(
    client: httpx.AsyncClient, published: list[Event]
) -> None:
    ana = await register_and_login(client, "Ana")
    ben = await register_and_login(client, "Ben")
    room = await new_room(client, ana, ben)
    message_id = await say(client, ana, room, "hello")
    published.clear()

    for method, path in [
        ("DELETE", f"{ADMIN}/messages/{message_id}"),
        ("DELETE", f"{ADMIN}/rooms/{room}"),
        ("POST", f"{ADMIN}/users/{ana.user_id}/disable"),
        ("POST", f"{ADMIN}/users/{ana.user_id}/enable"),
        ("GET", f"{ADMIN}/audit-log"),
    ]:
        r = await client.request(method, path, headers=ben.headers)
        assert_problem(r, 403, "forbidden")
        assert_problem(await client.request(method, path), 401, "unauthenticated")

    assert [m["body"] for m in await history(client, ana, room)] == ["hello"]
    assert (await client.get(f"{API}/rooms/{room}", headers=ana.headers)).status_code == 200
    assert (await login_answer(client, ana)).status_code == 200
    assert published == []


async def test_a_removed_message_keeps_its_seq_without_a_body_and_members_are_told(
    client: httpx.AsyncClient, container: Container, published: list[Event]
) -> None:
    admin = await admin_account(client, container)
    ana = await register_and_login(client, "Ana")
    ben = await register_and_login(client, "Ben")
    room = await new_room(client, ana, ben)
    await say(client, ana, room, "one")
    bad = await say(client, ben, room, "something awful")
    await say(client, ana, room, "three")
    published.clear()

    r = await client.delete(f"{ADMIN}/messages/{bad}", headers=admin.headers)
    assert r.status_code == 204, r.text

    page = await history(client, ana, room)
    assert [m["seq"] for m in page] == [1, 2, 3]  # contiguous: clients see no gap
    removed = page[1]
    assert removed["id"] == bad
    assert removed["removed"] is True
    assert removed["body"] is None
    assert removed["sender_id"] == ben.user_id
    assert [m["removed"] for m in (page[0], page[2])] == [None, None]
    assert [m["body"] for m in (page[0], page[2])] == ["one", "three"]

    [event] = of_type(published, "message.removed")
    assert event.frame() == {
        "type": "message.removed",
        "conversation_id": room,
        "seq": 2,
        "message_id": bad,
    }
    assert event.recipients == {uuid.UUID(ana.user_id), uuid.UUID(ben.user_id)}

    # A reconnecting client's backfill carries the mark too, and no body.
    plan = await container.messages.missed(principal(ana), {uuid.UUID(room): 1}, 100)
    [(_conv, messages, _high)] = plan.batches
    assert messages[0].removed and messages[0].body is None

    # Removing it again changes nothing and tells nobody again.
    published.clear()
    again = await client.delete(f"{ADMIN}/messages/{bad}", headers=admin.headers)
    assert again.status_code == 204
    assert published == []
    missing = await client.delete(f"{ADMIN}/messages/{bad + 1000}", headers=admin.headers)
    assert_problem(missing, 404, "not_found")


async def test_removing_a_private_message_or_deleting_a_private_conversation_is_refused(
    client: httpx.AsyncClient, container: Container
) -> None:
    admin = await admin_account(client, container)
    ana = await register_and_login(client, "Ana")
    ben = await register_and_login(client, "Ben")
    r = await client.post(f"{API}/dms", json={"user_id": ben.user_id}, headers=ana.headers)
    dm = r.json()["id"]
    # Stored directly: an envelope's content does not matter, only that the server can't read it.
    async with container.storage.write() as tx:
        [stored] = await tx.messages.insert_many(
            [
                (
                    NewMessage(
                        conversation_id=uuid.UUID(dm),
                        sender_id=uuid.UUID(ana.user_id),
                        sender_device_id=uuid.UUID(ana.device_id),
                        client_msg_id=uuid.uuid4().hex,
                        created_at=0,
                        body=None,
                        generation=1,
                        ciphertext=os.urandom(40),
                    ),
                    1,
                )
            ]
        )

    r = await client.delete(f"{ADMIN}/messages/{stored.id}", headers=admin.headers)
    assert_problem(r, 403, "forbidden")
    assert "encrypted" in r.json()["detail"]
    r = await client.delete(f"{ADMIN}/rooms/{dm}", headers=admin.headers)
    assert_problem(r, 403, "forbidden")

    async with container.storage.read() as tx:
        kept = await tx.messages.get(stored.id)
    assert kept is not None and kept.ciphertext == stored.ciphertext and not kept.removed
    assert (await client.get(f"{API}/conversations/{dm}", headers=ana.headers)).is_success
    log = await client.get(f"{ADMIN}/audit-log", headers=admin.headers)
    assert log.json()["entries"] == []


async def test_a_deleted_room_leaves_every_list_and_its_members_are_told(
    client: httpx.AsyncClient, container: Container, published: list[Event]
) -> None:
    admin = await admin_account(client, container)
    ana = await register_and_login(client, "Ana")
    ben = await register_and_login(client, "Ben")
    room = await new_room(client, ana, ben)
    await say(client, ana, room, "hello")
    published.clear()

    r = await client.delete(f"{ADMIN}/rooms/{room}", headers=admin.headers)
    assert r.status_code == 204, r.text

    [event] = of_type(published, "conversation.removed")
    assert event.frame() == {"type": "conversation.removed", "conversation_id": room}
    assert event.recipients == {uuid.UUID(ana.user_id), uuid.UUID(ben.user_id)}
    for who in (ana, ben):
        mine = await client.get(f"{API}/conversations", headers=who.headers)
        assert room not in [c["id"] for c in mine.json()]
    found = await client.get(f"{API}/rooms", headers=ben.headers)
    assert room not in [c["id"] for c in found.json()]
    gone = await client.get(f"{API}/conversations/{room}/messages", headers=ana.headers)
    assert_problem(gone, 404, "not_found")
    assert_problem(await client.get(f"{API}/rooms/{room}", headers=ana.headers), 404, "not_found")
    again = await client.delete(f"{ADMIN}/rooms/{room}", headers=admin.headers)
    assert_problem(again, 404, "not_found")
    # Its name is free again.
    r = await client.post(f"{API}/rooms", json={"name": "Fresh"}, headers=ana.headers)
    assert r.status_code == 201


async def test_a_disabled_account_cannot_log_in_refresh_or_keep_its_socket(
    client: httpx.AsyncClient, container: Container, settings: Settings, published: list[Event]
) -> None:
    admin = await admin_account(client, container)
    ana = await register_and_login(client, "Ana")
    socket = GatewayProtocol(ProtocolLimits.from_settings(settings), now=0.0)
    assert socket.receive('{"type": "auth", "ticket": "t"}', 0.0) == [Authenticate("t")]
    socket.authenticated(principal(ana), 0.0)
    published.clear()

    r = await client.post(f"{ADMIN}/users/{ana.user_id}/disable", headers=admin.headers)
    assert r.status_code == 204, r.text

    # Only someone who knows the password learns that the account is disabled.
    wrong = await login_answer(client, ana, os.urandom(32))
    assert_problem(wrong, 401, "invalid_credentials")
    right = await login_answer(client, ana)
    assert_problem(right, 403, "account_disabled")
    assert "disabled" in right.json()["title"]
    refreshed = await client.post(f"{API}/auth/refresh", json={"refresh_token": ana.refresh_token})
    assert_problem(refreshed, 401, "token_invalid")
    ticket = await client.post(f"{API}/ws-ticket", headers=ana.headers)
    assert_problem(ticket, 401, "token_invalid")

    [revoked] = of_type(published, "session.revoked")
    assert revoked.recipients == {uuid.UUID(ana.user_id)}
    assert revoked.payload["all"] is True
    assert revoked.payload["session_ids"] == [ana.session_id]
    effects = socket.event(revoked)
    assert Close(1008, "session revoked") in effects


async def test_enabling_an_account_lets_it_log_in_again(
    client: httpx.AsyncClient, container: Container
) -> None:
    admin = await admin_account(client, container)
    ana = await register_and_login(client, "Ana")
    await client.post(f"{ADMIN}/users/{ana.user_id}/disable", headers=admin.headers)
    assert_problem(await login_answer(client, ana), 403, "account_disabled")

    r = await client.post(f"{ADMIN}/users/{ana.user_id}/enable", headers=admin.headers)
    assert r.status_code == 204, r.text
    assert (await login_answer(client, ana)).status_code == 200


async def test_an_admin_cannot_disable_themself_or_an_unknown_account(
    client: httpx.AsyncClient, container: Container
) -> None:
    admin = await admin_account(client, container)
    r = await client.post(f"{ADMIN}/users/{admin.user_id}/disable", headers=admin.headers)
    assert_problem(r, 422, "validation_failed")
    r = await client.post(f"{ADMIN}/users/{uuid.uuid4()}/disable", headers=admin.headers)
    assert_problem(r, 404, "not_found")
    assert (await login_answer(client, admin)).status_code == 200


async def test_the_audit_log_lists_each_action_with_its_actor_and_target(
    client: httpx.AsyncClient, container: Container
) -> None:
    admin = await admin_account(client, container)
    ana = await register_and_login(client, "Ana")
    room = await new_room(client, ana)
    message_id = await say(client, ana, room, "spam")
    await client.delete(f"{ADMIN}/messages/{message_id}", headers=admin.headers)
    await client.delete(f"{ADMIN}/rooms/{room}", headers=admin.headers)
    await client.post(f"{ADMIN}/users/{ana.user_id}/disable", headers=admin.headers)
    await client.post(f"{ADMIN}/users/{ana.user_id}/disable", headers=admin.headers)  # no-op
    await client.post(f"{ADMIN}/users/{ana.user_id}/enable", headers=admin.headers)

    r = await client.get(f"{ADMIN}/audit-log", headers=admin.headers)
    assert r.status_code == 200, r.text
    entries = r.json()["entries"]
    assert [(e["action"], e["target_kind"], e["target_id"]) for e in entries] == [
        ("account.enable", "user", ana.user_id),
        ("account.disable", "user", ana.user_id),
        ("room.delete", "room", room),
        ("message.remove", "message", str(message_id)),
    ]
    assert {e["actor_user_id"] for e in entries} == {admin.user_id}
    assert entries[3]["detail"] == {"conversation_id": room, "seq": 1, "sender_id": ana.user_id}
    assert entries[2]["detail"]["member_count"] == 1
    assert entries[1]["detail"] == {"sessions_revoked": 1}
    assert "spam" not in r.text  # a removed message's text is kept nowhere

    first = await client.get(f"{ADMIN}/audit-log?limit=3", headers=admin.headers)
    assert [e["id"] for e in first.json()["entries"]] == [e["id"] for e in entries[:3]]
    rest = await client.get(
        f"{ADMIN}/audit-log", params={"before": entries[2]["id"]}, headers=admin.headers
    )
    assert [e["id"] for e in rest.json()["entries"]] == [entries[3]["id"]]


async def test_a_demoted_admin_is_refused_at_once(
    client: httpx.AsyncClient, container: Container
) -> None:
    admin = await admin_account(client, container)
    ana = await register_and_login(client, "Ana")
    room = await new_room(client, ana)
    assert (await client.get(f"{ADMIN}/audit-log", headers=admin.headers)).status_code == 200

    async with container.db.write() as conn:
        await conn.execute(update(users).where(users.c.email == admin.email).values(is_admin=False))

    # The same access token, still valid: the right is read from the database every time.
    r = await client.delete(f"{ADMIN}/rooms/{room}", headers=admin.headers)
    assert_problem(r, 403, "forbidden")
    assert (await client.get(f"{API}/rooms/{room}", headers=ana.headers)).status_code == 200
    assert_problem(await client.get(f"{ADMIN}/audit-log", headers=admin.headers), 403, "forbidden")


async def test_a_logged_out_admin_token_cannot_moderate(
    client: httpx.AsyncClient, container: Container
) -> None:
    admin = await admin_account(client, container)
    ana = await register_and_login(client, "Ana")
    assert (await client.post(f"{API}/auth/logout", headers=admin.headers)).status_code == 204
    r = await client.post(f"{ADMIN}/users/{ana.user_id}/disable", headers=admin.headers)
    assert_problem(r, 401, "token_invalid")
    assert (await login_answer(client, ana)).status_code == 200


# Two CLI processes, each importing the whole app: slow on a busy machine.
@pytest.mark.timeout(300)
async def test_the_operator_disables_and_enables_an_account_from_the_command_line(
    client: httpx.AsyncClient, container: Container, settings: Settings
) -> None:
    from tests.api.test_cli import cli

    admin = await admin_account(client, container)
    ana = await register_and_login(client, "Ana")
    nobody = "nobody@example.test"
    assert not await container.moderation.set_disabled_by_operator(nobody, disabled=True)
    disabled = cli(settings, "disable-account", ana.email.upper())
    assert disabled.returncode == 0, disabled.stderr
    assert_problem(await login_answer(client, ana), 403, "account_disabled")
    refreshed = await client.post(f"{API}/auth/refresh", json={"refresh_token": ana.refresh_token})
    assert_problem(refreshed, 401, "token_invalid")

    enabled = cli(settings, "enable-account", ana.email)
    assert enabled.returncode == 0, enabled.stderr
    assert (await login_answer(client, ana)).status_code == 200
    log = (await client.get(f"{ADMIN}/audit-log", headers=admin.headers)).json()["entries"]
    assert [(e["action"], e["actor_user_id"]) for e in log] == [
        ("account.enable", None),
        ("account.disable", None),
    ]


@pytest.fixture(params=["sqlite", "postgres"])
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database with no schema yet (on PostgreSQL its own, not the shared test database)."""
    if request.param == "sqlite":
        yield databases.sqlite_url(tmp_path / "old.db")
        return
    request.getfixturevalue("pg_database")  # skips like every PostgreSQL test when asked to
    name = f"{databases.PG_TEST_DB}_moderation"
    await databases._recreate_pg(name)
    try:
        yield databases.pg_url(name)
    finally:
        await databases._drop_pg(name)


async def test_migration_0007_keeps_existing_messages_and_accounts_and_reverts(
    empty_database: str,
) -> None:
    from alembic import command
    from sqlalchemy import Connection, insert, select

    from hushroom.storage.engine import Database
    from hushroom.storage.migrate import alembic_config, upgrade
    from hushroom.storage.sql.tables import messages

    db = Database(empty_database)
    try:
        await upgrade(db, "0006")
        owner, room = uuid.uuid4(), uuid.uuid4()
        async with db.write() as conn:
            await conn.execute(
                insert(users).values(
                    id=owner,
                    email="old@example.test",
                    display_name="Old",
                    display_name_lower="old",
                    kdf_salt=b"\x00" * 16,
                    kdf_params={},
                    auth_hash="x",
                    vault_version=1,
                    created_at=1,
                )
            )
            await databases.insert_plain_room_message(
                conn, room=room, owner=owner, name="Old", body="kept"
            )

        await upgrade(db)

        async with db.read() as conn:
            message = (await conn.execute(select(messages))).one()
            user = (await conn.execute(select(users.c.disabled_at))).one()
        assert (message.body, message.removed_at, message.removed_by) == ("kept", None, None)
        assert user.disabled_at is None

        def downgrade(conn: Connection) -> None:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0006")

        async with db.write() as conn:
            await conn.run_sync(downgrade)
        await upgrade(db)
    finally:
        await db.dispose()
