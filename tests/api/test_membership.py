"""Private groups' signed membership log (decision 0005 §4): the server applies an entry only
when it verifies as the next one, signed by the caller's device, by someone with the right."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from hushroom.crypto.device import DeviceKey
from hushroom.crypto.membership import (
    ADD,
    ADMIN,
    CREATE,
    MEMBER,
    REMOVE,
    REMOVED,
    ROLE,
    MembershipChange,
    MembershipState,
)
from tests.support.accounts import Account, b64
from tests.support.e2ee import (
    add_member,
    create_group,
    current_generation,
    forge_entry,
    group_state,
    keyed_login,
    member_ids,
    new_key,
    open_dm,
    post_entry,
    remove_member,
    sign_entry,
)

API = "/api/v1"


async def snapshot(client: httpx.AsyncClient, viewer: Account, group: str) -> tuple[object, ...]:
    """What a refused entry must leave unchanged: members with roles, the log, the keys."""
    members = await client.get(f"{API}/conversations/{group}/members", headers=viewer.headers)
    log = await client.get(f"{API}/conversations/{group}/membership", headers=viewer.headers)
    roles = sorted((m["user_id"], m["role"]) for m in members.json()["members"])
    return roles, log.json(), await current_generation(client, viewer, group)


async def test_group_is_created_from_a_signed_entry_and_its_log_replays_to_the_members(
    client: httpx.AsyncClient,
) -> None:
    ana = await keyed_login(client, "Ana")
    ben = await keyed_login(client, "Ben")
    cat = await keyed_login(client, "Cat")
    grp = await create_group(client, ana, "Trio", [ben])
    assert (await add_member(client, ana, grp, cat)).json() == {"index": 1}
    state = await group_state(client, cat, grp)
    assert dict(state.members) == {ana.user_id: ADMIN, ben.user_id: MEMBER, cat.user_id: MEMBER}
    assert sorted(await member_ids(client, ben, grp)) == sorted(state.members)
    r = await client.get(f"{API}/conversations/{grp}/membership?after=0", headers=ben.headers)
    assert [e["index"] for e in r.json()["entries"]] == [1]
    assert r.json()["head_index"] == 1
    # A key set of a group records the log head it was made for.
    await new_key(client, ana, grp)
    r = await client.get(f"{API}/conversations/{grp}/key-sets", headers=ben.headers)
    assert r.json()["key_sets"][0]["membership_index"] == 1


async def test_create_entry_signed_for_someone_else_or_reusing_an_id_is_refused(
    client: httpx.AsyncClient,
) -> None:
    ana = await keyed_login(client, "Ana")
    ben = await keyed_login(client, "Ben")
    grp = str(uuid.uuid4())
    changes = [MembershipChange(ana.user_id, ADMIN), MembershipChange(ben.user_id, MEMBER)]
    entry = sign_entry(ana, MembershipState.empty(grp), CREATE, changes)
    body = {"conversation_id": grp, "name": "Pair", "entry": b64(entry)}
    r = await client.post(f"{API}/groups", json=body, headers=ben.headers)
    assert (r.status_code, r.json()["code"]) == (403, "forbidden")
    other = {**body, "conversation_id": str(uuid.uuid4())}
    r = await client.post(f"{API}/groups", json=other, headers=ana.headers)
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")
    assert (await client.post(f"{API}/groups", json=body, headers=ana.headers)).status_code == 201
    r = await client.post(f"{API}/groups", json=body, headers=ana.headers)
    assert (r.status_code, r.json()["code"]) == (409, "conflict")
    ghost = [*changes, MembershipChange(str(uuid.uuid4()), MEMBER)]
    fresh = str(uuid.uuid4())
    entry = sign_entry(ana, MembershipState.empty(fresh), CREATE, ghost)
    r = await client.post(
        f"{API}/groups",
        json={"conversation_id": fresh, "name": "Ghost", "entry": b64(entry)},
        headers=ana.headers,
    )
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")


async def test_entries_with_a_bad_signature_a_broken_chain_or_no_right_change_nothing(
    client: httpx.AsyncClient,
) -> None:
    ana = await keyed_login(client, "Ana")
    ben = await keyed_login(client, "Ben")
    cat = await keyed_login(client, "Cat")
    grp = await create_group(client, ana, "Trio", [ben])
    await new_key(client, ana, grp)
    before = await snapshot(client, ana, grp)
    state = await group_state(client, ana, grp)
    add_cat = [MembershipChange(cat.user_id, MEMBER)]
    cases = [
        (
            "signed by another key",
            ana,
            forge_entry(ana, state, ADD, add_cat, signing_key=DeviceKey.generate()),
            (422, "invalid_key_material"),
        ),
        ("skips an index", ana, forge_entry(ana, state, ADD, add_cat, index=2), None),
        ("chains elsewhere", ana, forge_entry(ana, state, ADD, add_cat, previous=bytes(32)), None),
        ("a member adds", ben, forge_entry(ben, state, ADD, add_cat), (403, "forbidden")),
        (
            "a member removes the admin",
            ben,
            forge_entry(ben, state, REMOVE, [MembershipChange(ana.user_id, REMOVED)]),
            (403, "forbidden"),
        ),
        (
            "a member makes themself admin",
            ben,
            forge_entry(ben, state, ROLE, [MembershipChange(ben.user_id, ADMIN)]),
            (403, "forbidden"),
        ),
        ("signed by another user", ana, forge_entry(ben, state, ADD, add_cat), (403, "forbidden")),
        (
            "the last admin leaves without a successor",
            ana,
            forge_entry(ana, state, "leave", [MembershipChange(ana.user_id, REMOVED)]),
            (422, "validation_failed"),
        ),
        ("not an entry", ana, b"garbage", (422, "invalid_key_material")),
    ]
    for why, actor, entry, expected in cases:
        r = await post_entry(client, actor, grp, entry)
        want = expected or (409, "membership_conflict")
        assert (r.status_code, r.json()["code"]) == want, (why, r.text)
    assert await snapshot(client, ana, grp) == before
    r = await client.get(f"{API}/conversations/{grp}/membership", headers=cat.headers)
    assert (r.status_code, r.json()["code"]) == (403, "not_a_member")


async def test_two_admins_appending_at_once_one_wins_the_other_rebuilds_on_the_new_head(
    client: httpx.AsyncClient,
) -> None:
    ana = await keyed_login(client, "Ana")
    ben = await keyed_login(client, "Ben")
    cat = await keyed_login(client, "Cat")
    dan = await keyed_login(client, "Dan")
    grp = await create_group(client, ana, "Four", [ben])
    state = await group_state(client, ana, grp)
    promote = sign_entry(ana, state, ROLE, [MembershipChange(ben.user_id, ADMIN)])
    assert (await post_entry(client, ana, grp, promote)).status_code == 201
    state = await group_state(client, ana, grp)
    first = sign_entry(ana, state, ADD, [MembershipChange(cat.user_id, MEMBER)])
    second = sign_entry(ben, state, ADD, [MembershipChange(dan.user_id, MEMBER)])
    replies = await asyncio.gather(
        post_entry(client, ana, grp, first), post_entry(client, ben, grp, second)
    )
    assert sorted((r.status_code, r.json().get("code")) for r in replies) == [
        (201, None),
        (409, "membership_conflict"),
    ]
    loser = ben if replies[1].status_code == 409 else ana
    newcomer = dan if loser is ben else cat
    state = await group_state(client, loser, grp)
    again = sign_entry(loser, state, ADD, [MembershipChange(newcomer.user_id, MEMBER)])
    assert (await post_entry(client, loser, grp, again)).json() == {"index": 3}
    assert len(await member_ids(client, ana, grp)) == 4


async def test_leaving_and_removal_follow_the_log_and_mark_the_keys_stale(
    client: httpx.AsyncClient,
) -> None:
    ana = await keyed_login(client, "Ana")
    ben = await keyed_login(client, "Ben")
    cat = await keyed_login(client, "Cat")
    grp = await create_group(client, ana, "Trio", [ben, cat])
    await new_key(client, ana, grp)
    assert (await remove_member(client, cat, grp, cat)).status_code == 201  # leaves
    assert await current_generation(client, ana, grp) == (1, True)
    await new_key(client, ana, grp)
    assert (await remove_member(client, ana, grp, ana)).status_code == 201  # names Ben
    state = await group_state(client, ben, grp)
    assert dict(state.members) == {ben.user_id: ADMIN}
    members = await client.get(f"{API}/conversations/{grp}/members", headers=ben.headers)
    assert [(m["user_id"], m["role"]) for m in members.json()["members"]] == [
        (ben.user_id, "admin")
    ]


async def test_admins_rename_a_group_and_members_cannot(client: httpx.AsyncClient) -> None:
    ana = await keyed_login(client, "Ana")
    ben = await keyed_login(client, "Ben")
    grp = await create_group(client, ana, "Old name", [ben])
    r = await client.patch(f"{API}/groups/{grp}", json={"name": "Nope"}, headers=ben.headers)
    assert (r.status_code, r.json()["code"]) == (403, "forbidden")
    r = await client.patch(f"{API}/groups/{grp}", json={"name": "New name"}, headers=ana.headers)
    assert (r.status_code, r.json()["name"]) == (200, "New name")
    r = await client.get(f"{API}/conversations/{grp}", headers=ben.headers)
    assert r.json()["name"] == "New name"


async def test_dms_have_no_membership_log(client: httpx.AsyncClient) -> None:
    ana = await keyed_login(client, "Ana")
    ben = await keyed_login(client, "Ben")
    dm = await open_dm(client, ana, ben)
    r = await client.get(f"{API}/conversations/{dm}/membership", headers=ana.headers)
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")
