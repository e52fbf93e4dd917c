"""Blocking (docs/decisions/0006): no DMs, invitations, presence, typing or receipts from a
blocked user, who is never told: they get the same answers as for anyone else."""

from __future__ import annotations

import uuid

import httpx

from hushroom.container import Container
from hushroom.events.event import Event
from tests.api.test_consent import listing, message_news, post, read_positions
from tests.support.e2ee import add_member, create_group, keyed_login, new_key, open_dm, send_sealed
from tests.support.events import (
    app_client,
    presence_of,
    principal,
    published,
    received,
    signals_from,
)

__all__ = ["app_client", "published"]  # fixtures used by name below

API = "/api/v1"


async def test_blocking_and_unblocking_are_idempotent(app_client: httpx.AsyncClient) -> None:
    ana = await keyed_login(app_client, "Ana")
    ben = await keyed_login(app_client, "Ben")
    for _ in range(2):
        r = await app_client.put(f"{API}/blocks/{ana.user_id}", headers=ben.headers)
        assert r.status_code == 204, r.text
    blocks = (await app_client.get(f"{API}/blocks", headers=ben.headers)).json()["blocks"]
    assert [b["user_id"] for b in blocks] == [ana.user_id]
    assert isinstance(blocks[0]["created_at"], int)
    assert (await app_client.get(f"{API}/blocks", headers=ana.headers)).json()["blocks"] == []
    for _ in range(2):
        r = await app_client.delete(f"{API}/blocks/{ana.user_id}", headers=ben.headers)
        assert r.status_code == 204, r.text
    assert (await app_client.get(f"{API}/blocks", headers=ben.headers)).json()["blocks"] == []

    r = await app_client.put(f"{API}/blocks/{ben.user_id}", headers=ben.headers)
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")
    r = await app_client.put(f"{API}/blocks/{uuid.uuid4()}", headers=ben.headers)
    assert (r.status_code, r.json()["code"]) == (404, "not_found")


async def test_a_blocked_users_new_dm_never_reaches_the_blocker(
    app_client: httpx.AsyncClient, published: list[Event]
) -> None:
    ana = await keyed_login(app_client, "Ana")
    ben = await keyed_login(app_client, "Ben")
    assert (await app_client.put(f"{API}/blocks/{ana.user_id}", headers=ben.headers)).is_success
    published.clear()

    dm = await open_dm(app_client, ana, ben)
    key = await new_key(app_client, ana, dm)
    assert (await send_sealed(app_client, ana, dm, key)).status_code == 201
    assert received(published, ben) == []
    assert dm not in await listing(app_client, ben)
    ignored = (await listing(app_client, ben, include_hidden=True))[dm]
    assert (ignored["request"], ignored["hidden"]) == (True, True)


async def test_the_blocked_user_gets_the_same_answers_as_for_anyone(
    app_client: httpx.AsyncClient,
) -> None:
    ana = await keyed_login(app_client, "Ana")
    ben = await keyed_login(app_client, "Ben")  # blocks Ana
    cat = await keyed_login(app_client, "Cat")  # does not
    assert (await app_client.put(f"{API}/blocks/{ana.user_id}", headers=ben.headers)).is_success

    seen = []
    for other in (ben, cat):
        r = await app_client.post(
            f"{API}/dms", json={"user_id": other.user_id}, headers=ana.headers
        )
        dm = r.json()["id"]
        key = await new_key(app_client, ana, dm)
        sent = await send_sealed(app_client, ana, dm, key)
        mine = (await listing(app_client, ana))[dm]
        seen.append(
            (
                r.status_code,
                sorted(r.json()),
                sent.status_code,
                (mine["request"], mine["hidden"], mine["member_count"]),
                (await read_positions(app_client, ana, dm))[other.user_id],
            )
        )
    assert seen[0] == seen[1]


async def test_a_blocked_users_group_invitation_never_reaches_the_blocker(
    app_client: httpx.AsyncClient, published: list[Event]
) -> None:
    ana = await keyed_login(app_client, "Ana")
    ben = await keyed_login(app_client, "Ben")  # blocks Ana
    cat = await keyed_login(app_client, "Cat")
    dan = await keyed_login(app_client, "Dan")
    assert (await app_client.put(f"{API}/blocks/{ana.user_id}", headers=ben.headers)).is_success
    published.clear()

    group = await create_group(app_client, ana, "Club", [ben, cat])
    key = await new_key(app_client, ana, group)
    assert (await send_sealed(app_client, ana, group, key)).status_code == 201
    assert (await add_member(app_client, ana, group, dan)).status_code == 201
    assert received(published, ben) == []
    assert [e.type for e in received(published, cat)][:2] == ["conversation.updated", "message.new"]
    assert message_news(published, cat, group) == [1]
    assert group not in await listing(app_client, ben)


