"""The send batch (storage/send_batch.py) keeps the delivery guarantees on both databases: SQLite
through the repositories, PostgreSQL on the asyncpg connection (storage/sql/pg_send_batch.py).

Batches are handed to the service's batch handler directly, so each test knows exactly which
sends share a transaction (the group commit in front of it only decides that)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import select
from sqlalchemy import text as sqltext

from hushroom.app import create_app
from hushroom.clock import FakeClock
from hushroom.config import Settings
from hushroom.container import Container
from hushroom.errors import ServiceUnavailable, WriteConflict
from hushroom.principal import Principal
from hushroom.services.messages import SendCommand, SendResult
from hushroom.storage.conversations import NewMessage
from hushroom.storage.sql.pg_send_batch import PgSendBatch
from hushroom.storage.sql.send_batch import SqlSendBatch
from hushroom.storage.sql.tables import messages
from tests.api.test_messages import make_room
from tests.support.accounts import Account, register_and_login
from tests.support.server import free_port


@pytest.fixture
async def app(
    settings: Settings, clock: FakeClock
) -> AsyncIterator[tuple[httpx.AsyncClient, Container]]:
    """The app over HTTP (to make accounts and rooms) and its container (to store batches)."""
    container = Container(settings, clock=clock)
    async with LifespanManager(create_app(container=container)) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
            yield c, container


def principal(account: Account) -> Principal:
    return Principal(
        uuid.UUID(account.user_id), uuid.UUID(account.device_id), uuid.UUID(account.session_id)
    )


def text(room: str, body: str, client_msg_id: str | None = None) -> SendCommand:
    return SendCommand(uuid.UUID(room), client_msg_id or uuid.uuid4().hex, body=body)


async def store(
    container: Container, sends: list[tuple[Account, SendCommand]]
) -> list[SendResult | Exception]:
    """One batch, as the group commit hands it to the service."""
    return await container.messages._store_batch([(principal(a), cmd, None) for a, cmd in sends])


def results(outcomes: list[SendResult | Exception]) -> list[SendResult]:
    assert all(isinstance(o, SendResult) for o in outcomes), outcomes
    return [o for o in outcomes if isinstance(o, SendResult)]


async def ana_in_a_room(
    app: tuple[httpx.AsyncClient, Container],
) -> tuple[Container, Account, str]:
    """The container, and Ana alone in a room of hers (what most tests start from)."""
    client, container = app
    ana = await register_and_login(client, "Ana")
    return container, ana, await make_room(client, ana)


def answer(result: SendResult) -> tuple[int, int, bool]:
    """What a send answers with: the message's id and seq, and whether it was a duplicate."""
    return result.message.id, result.message.seq, result.duplicate


async def seqs(container: Container, who: Account, room: str) -> list[int]:
    page = await container.messages.history(principal(who), uuid.UUID(room), limit=200)
    return [m.seq for m in page.messages]


async def test_a_retry_in_the_same_batch_and_in_a_later_one_stores_once(
    app: tuple[httpx.AsyncClient, Container],
) -> None:
    container, ana, room = await ana_in_a_room(app)
    once = text(room, "once")

    first = results(await store(container, [(ana, once), (ana, text(room, "other")), (ana, once)]))
    again = results(await store(container, [(ana, once)]))

    assert [(r.message.seq, r.duplicate) for r in first] == [(1, False), (2, False), (1, True)]
    assert answer(again[0]) == (first[0].message.id, 1, True)
    assert again[0].message.body == "once"  # the stored original, opened from its sealed column
    assert await seqs(container, ana, room) == [1, 2]


async def test_two_batches_at_once_keep_every_conversation_contiguous(
    app: tuple[httpx.AsyncClient, Container],
) -> None:
    """Two batch workers over the same conversations, listed in opposite orders: both commit
    (rows are locked in id order, no deadlock) and the seqs have no gap and no duplicate."""
    client, container = app
    ana = await register_and_login(client, "Ana")
    ben = await register_and_login(client, "Ben")
    rooms = [await make_room(client, ana, ben) for _ in range(3)]
    batches = [
        [(ana, text(r, f"a{i}")) for i in range(10) for r in rooms]
        if k % 2
        else [(ben, text(r, f"b{i}")) for i in range(10) for r in reversed(rooms)]
        for k in range(6)
    ]

    outcomes = await asyncio.gather(*(store(container, b) for b in batches))

    for outcome in outcomes:
        results(outcome)
    for room in rooms:
        assert await seqs(container, ana, room) == list(range(1, 61))


