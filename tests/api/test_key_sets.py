"""Key sets of private conversations (decision 0005 §1–§2): what the server checks before it
stores one, who may fetch them, and how racing uploads resolve."""

from __future__ import annotations

import asyncio

import httpx

from hushroom.crypto.conversation_key import KeySetUpload
from tests.support.accounts import b64, register_and_login
from tests.support.e2ee import (
    build_key_set,
    current_generation,
    keyed_login,
    latest_puk,
    open_dm,
    post_key_set,
    rotate_puk,
)

API = "/api/v1"


async def test_member_uploads_the_next_generation_and_each_member_fetches_only_their_box(
    client: httpx.AsyncClient,
) -> None:
    ana = await keyed_login(client, "Ana")
    ben = await keyed_login(client, "Ben")
    dm = await open_dm(client, ana, ben)
    assert await current_generation(client, ben, dm) == (0, False)
    _key, upload = await build_key_set(client, ana, dm, 1)
    r = await post_key_set(client, ana, dm, 1, upload)
    assert r.status_code == 201, r.text
    assert r.json() == {"generation": 1}

    boxes = KeySetUpload.decode(upload).boxes
    r = await client.get(f"{API}/conversations/{dm}/key-sets", headers=ben.headers)
    assert r.status_code == 200, r.text
    page = r.json()
    assert (page["current_generation"], page["stale"]) == (1, False)
    (item,) = page["key_sets"]
    assert item["box"] == b64(boxes[ben.user_id])
    assert item["statement"] == b64(KeySetUpload.decode(upload).statement)
    assert (item["creator_user_id"], item["creator_device_id"]) == (ana.user_id, ana.device_id)
    assert item["membership_index"] is None  # DMs have no membership log
    r = await client.get(f"{API}/conversations/{dm}/key-sets/1", headers=ana.headers)
    assert r.json()["box"] == b64(boxes[ana.user_id])
    r = await client.get(f"{API}/conversations/{dm}/key-sets/2", headers=ana.headers)
    assert (r.status_code, r.json()["code"]) == (404, "not_found")
    r = await client.get(f"{API}/conversations/{dm}/key-sets?after=1", headers=ana.headers)
    assert r.json()["key_sets"] == []


async def test_racing_uploads_for_one_generation_one_wins_the_other_is_told_it_is_taken(
    client: httpx.AsyncClient,
) -> None:
    ana = await keyed_login(client, "Ana")
    ben = await keyed_login(client, "Ben")
    dm = await open_dm(client, ana, ben)
    _k1, first = await build_key_set(client, ana, dm, 1)
    _k2, second = await build_key_set(client, ben, dm, 1)
    replies = await asyncio.gather(
        post_key_set(client, ana, dm, 1, first), post_key_set(client, ben, dm, 1, second)
    )
    statuses = sorted(r.status_code for r in replies)
    assert statuses == [201, 409], [r.text for r in replies]
    loser = next(r for r in replies if r.status_code == 409)
    assert loser.json()["code"] == "key_generation_taken"
    assert await current_generation(client, ana, dm) == (1, False)
    # The loser builds on top of the winner.
    _k3, third = await build_key_set(client, ben, dm, 2)
    assert (await post_key_set(client, ben, dm, 2, third)).status_code == 201


async def test_key_set_with_a_wrong_member_list_or_generation_is_refused(
    client: httpx.AsyncClient,
) -> None:
    ana = await keyed_login(client, "Ana")
    ben = await keyed_login(client, "Ben")
    cat = await keyed_login(client, "Cat")
    dm = await open_dm(client, ana, ben)
    for members in ([ana.user_id], [ana.user_id, ben.user_id, cat.user_id]):
        _k, upload = await build_key_set(client, ana, dm, 1, members=members)
        r = await post_key_set(client, ana, dm, 1, upload)
        assert (r.status_code, r.json()["code"]) == (409, "key_set_outdated"), r.text
    # Skipping a generation, or a statement for another generation than the request's.
    _k, upload = await build_key_set(client, ana, dm, 2)
    r = await post_key_set(client, ana, dm, 2, upload)
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")
    r = await post_key_set(client, ana, dm, 1, upload)
    assert (r.status_code, r.json()["field"]) == (422, "generation")
    r = await post_key_set(client, ana, dm, 1, b"not a key set")
    assert (r.status_code, r.json()["code"]) == (422, "invalid_key_material")
    assert await current_generation(client, ana, dm) == (0, False)


async def test_key_set_sealed_to_an_old_puk_generation_is_refused(
    client: httpx.AsyncClient,
) -> None:
    ana = await keyed_login(client, "Ana")
    ben = await keyed_login(client, "Ben")
    dm = await open_dm(client, ana, ben)
    old_puks = [await latest_puk(client, ana, u) for u in (ana.user_id, ben.user_id)]
    await rotate_puk(client, ben)
    _k, upload = await build_key_set(client, ana, dm, 1, puks=old_puks)
    r = await post_key_set(client, ana, dm, 1, upload)
    assert (r.status_code, r.json()["code"]) == (409, "key_set_outdated")
    _k, upload = await build_key_set(client, ana, dm, 1)
    assert (await post_key_set(client, ana, dm, 1, upload)).status_code == 201


async def test_non_members_cannot_upload_or_fetch_key_sets(client: httpx.AsyncClient) -> None:
    ana = await keyed_login(client, "Ana")
    ben = await keyed_login(client, "Ben")
    eve = await keyed_login(client, "Eve")
    dm = await open_dm(client, ana, ben)
    _k, upload = await build_key_set(client, ana, dm, 1)
    assert (await post_key_set(client, ana, dm, 1, upload)).status_code == 201
    for url in (f"{API}/conversations/{dm}/key-sets", f"{API}/conversations/{dm}/key-sets/1"):
        r = await client.get(url, headers=eve.headers)
        assert (r.status_code, r.json()["code"]) == (403, "not_a_member"), url
    members = [ana.user_id, ben.user_id, eve.user_id]
    _k, forged = await build_key_set(client, eve, dm, 2, members=members)
    r = await post_key_set(client, eve, dm, 2, forged)
    assert (r.status_code, r.json()["code"]) == (403, "not_a_member")


async def test_public_rooms_refuse_key_sets(client: httpx.AsyncClient) -> None:
    ana = await keyed_login(client, "Ana")
    room = await client.post(f"{API}/rooms", json={"name": "Lobby"}, headers=ana.headers)
    assert room.status_code == 201, room.text
    r = await client.get(f"{API}/conversations/{room.json()['id']}/key-sets", headers=ana.headers)
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")


async def test_an_uncertified_device_cannot_upload_a_key_set(client: httpx.AsyncClient) -> None:
    ana = await keyed_login(client, "Ana")
    ben = await keyed_login(client, "Ben")
    dm = await open_dm(client, ana, ben)
    _k, upload = await build_key_set(client, ana, dm, 1)
    # The same account on a new device that never certified itself.
    fresh = await register_and_login(client, "Fay")
    fresh_dm = await open_dm(client, fresh, ben)
    r = await post_key_set(client, fresh, fresh_dm, 1, upload)
    assert (r.status_code, r.json()["code"]) == (403, "device_not_certified")
