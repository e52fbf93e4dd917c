"""Direct messages and private groups: envelopes only, members only."""

from __future__ import annotations

import base64
import os
import uuid

import httpx

from tests.support.accounts import Account, register_and_login


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def send_envelope(
    client: httpx.AsyncClient, who: Account, conv: str, ciphertext: bytes, generation: int = 0
) -> httpx.Response:
    return await client.post(
        f"/api/v1/conversations/{conv}/messages",
        json={
            "client_msg_id": uuid.uuid4().hex,
            "envelope": {"generation": generation, "ciphertext": b64(ciphertext)},
        },
        headers=who.headers,
    )


async def test_one_dm_per_pair_carries_opaque_envelopes(client: httpx.AsyncClient) -> None:
    ana = await register_and_login(client, "Ana")
    ben = await register_and_login(client, "Ben")
    r1 = await client.post("/api/v1/dms", json={"user_id": ben.user_id}, headers=ana.headers)
    r2 = await client.post("/api/v1/dms", json={"user_id": ana.user_id}, headers=ben.headers)
    assert (r1.status_code, r2.status_code) == (201, 200)
    dm = r1.json()["id"]
    assert r2.json()["id"] == dm
    blob = os.urandom(300)
    assert (await send_envelope(client, ana, dm, blob, generation=3)).status_code == 201
    hist = (await client.get(f"/api/v1/conversations/{dm}/messages", headers=ben.headers)).json()
    (msg,) = hist["messages"]
    assert msg["ciphertext"] == b64(blob)
    assert msg["generation"] == 3
    assert "body" not in msg or msg["body"] is None
    assert msg["sender_device_id"] == ana.device_id


async def test_private_conversations_refuse_plaintext(client: httpx.AsyncClient) -> None:
    ana = await register_and_login(client, "Ana")
    ben = await register_and_login(client, "Ben")
    dm = (
        await client.post("/api/v1/dms", json={"user_id": ben.user_id}, headers=ana.headers)
    ).json()
    r = await client.post(
        f"/api/v1/conversations/{dm['id']}/messages",
        json={"client_msg_id": uuid.uuid4().hex, "body": "secret in clear"},
        headers=ana.headers,
    )
    assert r.status_code == 422
    assert r.json()["field"] == "envelope"


async def test_dm_with_self_or_unknown_user_is_refused(client: httpx.AsyncClient) -> None:
    ana = await register_and_login(client, "Ana")
    r = await client.post("/api/v1/dms", json={"user_id": ana.user_id}, headers=ana.headers)
    assert r.status_code == 422
    r = await client.post("/api/v1/dms", json={"user_id": str(uuid.uuid4())}, headers=ana.headers)
    assert r.status_code == 404


async def test_non_member_is_refused_everywhere(client: httpx.AsyncClient) -> None:
    ana = await register_and_login(client, "Ana")
    ben = await register_and_login(client, "Ben")
    eve = await register_and_login(client, "Eve")
    grp = (
        await client.post(
            "/api/v1/groups",
            json={"name": "Family", "member_ids": [ben.user_id]},
            headers=ana.headers,
        )
    ).json()["id"]
    base = f"/api/v1/conversations/{grp}"
    for method, url, body in [
        ("GET", f"{base}/messages", None),
        ("GET", f"{base}/members", None),
        ("GET", base, None),
        ("POST", f"{base}/read", {"seq": 0}),
    ]:
        r = await client.request(method, url, json=body, headers=eve.headers)
        assert r.status_code == 403, (url, r.text)
        assert r.json()["code"] == "not_a_member"
    r = await send_envelope(client, eve, grp, b"x")
    assert r.status_code == 403
    listing = (await client.get("/api/v1/conversations", headers=eve.headers)).json()
    assert grp not in {c["id"] for c in listing}


async def test_group_admin_manages_members_and_removed_member_loses_access(
    client: httpx.AsyncClient,
) -> None:
    ana = await register_and_login(client, "Ana")
    ben = await register_and_login(client, "Ben")
    cat = await register_and_login(client, "Cat")
    grp = (
        await client.post(
            "/api/v1/groups",
            json={"name": "Trio", "member_ids": [ben.user_id]},
            headers=ana.headers,
        )
    ).json()["id"]
    # Members who are not admins cannot add people.
    r = await client.post(
        f"/api/v1/groups/{grp}/members", json={"user_id": cat.user_id}, headers=ben.headers
    )
    assert r.status_code == 403
    r = await client.post(
        f"/api/v1/groups/{grp}/members", json={"user_id": cat.user_id}, headers=ana.headers
    )
    assert r.status_code == 204
    assert (await send_envelope(client, cat, grp, b"hi")).status_code == 201
    members = (await client.get(f"/api/v1/conversations/{grp}/members", headers=cat.headers)).json()
    assert len(members["members"]) == 3

    r = await client.delete(f"/api/v1/groups/{grp}/members/{cat.user_id}", headers=ana.headers)
    assert r.status_code == 204
    assert (await send_envelope(client, cat, grp, b"still here?")).status_code == 403
    r = await client.get(f"/api/v1/conversations/{grp}/messages", headers=cat.headers)
    assert r.status_code == 403


async def test_last_admin_leaving_hands_admin_on(client: httpx.AsyncClient) -> None:
    ana = await register_and_login(client, "Ana")
    ben = await register_and_login(client, "Ben")
    cat = await register_and_login(client, "Cat")
    grp = (
        await client.post(
            "/api/v1/groups",
            json={"name": "Trio", "member_ids": [ben.user_id, cat.user_id]},
            headers=ana.headers,
        )
    ).json()["id"]
    r = await client.delete(f"/api/v1/groups/{grp}/members/{ana.user_id}", headers=ana.headers)
    assert r.status_code == 204
    members = (await client.get(f"/api/v1/conversations/{grp}/members", headers=ben.headers)).json()
    roles = {m["user_id"]: m["role"] for m in members["members"]}
    assert ana.user_id not in roles
    assert sorted(roles.values()) == ["admin", "member"]