async def test_blocking_stops_presence_both_ways(
    app_client: httpx.AsyncClient, container: Container, published: list[Event]
) -> None:
    ana = await keyed_login(app_client, "Ana")
    ben = await keyed_login(app_client, "Ben")
    dm = await open_dm(app_client, ana, ben)
    assert (await post(app_client, ben, f"/conversations/{dm}/accept")).status_code == 204
    # A shared public room does not carry presence across a block either.
    room = await app_client.post(f"{API}/rooms", json={"name": "Hall"}, headers=ana.headers)
    await post(app_client, ben, f"/rooms/{room.json()['id']}/join")
    await container.presence.connected(principal(ana), "a1")
    await container.presence.connected(principal(ben), "b1")
    published.clear()

    assert (await app_client.put(f"{API}/blocks/{ana.user_id}", headers=ben.headers)).is_success
    # Each now looks offline to the other, as if they had gone: nothing else is said.
    assert presence_of(published, ben, ana) == ["offline"]
    assert presence_of(published, ana, ben) == ["offline"]
    published.clear()
    await container.presence.set_status(principal(ana), "a1", "away")
    await container.presence.set_status(principal(ben), "b1", "away")
    await container.presence.disconnected(principal(ben), "b1")
    assert presence_of(published, ben, ana) == []
    assert presence_of(published, ana, ben) == []

    published.clear()
    assert (await app_client.delete(f"{API}/blocks/{ana.user_id}", headers=ben.headers)).is_success
    # Unblocked, they share the room again (Ben's side of the DM is a request now), and room
    # presence reaches whoever watches (docs/protocol.md "Presence").
    await container.presence.connected(principal(ben), "b2")
    assert presence_of(published, ben, ana) == []
    await container.presence.watch(principal(ana), "a1", [uuid.UUID(ben.user_id)])
    await container.presence.watch(principal(ben), "b2", [uuid.UUID(ana.user_id)])
    await container.presence.set_status(principal(ben), "b2", "away")
    await container.presence.set_status(principal(ana), "a1", "online")
    assert presence_of(published, ben, ana) == ["away"]
    assert presence_of(published, ana, ben) == ["online"]


async def test_no_typing_or_receipts_cross_a_block_in_a_shared_group(
    app_client: httpx.AsyncClient, container: Container, published: list[Event]
) -> None:
    ana = await keyed_login(app_client, "Ana")
    ben = await keyed_login(app_client, "Ben")
    cat = await keyed_login(app_client, "Cat")
    group = await create_group(app_client, ana, "Trio", [ben, cat])
    for who in (ben, cat):
        assert (await post(app_client, who, f"/conversations/{group}/accept")).status_code == 204
    key = await new_key(app_client, ana, group)
    assert (await send_sealed(app_client, ana, group, key)).status_code == 201
    assert (await app_client.put(f"{API}/blocks/{cat.user_id}", headers=ben.headers)).is_success
    published.clear()

    for who in (ben, cat):
        await container.presence.typing(principal(who), uuid.UUID(group))
        r = await app_client.post(
            f"{API}/conversations/{group}/read", json={"seq": 1}, headers=who.headers
        )
        assert r.status_code == 204
    assert signals_from(published, cat, ben) == []
    assert signals_from(published, ben, cat) == []
    assert signals_from(published, ben, ana) == ["typing", "receipt"]
    assert signals_from(published, cat, ana) == ["typing", "receipt"]
    assert (await read_positions(app_client, cat, group))[ben.user_id] == 0
    assert (await read_positions(app_client, ben, group))[cat.user_id] == 0
    assert (await read_positions(app_client, ana, group))[ben.user_id] == 1


async def test_opening_a_dm_with_someone_you_block_is_refused(
    app_client: httpx.AsyncClient,
) -> None:
    ana = await keyed_login(app_client, "Ana")
    ben = await keyed_login(app_client, "Ben")
    assert (await app_client.put(f"{API}/blocks/{ana.user_id}", headers=ben.headers)).is_success
    r = await app_client.post(f"{API}/dms", json={"user_id": ana.user_id}, headers=ben.headers)
    assert (r.status_code, r.json()["code"]) == (409, "user_blocked")


async def test_blocking_silences_an_accepted_dm_and_unblocking_returns_it_as_a_request(
    app_client: httpx.AsyncClient, published: list[Event]
) -> None:
    ana = await keyed_login(app_client, "Ana")
    ben = await keyed_login(app_client, "Ben")
    dm = await open_dm(app_client, ana, ben)
    assert (await post(app_client, ben, f"/conversations/{dm}/accept")).status_code == 204
    assert (await app_client.put(f"{API}/blocks/{ana.user_id}", headers=ben.headers)).is_success
    assert dm not in await listing(app_client, ben)
    published.clear()
    key = await new_key(app_client, ana, dm)
    assert (await send_sealed(app_client, ana, dm, key)).status_code == 201
    assert message_news(published, ben, dm) == []

    assert (await app_client.delete(f"{API}/blocks/{ana.user_id}", headers=ben.headers)).is_success
    back = (await listing(app_client, ben))[dm]
    assert (back["request"], back["hidden"], back["unread"]) == (True, False, 1)
    assert (await post(app_client, ben, f"/conversations/{dm}/accept")).status_code == 204
    assert (await listing(app_client, ben))[dm]["request"] is False
