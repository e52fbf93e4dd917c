"""Group commit over HTTP: concurrent sends share transactions, yet each send is acked, numbered,
deduplicated and refused exactly as if it had been alone."""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.exc import IntegrityError

from hushroom.storage.sql.conversations import SqlMessageRepository
from hushroom.storage.sql.pg_send_batch import PgSendBatch
from tests.api.test_messages import cmid, make_room, send
from tests.support.accounts import Account, register_and_login
from tests.support.e2ee import (
    conversation_key_for,
    envelope_body,
    keyed_login,
    new_key,
    send_sealed,
)
from tests.support.server import METRICS_AUTH


async def batch_counts(client: httpx.AsyncClient) -> tuple[float, float]:
    """(transactions, sends) from the group-commit histogram."""
    text = (await client.get("/metrics", headers=METRICS_AUTH)).text
    count = re.search(r"^hushroom_send_batch_size_count (\S+)$", text, re.M)
    total = re.search(r"^hushroom_send_batch_size_sum (\S+)$", text, re.M)
    assert count is not None
    assert total is not None
    return float(count.group(1)), float(total.group(1))


async def make_dm(client: httpx.AsyncClient, a: Account, b: Account) -> str:
    r = await client.post("/api/v1/dms", json={"user_id": b.user_id}, headers=a.headers)
    return str(r.json()["id"])


async def history(client: httpx.AsyncClient, who: Account, conv: str) -> list[dict[str, Any]]:
    r = await client.get(f"/api/v1/conversations/{conv}/messages?limit=200", headers=who.headers)
    assert r.status_code == 200, r.text
    return list(r.json()["messages"])


async def test_concurrent_sends_share_transactions_and_keep_contiguous_seqs(
    client: httpx.AsyncClient,
) -> None:
    users = [await keyed_login(client, f"U{i}") for i in range(6)]
    room = await make_room(client, users[0], *users[1:])
    dms = [await make_dm(client, users[0], u) for u in users[1:]]
    keys = [await new_key(client, users[0], dm) for dm in dms]
    before, _ = await batch_counts(client)

    sends = [send(client, users[i % 6], room, f"room {i}") for i in range(60)]
    sends += [
        send_sealed(client, users[0], dm, key, os.urandom(64))
        for dm, key in zip(dms, keys, strict=True)
        for _ in range(8)
    ]
    replies = await asyncio.gather(*sends)

    assert [r.status_code for r in replies] == [201] * len(replies)
    transactions, stored = await batch_counts(client)
    assert stored == 100
    assert transactions - before < 100  # batched, not one transaction per send
    assert [m["seq"] for m in await history(client, users[0], room)] == list(range(1, 61))
    assert sorted(r.json()["seq"] for r in replies[:60]) == list(range(1, 61))
    for dm in dms:
        assert [m["seq"] for m in await history(client, users[0], dm)] == list(range(1, 9))
    # Sending marks the room read up to your own message: what came after it is unread.
    own_last = max(r.json()["seq"] for i, r in enumerate(replies[:60]) if i % 6 == 1)
    listing = (await client.get("/api/v1/conversations", headers=users[1].headers)).json()
    assert next(c["unread"] for c in listing if c["id"] == room) == 60 - own_last


async def test_same_client_msg_id_twice_at_once_stores_once(client: httpx.AsyncClient) -> None:
    ana = await register_and_login(client, "Ana")
    room = await make_room(client, ana)
    msg_id = cmid()
    replies = await asyncio.gather(*(send(client, ana, room, "once", msg_id) for _ in range(5)))

    assert sorted(r.status_code for r in replies) == [200, 200, 200, 200, 201]
    assert {r.json()["seq"] for r in replies} == {1}
    assert [r.json()["duplicate"] for r in replies].count(False) == 1
    assert [m["body"] for m in await history(client, ana, room)] == ["once"]


