"""Who gets a user's presence (docs/protocol.md "Presence"): pushed to people sharing a private
conversation with them (both accepted) and to sockets watching them; a public room alone pushes
nothing. Every test runs on both presence backends (memory, Redis) and both databases."""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from hushroom.config import Settings
from hushroom.container import Container
from hushroom.events.event import Event
from hushroom.presence.base import PresenceInfo
from hushroom.principal import Principal
from hushroom.storage.accounts import UserRecord
from hushroom.storage.conversations import MemberRecord
from tests.contract.conftest import delete_prefix, require_redis
from tests.support.accounts import KDF_PARAMS, Account, register_and_login
from tests.support.events import app_client, presence_of, principal, published

__all__ = ["app_client", "published"]  # fixtures used by name below

API = "/api/v1"


@pytest.fixture(params=["memory", "redis"])
async def settings(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> AsyncIterator[Settings]:
    """The suite's settings, with presence (and fan-out) on memory or on Redis."""
    prefix = f"hushroom-test:{secrets.token_hex(6)}:"
    redis_url = require_redis() if request.param == "redis" else None
    yield Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        jwt_secret="test-secret-" + "x" * 40,
        log_json=True,
        rate_limit_scale=1000,
        redis_url=redis_url,
        redis_prefix=prefix,
    )
    if redis_url is not None:
        await delete_prefix(prefix)


async def room_with(client: httpx.AsyncClient, owner: Account, *others: Account) -> str:
    r = await client.post(f"{API}/rooms", json={"name": "Hall"}, headers=owner.headers)
    assert r.status_code == 201, r.text
    room = str(r.json()["id"])
    for other in others:
        assert (await client.post(f"{API}/rooms/{room}/join", headers=other.headers)).is_success
    return room


async def accepted_dm(client: httpx.AsyncClient, a: Account, b: Account) -> str:
    r = await client.post(f"{API}/dms", json={"user_id": b.user_id}, headers=a.headers)
    assert r.status_code == 201, r.text
    dm = str(r.json()["id"])
    r = await client.post(f"{API}/conversations/{dm}/accept", headers=b.headers)
    assert r.status_code == 204, r.text
    return dm


async def block(client: httpx.AsyncClient, by: Account, whom: Account) -> None:
    r = await client.put(f"{API}/blocks/{whom.user_id}", headers=by.headers)
    assert r.is_success, r.text


def snapshot(infos: list[PresenceInfo]) -> list[tuple[str, str]]:
    return [(str(i.user_id), i.status) for i in infos]


async def test_a_dm_partner_gets_online_and_offline_a_room_co_member_does_not(
    app_client: httpx.AsyncClient, container: Container, published: list[Event]
) -> None:
    ana = await register_and_login(app_client, "Ana")
    ben = await register_and_login(app_client, "Ben")
    cat = await register_and_login(app_client, "Cat")
    await room_with(app_client, ana, ben, cat)
    await accepted_dm(app_client, ana, ben)
    published.clear()

    await container.presence.connected(principal(ana), "a1")
    await container.presence.set_status(principal(ana), "a1", "away")
    await container.presence.disconnected(principal(ana), "a1")
    assert presence_of(published, ana, ben) == ["online", "away", "offline"]
    assert presence_of(published, ana, cat) == []  # the room alone pushes nothing
    assert presence_of(published, ana, ana) == ["online", "away", "offline"]  # her other devices


async def test_a_watcher_gets_a_snapshot_then_every_change_until_it_stops(
    app_client: httpx.AsyncClient, container: Container, published: list[Event]
) -> None:
    ana = await register_and_login(app_client, "Ana")
    ben = await register_and_login(app_client, "Ben")
    cat = await register_and_login(app_client, "Cat")  # never connects
    await room_with(app_client, ana, ben, cat)
    await container.presence.connected(principal(ben), "b1")
    await container.presence.connected(principal(ana), "a1")

    ids = [uuid.UUID(u.user_id) for u in (ben, cat, ben)]
    seen = await container.presence.watch(principal(ana), "a1", ids)
    assert snapshot(seen) == [(ben.user_id, "online"), (cat.user_id, "offline")]

    published.clear()
    await container.presence.set_status(principal(ben), "b1", "away")
    await container.presence.connected(principal(cat), "c1")
    assert presence_of(published, ben, ana) == ["away"]
    assert presence_of(published, cat, ana) == ["online"]

    # A new watch replaces the old one; an empty one stops watching.
    assert snapshot(await container.presence.watch(principal(ana), "a1", ids[1:2])) == [
        (cat.user_id, "online")
    ]
    published.clear()
    await container.presence.disconnected(principal(ben), "b1")
    assert presence_of(published, ben, ana) == []
    assert await container.presence.watch(principal(ana), "a1", []) == []
    await container.presence.disconnected(principal(cat), "c1")
    assert presence_of(published, cat, ana) == []