async def test_a_lost_unique_race_is_a_write_conflict_and_the_retry_finds_the_winner(
    app: tuple[httpx.AsyncClient, Container], monkeypatch: pytest.MonkeyPatch
) -> None:
    container, ana, room = await ana_in_a_room(app)
    cmd = text(room, "raced")
    winner = results(await store(container, [(ana, cmd)]))[0]

    # The unique (device, client_msg_id) index refuses the second row; nothing of the
    # transaction stays (the conversation's seq high included).
    async def store_again() -> None:
        async with container.storage.send_batch() as tx:
            await tx.lock_with_member_ids([uuid.UUID(room)])
            await tx.insert_many([(new_message(ana, cmd), 2)], {uuid.UUID(room): 2})

    with pytest.raises(WriteConflict):
        await store_again()
    assert await seqs(container, ana, room) == [1]

    # As if the winner committed on another node just after this batch looked it up: the
    # batch's insert loses, the send is retried alone and answers with the winner.
    stale_once: list[bool] = []

    def stale_lookup(real: Any) -> Any:
        async def lookup(self: Any, keys: Any) -> Any:
            if not stale_once:
                stale_once.append(True)
                return {}
            return await real(self, keys)

        return lookup

    for unit in (SqlSendBatch, PgSendBatch):
        monkeypatch.setattr(unit, "by_client_ids", stale_lookup(unit.by_client_ids))
    retried = results(await store(container, [(ana, cmd)]))[0]

    assert stale_once == [True]
    assert answer(retried) == (winner.message.id, 1, True)
    assert await seqs(container, ana, room) == [1]
    # The next message still gets the next seq: the failed batch left no hole.
    assert results(await store(container, [(ana, text(room, "next"))]))[0].message.seq == 2


def new_message(who: Account, cmd: SendCommand) -> NewMessage:
    return NewMessage(
        conversation_id=cmd.conversation_id,
        sender_id=uuid.UUID(who.user_id),
        sender_device_id=uuid.UUID(who.device_id),
        client_msg_id=cmd.client_msg_id,
        created_at=0,
        body=cmd.body,
        generation=None,
        ciphertext=None,
    )


async def test_public_bodies_are_sealed_at_rest_and_read_back_through_history(
    app: tuple[httpx.AsyncClient, Container],
) -> None:
    client = app[0]
    container, ana, room = await ana_in_a_room(app)
    bodies = [f"canary-{uuid.uuid4().hex}" for _ in range(5)]

    results(await store(container, [(ana, text(room, b)) for b in bodies]))

    page = await container.messages.history(principal(ana), uuid.UUID(room))
    assert [m.body for m in page.messages] == bodies
    r = await client.get(f"/api/v1/conversations/{room}/messages", headers=ana.headers)
    assert [m["body"] for m in r.json()["messages"]] == bodies
    async with container.storage.read() as tx:
        rows = (
            await tx.conn.execute(
                select(messages.c.body, messages.c.body_sealed).where(
                    messages.c.conversation_id == uuid.UUID(room)
                )
            )
        ).all()
    assert [row.body for row in rows] == [None] * 5
    for row in rows:
        assert all(b.encode() not in bytes(row.body_sealed) for b in bodies)