async def test_refused_sends_in_a_batch_fail_alone(client: httpx.AsyncClient) -> None:
    ana = await register_and_login(client, "Ana")
    ben = await register_and_login(client, "Ben")
    eve = await keyed_login(client, "Eve")
    room = await make_room(client, ana, ben)
    dm = await make_dm(client, ana, ben)
    reused = cmid()
    await send(client, ana, room, "first use", reused)

    good = [send(client, ben, room, f"ok {i}") for i in range(10)]
    bad = [
        send_sealed(client, eve, dm, conversation_key_for(dm, 1)),  # not a member
        send(client, ana, dm, "plaintext into a DM"),  # DMs take envelopes only
        send(client, ana, str(uuid.uuid4()), "nowhere"),  # no such conversation
        send(client, ana, dm, "x", reused),  # an id already used in another conversation
    ]
    replies = await asyncio.gather(*good, *bad)

    assert [r.status_code for r in replies[:10]] == [201] * 10
    assert [(r.status_code, r.json()["code"]) for r in replies[10:]] == [
        (403, "not_a_member"),
        (422, "validation_failed"),
        (404, "not_found"),
        (409, "client_msg_id_reused"),
    ]
    assert [m["seq"] for m in await history(client, ana, room)] == list(range(1, 12))
    assert await history(client, ana, dm) == []


async def test_batch_that_loses_a_unique_race_is_stored_send_by_send(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another node committing the same client id first makes the batch's INSERT fail; the
    sends are then stored one by one, each exactly once."""
    ana = await register_and_login(client, "Ana")
    ben = await register_and_login(client, "Ben")
    room = await make_room(client, ana, ben)
    real = SqlMessageRepository.insert_many
    failures = 0

    async def lose_once(self: SqlMessageRepository, rows: Any) -> Any:
        nonlocal failures
        if failures == 0:
            failures += 1
            raise IntegrityError("INSERT", {}, Exception("duplicate key (simulated race)"))
        return await real(self, rows)

    monkeypatch.setattr(SqlMessageRepository, "insert_many", lose_once)
    # PostgreSQL stores send batches on the asyncpg connection (storage/sql/pg_send_batch.py).
    real_pg = PgSendBatch.insert_many

    async def lose_once_pg(self: PgSendBatch, rows: Any, last_seqs: Any) -> Any:
        nonlocal failures
        if failures == 0:
            failures += 1
            raise asyncpg.UniqueViolationError("duplicate key (simulated race)")
        return await real_pg(self, rows, last_seqs)

    monkeypatch.setattr(PgSendBatch, "insert_many", lose_once_pg)
    ids = [cmid() for _ in range(12)]
    replies = await asyncio.gather(
        *(send(client, ana if i % 2 else ben, room, f"m{i}", ids[i]) for i in range(12))
    )

    assert failures == 1
    assert [r.status_code for r in replies] == [201] * 12
    stored = await history(client, ana, room)
    assert sorted(m["client_msg_id"] for m in stored) == sorted(ids)
    assert [m["seq"] for m in stored] == list(range(1, 13))


async def test_envelope_bytes_survive_batching(client: httpx.AsyncClient) -> None:
    ana = await keyed_login(client, "Ana")
    ben = await keyed_login(client, "Ben")
    dm = await make_dm(client, ana, ben)
    key = await new_key(client, ana, dm)
    bodies = [envelope_body(ana, key, os.urandom(50 + i)) for i in range(20)]
    replies = await asyncio.gather(
        *(
            client.post(f"/api/v1/conversations/{dm}/messages", json=b, headers=ana.headers)
            for b in bodies
        )
    )
    by_seq = {r.json()["seq"]: r.json()["client_msg_id"] for r in replies}
    stored = await history(client, ben, dm)
    assert len(stored) == 20
    sent = {b["client_msg_id"]: b["envelope"]["ciphertext"] for b in bodies}
    for m in stored:
        assert by_seq[m["seq"]] == m["client_msg_id"]
        assert m["ciphertext"] == sent[m["client_msg_id"]]


async def test_send_to_a_room_everyone_left_is_not_a_member_not_missing(
    client: httpx.AsyncClient,
) -> None:
    ana = await register_and_login(client, "Ana")
    ben = await register_and_login(client, "Ben")
    room = await make_room(client, ana)
    assert (await send(client, ana, room, "last words")).status_code == 201
    left = await client.post(f"/api/v1/rooms/{room}/leave", headers=ana.headers)
    assert left.status_code == 204
    replies = await asyncio.gather(send(client, ben, room, "anyone?"), send(client, ana, room, "x"))
    assert [(r.status_code, r.json()["code"]) for r in replies] == [
        (403, "not_a_member"),
        (403, "not_a_member"),
    ]