async def test_a_watch_dies_with_its_socket(
    app_client: httpx.AsyncClient, container: Container, published: list[Event]
) -> None:
    ana = await register_and_login(app_client, "Ana")
    ben = await register_and_login(app_client, "Ben")
    await room_with(app_client, ana, ben)
    await container.presence.connected(principal(ana), "a1")
    await container.presence.connected(principal(ana), "a2")
    await container.presence.watch(principal(ana), "a1", [uuid.UUID(ben.user_id)])
    assert await container.presence_backend.watchers(uuid.UUID(ben.user_id)) == {
        uuid.UUID(ana.user_id)
    }
    await container.presence.disconnected(principal(ana), "a1")  # her other socket stays
    assert await container.presence_backend.watchers(uuid.UUID(ben.user_id)) == set()
    published.clear()
    await container.presence.connected(principal(ben), "b1")
    assert presence_of(published, ben, ana) == []


async def test_a_watch_outside_any_shared_conversation_or_across_a_block_gets_nothing(
    app_client: httpx.AsyncClient, container: Container, published: list[Event]
) -> None:
    ana = await register_and_login(app_client, "Ana")
    ben = await register_and_login(app_client, "Ben")  # shares nothing with Ana
    cat = await register_and_login(app_client, "Cat")  # shares a room, then blocks Ana
    dan = await register_and_login(app_client, "Dan")  # Ana blocks him
    await room_with(app_client, ana, cat, dan)
    for u, conn in ((ben, "b1"), (cat, "c1"), (dan, "d1")):
        await container.presence.connected(principal(u), conn)
    await block(app_client, cat, ana)
    await block(app_client, ana, dan)
    await container.presence.connected(principal(ana), "a1")

    # An unknown id answers exactly like a stranger, a blocked or a blocking user: not listed.
    ids = [uuid.UUID(u.user_id) for u in (ben, cat, dan)] + [uuid.uuid4()]
    assert await container.presence.watch(principal(ana), "a1", ids) == []
    published.clear()
    for u, conn in ((ben, "b1"), (cat, "c1"), (dan, "d1")):
        await container.presence.set_status(principal(u), conn, "away")
        await container.presence.disconnected(principal(u), conn)
        assert presence_of(published, u, ana) == []


async def test_unblocking_a_room_co_member_shows_them_again_only_to_a_watcher(
    app_client: httpx.AsyncClient, container: Container, published: list[Event]
) -> None:
    ana = await register_and_login(app_client, "Ana")
    ben = await register_and_login(app_client, "Ben")
    cat = await register_and_login(app_client, "Cat")
    await room_with(app_client, ana, ben, cat)
    for u, conn in ((ana, "a1"), (ben, "b1"), (cat, "c1")):
        await container.presence.connected(principal(u), conn)
    await block(app_client, ana, ben)
    await block(app_client, ana, cat)
    await container.presence.watch(principal(ana), "a1", [uuid.UUID(ben.user_id)])
    published.clear()

    for u in (ben, cat):
        r = await app_client.delete(f"{API}/blocks/{u.user_id}", headers=ana.headers)
        assert r.is_success
    assert presence_of(published, ben, ana) == ["online"]  # she watches him
    assert presence_of(published, cat, ana) == []  # the room alone: nothing pushed


async def _seed_users(container: Container, n: int) -> list[Principal]:
    people = [Principal(uuid.uuid4(), uuid.uuid4(), uuid.uuid4()) for _ in range(n)]
    async with container.storage.write() as tx:
        for i, p in enumerate(people):
            await tx.users.create(
                UserRecord(
                    id=p.user_id,
                    email=f"member{i}@example.test",
                    display_name=f"Member {i}",
                    kdf_salt=os.urandom(16),
                    kdf_params=dict(KDF_PARAMS),
                    auth_hash="unused",
                    keys=None,
                    vault_version=1,
                    keys_version=0,
                    is_admin=False,
                    created_at=container.clock.now_ms(),
                )
            )
    return people


@pytest.mark.timeout(120)
async def test_presence_frames_grow_linearly_when_a_big_room_connects(
    container: Container, published: list[Event]
) -> None:
    """N members of one room connect, some watching a screenful of members: the presence
    frames (one per recipient of each presence event) stay a small multiple of N. Pushing to
    every co-member, as before, cost about N^2 / 2 (20,000 here)."""
    n, watching, screen = 200, 10, 50
    people = await _seed_users(container, n)
    room = await container.rooms.create(people[0], "Big room", None)
    async with container.storage.write() as tx:  # joined long ago (no join events to count)
        for p in people[1:]:
            await tx.members.add(MemberRecord(room.id, p.user_id, "member", 0, 0))
    shown = [p.user_id for p in people[:screen]]
    published.clear()

    for i, p in enumerate(people):
        await container.presence.connected(p, f"conn{i}")
        if i < watching:
            assert len(await container.presence.watch(p, f"conn{i}", shown)) == screen

    frames = sum(len(e.recipients) for e in published if e.type == "presence")
    # Each member's own sockets, plus every watcher of each member shown after it watched.
    assert frames <= n + watching * screen
    assert frames >= n