async def test_silent_members_get_no_push_and_hidden_ones_see_the_conversation_again(
    app: tuple[httpx.AsyncClient, Container],
) -> None:
    client, container = app
    ana = await register_and_login(client, "Ana")
    ben = await register_and_login(client, "Ben")  # ignored the conversation: silent
    cy = await register_and_login(client, "Cy")  # accepted, then hid it
    dee = await register_and_login(client, "Dee")  # hid it and blocks Ana
    room = await make_room(client, ana, ben, cy, dee)
    conv = uuid.UUID(room)
    async with container.storage.write() as tx:
        await tx.members.set_consent(conv, uuid.UUID(ben.user_id), accepted=False, hidden=True)
        await tx.members.set_consent(conv, uuid.UUID(cy.user_id), hidden=True)
        await tx.members.set_consent(conv, uuid.UUID(dee.user_id), hidden=True)
    r = await client.put(f"/api/v1/blocks/{ana.user_id}", headers=dee.headers)
    assert r.status_code == 204, r.text

    async with container.storage.send_batch() as tx:
        locked = (await tx.lock_with_member_ids([conv]))[conv]
    assert set(locked.member_ids) == {uuid.UUID(a.user_id) for a in (ana, ben, cy, dee)}
    assert locked.silent_ids == {uuid.UUID(ben.user_id)}
    assert locked.has_hidden

    outcomes, stored = await container.messages._store_together(
        [(principal(ana), text(room, "hello again"), None)]
    )

    results(outcomes)
    [(record, recipients)] = stored
    assert record.seq == 1
    assert set(recipients) == {uuid.UUID(a.user_id) for a in (ana, cy, dee)}
    async with container.storage.read() as tx:
        state = {
            a.name: await tx.members.get(conv, uuid.UUID(a.user_id)) for a in (ana, ben, cy, dee)
        }
    assert {name: (m.accepted, m.hidden) for name, m in state.items() if m} == {
        "Ana": (True, False),
        "Ben": (False, True),  # an ignored request stays ignored
        "Cy": (True, False),  # back in the list
        "Dee": (True, True),  # blocks the sender: stays hidden
    }
    # The sender's own message is read; nobody else's position moved.
    assert {name: m.last_read_seq for name, m in state.items() if m} == {
        "Ana": 1,
        "Ben": 0,
        "Cy": 0,
        "Dee": 0,
    }


async def test_an_empty_conversation_and_an_unknown_one_lock_as_they_are(
    app: tuple[httpx.AsyncClient, Container],
) -> None:
    client = app[0]
    container, ana, room = await ana_in_a_room(app)
    left = await client.post(f"/api/v1/rooms/{room}/leave", headers=ana.headers)
    assert left.status_code == 204
    unknown = uuid.uuid4()

    async with container.storage.send_batch() as tx:
        locked = await tx.lock_with_member_ids([uuid.UUID(room), unknown])
        certified = await tx.certified_ids([uuid.UUID(ana.device_id)])

    assert list(locked) == [uuid.UUID(room)]
    assert locked[uuid.UUID(room)].member_ids == []
    assert locked[uuid.UUID(room)].conversation.kind == "room"
    assert certified == set()  # a device without a certificate


async def test_a_dropped_connection_fails_one_batch_at_most_and_the_next_one_stores(
    app: tuple[httpx.AsyncClient, Container], database_url: str
) -> None:
    """A database restart closes every pooled connection: a batch may fail with 503 (never
    acknowledged), the next one reconnects and stores."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no server connection to lose")
    container, ana, room = await ana_in_a_room(app)
    results(await store(container, [(ana, text(room, "before"))]))
    async with container.storage.read() as tx:
        await tx.conn.execute(
            sqltext(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )

    first = (await store(container, [(ana, text(room, "during"))]))[0]
    second = (await store(container, [(ana, text(room, "after"))]))[0]

    assert isinstance(first, SendResult | ServiceUnavailable), first
    assert isinstance(second, SendResult), second
    stored = 3 if isinstance(first, SendResult) else 2
    assert await seqs(container, ana, room) == list(range(1, stored + 1))


async def test_an_unreachable_database_answers_every_send_of_the_batch_with_503(
    database_url: str, tmp_path: Path
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("an embedded SQLite database cannot be unreachable")
    settings = Settings(
        database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nothing",
        data_dir=tmp_path,
        jwt_secret="outage-secret-" + "z" * 40,  # type: ignore[arg-type]
    )
    container = Container(settings)
    someone = Principal(uuid.uuid4(), uuid.uuid4(), uuid.uuid4())
    try:
        outcomes = await container.messages._store_batch(
            [(someone, text(str(uuid.uuid4()), f"m{i}"), None) for i in range(3)]
        )
    finally:
        await container.stop()
    assert [type(o) for o in outcomes] == [ServiceUnavailable] * 3
