"""Direct messages and private groups: real envelopes only, members only, and every envelope
checked against its send and the conversation's current key generation (decision 0005 §3)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.support.accounts import Account, b64, register_and_login
from tests.support.e2ee import (
    add_member,
    conversation_key_for,
    create_group,
    envelope_body,
    keyed_login,
    new_key,
    open_dm,
    remove_member,
    rotate_puk,
    seal,
    send_sealed,
)

API = "/api/v1"


async def post_send(
    client: httpx.AsyncClient, who: Account, conv: str, body: dict[str, Any]
) -> httpx.Response:
    return await client.post(f"{API}/conversations/{conv}/messages", json=body, headers=who.headers)


async def history(client: httpx.AsyncClient, who: Account, conv: str) -> list[dict[str, Any]]:
    r = await client.get(f"{API}/conversations/{conv}/messages", headers=who.headers)
    assert r.status_code == 200, r.text
    return list(r.json()["messages"])


async def test_one_dm_per_pair_carries_real_envelopes(client: httpx.AsyncClient) -> None:
    ana = await keyed_login(client, "Ana")
    ben = await keyed_login(client, "Ben")
    r1 = await client.post(f"{API}/dms", json={"user_id": ben.user_id}, headers=ana.headers)
    r2 = await client.post(f"{API}/dms", json={"user_id": ana.user_id}, headers=ben.headers)
    assert (r1.status_code, r2.status_code) == (201, 200)
    dm = r1.json()["id"]
    assert r2.json()["id"] == dm
    key = await new_key(client, ana, dm)
    body = envelope_body(ana, key, b"hello Ben")
    assert (await post_send(client, ana, dm, body)).status_code == 201
    (msg,) = await history(client, ben, dm)
    assert msg["ciphertext"] == body["envelope"]["ciphertext"]
    assert msg["generation"] == 1
    assert "body" not in msg or msg["body"] is None
    assert msg["sender_device_id"] == ana.device_id


async def test_private_conversations_refuse_plaintext(client: httpx.AsyncClient) -> None:
    ana = await register_and_login(client, "Ana")
    ben = await register_and_login(client, "Ben")
    dm = await open_dm(client, ana, ben)
    r = await post_send(client, ana, dm, {"client_msg_id": uuid.uuid4().hex, "body": "in clear"})
    assert r.status_code == 422
    assert r.json()["field"] == "envelope"


async def test_dm_with_self_or_unknown_user_is_refused(client: httpx.AsyncClient) -> None:
    ana = await register_and_login(client, "Ana")
    r = await client.post(f"{API}/dms", json={"user_id": ana.user_id}, headers=ana.headers)
    assert r.status_code == 422
    r = await client.post(f"{API}/dms", json={"user_id": str(uuid.uuid4())}, headers=ana.headers)
    assert r.status_code == 404


async def test_non_member_is_refused_everywhere(client: httpx.AsyncClient) -> None:
    ana = await keyed_login(client, "Ana")
    ben = await keyed_login(client, "Ben")
    eve = await keyed_login(client, "Eve")
    grp = await create_group(client, ana, "Family", [ben])
    base = f"{API}/conversations/{grp}"
    for method, url, body in [
        ("GET", f"{base}/messages", None),
        ("GET", f"{base}/members", None),
        ("GET", base, None),
        ("POST", f"{base}/read", {"seq": 0}),
        ("GET", f"{base}/key-sets", None),
        ("GET", f"{base}/key-sets/1", None),
    ]:
        r = await client.request(method, url, json=body, headers=eve.headers)
        assert r.status_code == 403, (url, r.text)
        assert r.json()["code"] == "not_a_member"
    r = await send_sealed(client, eve, grp, conversation_key_for(grp, 1))
    assert (r.status_code, r.json()["code"]) == (403, "not_a_member")
    listing = (await client.get(f"{API}/conversations", headers=eve.headers)).json()
    assert grp not in {c["id"] for c in listing}


async def test_group_admin_manages_members_and_removed_member_loses_access(
    client: httpx.AsyncClient,
) -> None:
    ana = await keyed_login(client, "Ana")
    ben = await keyed_login(client, "Ben")
    cat = await keyed_login(client, "Cat")
    grp = await create_group(client, ana, "Trio", [ben])
    # Members who are not admins cannot add people.
    assert (await add_member(client, ben, grp, cat)).status_code == 403
    assert (await add_member(client, ana, grp, cat)).status_code == 201
    key = await new_key(client, cat, grp)
    assert (await send_sealed(client, cat, grp, key)).status_code == 201
    members = (await client.get(f"{API}/conversations/{grp}/members", headers=cat.headers)).json()
    assert len(members["members"]) == 3

    assert (await remove_member(client, ana, grp, cat)).status_code == 201
    r = await send_sealed(client, cat, grp, key)
    assert (r.status_code, r.json()["code"]) == (403, "not_a_member")
    r = await client.get(f"{API}/conversations/{grp}/messages", headers=cat.headers)
    assert r.status_code == 403
    r = await client.get(f"{API}/conversations/{grp}/key-sets", headers=cat.headers)
    assert r.status_code == 403


async def test_last_admin_leaving_hands_admin_on(client: httpx.AsyncClient) -> None:
    ana = await keyed_login(client, "Ana")
    ben = await keyed_login(client, "Ben")
    cat = await keyed_login(client, "Cat")
    grp = await create_group(client, ana, "Trio", [ben, cat])
    assert (await remove_member(client, ana, grp, ana)).status_code == 201
    members = (await client.get(f"{API}/conversations/{grp}/members", headers=ben.headers)).json()
    roles = {m["user_id"]: m["role"] for m in members["members"]}
    assert ana.user_id not in roles
    assert sorted(roles.values()) == ["admin", "member"]


async def test_envelope_that_disagrees_with_its_send_is_refused_and_nothing_is_stored(
    client: httpx.AsyncClient,
) -> None:
    ana = await keyed_login(client, "Ana")
    ben = await keyed_login(client, "Ben")
    dm = await open_dm(client, ana, ben)
    key = await new_key(client, ana, dm)
    elsewhere = conversation_key_for(str(uuid.uuid4()), 1)
    cases = [
        ("another conversation", envelope_body(ana, elsewhere), "envelope"),
        ("another sender", envelope_body(ana, key, sender_user_id=ben.user_id), "envelope"),
        ("another device", envelope_body(ana, key, sender_device_id=ben.device_id), "envelope"),
        ("another client id", envelope_body(ana, key, client_message_id="f" * 32), "envelope"),
    ]
    wrong_generation = envelope_body(ana, key)
    wrong_generation["envelope"]["generation"] = 2
    cases.append(("another generation", wrong_generation, "envelope.generation"))
    for why, body, field in cases:
        r = await post_send(client, ana, dm, body)
        assert r.status_code == 422, (why, r.text)
        assert (r.json()["code"], r.json()["field"]) == ("envelope_mismatch", field), why
    garbage = {
        "client_msg_id": uuid.uuid4().hex,
        "envelope": {"generation": 1, "ciphertext": b64(b"not an envelope")},
    }
    r = await post_send(client, ana, dm, garbage)
    assert (r.status_code, r.json()["code"]) == (422, "invalid_envelope")
    assert await history(client, ben, dm) == []


async def test_envelope_from_an_uncertified_device_is_refused(client: httpx.AsyncClient) -> None:
    ana = await keyed_login(client, "Ana")
    ben = await keyed_login(client, "Ben")
    dm = await open_dm(client, ana, ben)
    key = await new_key(client, ana, dm)
    # Ana logs in on a new device that never certified itself; its header names that device.
    fresh = Account(**{**ana.__dict__})
    r = await client.post(
        f"{API}/auth/login",
        json={"email": ana.email, "auth_secret": b64(ana.auth_secret), "device_name": "new"},
    )
    fresh.access_token, fresh.device_id = r.json()["access_token"], r.json()["device_id"]
    cmid = uuid.uuid4().hex
    body = {
        "client_msg_id": cmid,
        "envelope": {"generation": 1, "ciphertext": b64(seal(fresh, key, cmid))},
    }
    r = await post_send(client, fresh, dm, body)
    assert (r.status_code, r.json()["code"]) == (403, "device_not_certified")
    assert await history(client, ben, dm) == []


async def test_stale_generation_is_refused_after_membership_changes(
    client: httpx.AsyncClient,
) -> None:
    ana = await keyed_login(client, "Ana")
    ben = await keyed_login(client, "Ben")
    cat = await keyed_login(client, "Cat")
    grp = await create_group(client, ana, "Trio", [ben])
    # No key set yet: generation 1 is not current.
    r = await send_sealed(client, ana, grp, conversation_key_for(grp, 1))
    assert r.status_code == 409
    problem = r.json()
    assert (problem["code"], problem["current_generation"], problem["stale"]) == (
        "stale_key_generation",
        0,
        False,
    )
    first = await new_key(client, ana, grp)
    assert (await send_sealed(client, ana, grp, first)).status_code == 201

    assert (await add_member(client, ana, grp, cat)).status_code == 201
    r = await send_sealed(client, ben, grp, first)
    assert (r.status_code, r.json()["current_generation"], r.json()["stale"]) == (409, 1, True)
    second = await new_key(client, ben, grp)
    assert second.generation == 2
    assert (await send_sealed(client, ben, grp, second)).status_code == 201

    assert (await remove_member(client, ana, grp, cat)).status_code == 201
    r = await send_sealed(client, ana, grp, second)
    assert (r.status_code, r.json()["code"], r.json()["stale"]) == (
        409,
        "stale_key_generation",
        True,
    )
    # An envelope under an older generation is stale too, whatever the flag says.
    third = await new_key(client, ana, grp)
    r = await send_sealed(client, ana, grp, second)
    assert (r.status_code, r.json()["current_generation"], r.json()["stale"]) == (409, 3, False)
    assert (await send_sealed(client, ana, grp, third)).status_code == 201
    assert [m["generation"] for m in await history(client, ana, grp)] == [1, 2, 3]


async def test_stale_generation_is_refused_after_a_members_puk_rotation(
    client: httpx.AsyncClient,
) -> None:
    ana = await keyed_login(client, "Ana")
    ben = await keyed_login(client, "Ben")
    dm = await open_dm(client, ana, ben)
    key = await new_key(client, ana, dm)
    assert (await send_sealed(client, ana, dm, key)).status_code == 201
    await rotate_puk(client, ben)
    r = await send_sealed(client, ana, dm, key)
    assert (r.status_code, r.json()["code"], r.json()["stale"]) == (
        409,
        "stale_key_generation",
        True,
    )
    fresh = await new_key(client, ana, dm)
    assert (await send_sealed(client, ana, dm, fresh)).status_code == 201


async def test_retry_of_a_send_returns_the_original_ack_even_once_keys_are_stale(
    client: httpx.AsyncClient,
) -> None:
    ana = await keyed_login(client, "Ana")
    ben = await keyed_login(client, "Ben")
    cat = await keyed_login(client, "Cat")
    grp = await create_group(client, ana, "Trio", [ben])
    key = await new_key(client, ana, grp)
    body = envelope_body(ana, key, b"once")
    first = await post_send(client, ana, grp, body)
    assert first.status_code == 201
    assert (await add_member(client, ana, grp, cat)).status_code == 201
    again = await post_send(client, ana, grp, body)
    assert again.status_code == 200, again.text
    assert again.json() == {**first.json(), "duplicate": True}
