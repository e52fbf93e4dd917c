"""Message requests (docs/decisions/0006): a DM or group started by someone the user shares no
private conversation with arrives as a request; until the user accepts it, the other side sees
no presence, typing or read receipts of theirs. Declining, leaving, hiding."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from hushroom.container import Container
from hushroom.events.event import Event
from tests.support.accounts import Account
from tests.support.e2ee import create_group, keyed_login, new_key, open_dm, send_sealed
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


async def listing(
    client: httpx.AsyncClient, who: Account, include_hidden: bool = False
) -> dict[str, dict[str, Any]]:
    r = await client.get(
        f"{API}/conversations",
        params={"include_hidden": "true"} if include_hidden else {},
        headers=who.headers,
    )
    assert r.status_code == 200, r.text
    return {c["id"]: c for c in r.json()}


async def post(client: httpx.AsyncClient, who: Account, path: str) -> httpx.Response:
    return await client.post(f"{API}{path}", headers=who.headers)


async def read_positions(
    client: httpx.AsyncClient, viewer: Account, conversation: str
) -> dict[str, int]:
    r = await client.get(f"{API}/conversations/{conversation}/members", headers=viewer.headers)
    assert r.status_code == 200, r.text
    return {m["user_id"]: m["last_read_seq"] for m in r.json()["members"]}


def message_news(events: list[Event], to: Account, conversation: str) -> list[int]:
    return [
        int(e.payload["message"]["seq"])
        for e in received(events, to, "message.new")
        if e.payload["message"]["conversation_id"] == conversation
    ]


async def test_a_strangers_dm_arrives_as_a_request_until_accepted(
    app_client: httpx.AsyncClient, published: list[Event]
) -> None:
    ana = await keyed_login(app_client, "Ana")
    ben = await keyed_login(app_client, "Ben")
    dm = await open_dm(app_client, ana, ben)

    assert (await listing(app_client, ben))[dm]["request"] is True
    assert (await listing(app_client, ana))[dm]["request"] is False
    assert [e.type for e in received(published, ben)] == ["conversation.updated"]

    assert (await post(app_client, ben, f"/conversations/{dm}/accept")).status_code == 204
    assert (await listing(app_client, ben))[dm]["request"] is False
    assert (await post(app_client, ben, f"/conversations/{dm}/accept")).status_code == 204
    r = await post(app_client, ben, f"/conversations/{dm}/decline")
    assert (r.status_code, r.json()["code"]) == (409, "not_a_request")


async def test_until_accepted_the_stranger_sees_no_presence_typing_or_receipts(
    app_client: httpx.AsyncClient, container: Container, published: list[Event]
) -> None:
    ana = await keyed_login(app_client, "Ana")
    ben = await keyed_login(app_client, "Ben")
    await container.presence.connected(principal(ana), "a1")
    await container.presence.connected(principal(ben), "b1")
    dm = await open_dm(app_client, ana, ben)
    key = await new_key(app_client, ana, dm)
    assert (await send_sealed(app_client, ana, dm, key)).status_code == 201
    published.clear()

    await container.presence.typing(principal(ben), uuid.UUID(dm))
    r = await app_client.post(
        f"{API}/conversations/{dm}/read", json={"seq": 1}, headers=ben.headers
    )
    assert r.status_code == 204
    await container.presence.set_status(principal(ben), "b1", "away")
    assert signals_from(published, ben, ana) == []
    assert presence_of(published, ben, ana) == []
    assert (await read_positions(app_client, ana, dm))[ben.user_id] == 0
    # Ben's own devices still learn where he read.
    assert signals_from(published, ben, ben) == ["receipt"]
    assert (await read_positions(app_client, ben, dm))[ben.user_id] == 1

    assert (await post(app_client, ben, f"/conversations/{dm}/accept")).status_code == 204
    assert presence_of(published, ben, ana) == ["away"]
    assert presence_of(published, ana, ben) == ["online"]
    assert (await read_positions(app_client, ana, dm))[ben.user_id] == 1

    published.clear()
    assert (await send_sealed(app_client, ana, dm, key)).status_code == 201
    await container.presence.typing(principal(ben), uuid.UUID(dm))
    r = await app_client.post(
        f"{API}/conversations/{dm}/read", json={"seq": 2}, headers=ben.headers
    )
    assert r.status_code == 204
    await container.presence.set_status(principal(ben), "b1", "online")
    assert signals_from(published, ben, ana) == ["typing", "receipt"]
    assert presence_of(published, ben, ana) == ["online"]


async def test_people_who_share_a_private_conversation_need_no_request(
    app_client: httpx.AsyncClient,
) -> None:
    ana = await keyed_login(app_client, "Ana")
    ben = await keyed_login(app_client, "Ben")
    cat = await keyed_login(app_client, "Cat")
    dm = await open_dm(app_client, ana, ben)
    assert (await post(app_client, ben, f"/conversations/{dm}/accept")).status_code == 204

    group = await create_group(app_client, ana, "Trio", [ben, cat])
    assert (await listing(app_client, ben))[group]["request"] is False
    assert (await listing(app_client, cat))[group]["request"] is True
    # Cat has not accepted the group, so it does not make Ben and her contacts.
    dm_cat = await open_dm(app_client, ben, cat)
    assert (await listing(app_client, cat))[dm_cat]["request"] is True


async def test_public_room_co_members_stay_strangers_but_keep_room_presence(
    app_client: httpx.AsyncClient, container: Container, published: list[Event]
) -> None:
    ana = await keyed_login(app_client, "Ana")
    ben = await keyed_login(app_client, "Ben")
    await container.presence.connected(principal(ana), "a1")
    room = await app_client.post(f"{API}/rooms", json={"name": "Hall"}, headers=ana.headers)
    await post(app_client, ben, f"/rooms/{room.json()['id']}/join")
    dm = await open_dm(app_client, ana, ben)
    assert (await listing(app_client, ben))[dm]["request"] is True
    # Joining a public room is choosing to be seen there: room presence is kept, for those
    # who watch (it is no longer pushed room-wide: docs/protocol.md "Presence").
    await container.presence.watch(principal(ana), "a1", [uuid.UUID(ben.user_id)])
    published.clear()
    await container.presence.connected(principal(ben), "b1")
    assert presence_of(published, ben, ana) == ["online"]


async def test_declining_a_dm_leaves_it_and_the_partner_sees_member_left(
    app_client: httpx.AsyncClient, published: list[Event]
) -> None:
    ana = await keyed_login(app_client, "Ana")
    ben = await keyed_login(app_client, "Ben")
    dm = await open_dm(app_client, ana, ben)
    published.clear()

    assert (await post(app_client, ben, f"/conversations/{dm}/decline")).status_code == 204
    assert dm not in await listing(app_client, ben, include_hidden=True)
    left = received(published, ana, "member.left")
    assert [e.payload["user_id"] for e in left] == [ben.user_id]
    r = await app_client.get(f"{API}/conversations/{dm}/messages", headers=ben.headers)
    assert r.status_code == 403
    assert (await listing(app_client, ana))[dm]["member_count"] == 1

    # Ana asking again brings Ben back, again as a request.
    r = await app_client.post(f"{API}/dms", json={"user_id": ben.user_id}, headers=ana.headers)
    assert (r.status_code, r.json()["id"]) == (200, dm)
    assert (await listing(app_client, ben))[dm]["request"] is True


async def test_leaving_a_dm_and_opening_it_again_brings_the_leaver_back(
    app_client: httpx.AsyncClient, published: list[Event]
) -> None:
    ana = await keyed_login(app_client, "Ana")
    ben = await keyed_login(app_client, "Ben")
    dm = await open_dm(app_client, ana, ben)
    assert (await post(app_client, ben, f"/conversations/{dm}/accept")).status_code == 204
    published.clear()

    assert (await post(app_client, ben, f"/dms/{dm}/leave")).status_code == 204
    assert [e.payload["user_id"] for e in received(published, ana, "member.left")] == [ben.user_id]
    assert dm not in await listing(app_client, ben, include_hidden=True)
    assert (await post(app_client, ben, f"/dms/{dm}/leave")).status_code == 403

    # The leaver opening it again comes back accepted: they asked.
    assert await open_dm(app_client, ben, ana) == dm
    assert (await listing(app_client, ben))[dm]["request"] is False
    assert (await listing(app_client, ana))[dm]["member_count"] == 2
    # Ana leaves; Ben opening it again asks her anew (they share nothing else).
    assert (await post(app_client, ana, f"/dms/{dm}/leave")).status_code == 204
    assert await open_dm(app_client, ben, ana) == dm
    assert (await listing(app_client, ana))[dm]["request"] is True
    # The key set was made for who was there before.
    key = await new_key(app_client, ben, dm)
    assert (await send_sealed(app_client, ben, dm, key)).status_code == 201


async def test_groups_are_left_through_their_membership_log_not_the_dm_route(
    app_client: httpx.AsyncClient,
) -> None:
    ana = await keyed_login(app_client, "Ana")
    ben = await keyed_login(app_client, "Ben")
    group = await create_group(app_client, ana, "Pair", [ben])
    r = await post(app_client, ben, f"/dms/{group}/leave")
    assert (r.status_code, r.json()["code"]) == (403, "forbidden")


async def test_declining_a_group_request_ignores_it(
    app_client: httpx.AsyncClient, published: list[Event]
) -> None:
    ana = await keyed_login(app_client, "Ana")
    ben = await keyed_login(app_client, "Ben")
    group = await create_group(app_client, ana, "Club", [ben])
    assert (await post(app_client, ben, f"/conversations/{group}/decline")).status_code == 204
    assert group not in await listing(app_client, ben)
    hidden = (await listing(app_client, ben, include_hidden=True))[group]
    assert (hidden["request"], hidden["hidden"]) == (True, True)

    published.clear()
    key = await new_key(app_client, ana, group)
    assert (await send_sealed(app_client, ana, group, key)).status_code == 201
    assert message_news(published, ben, group) == []
    assert group not in await listing(app_client, ben)

    # Changing his mind: accepting from the hidden list.
    assert (await post(app_client, ben, f"/conversations/{group}/accept")).status_code == 204
    shown = (await listing(app_client, ben))[group]
    assert (shown["request"], shown["hidden"]) == (False, False)


async def test_a_hidden_conversation_comes_back_with_a_new_message(
    app_client: httpx.AsyncClient, published: list[Event]
) -> None:
    ana = await keyed_login(app_client, "Ana")
    ben = await keyed_login(app_client, "Ben")
    dm = await open_dm(app_client, ana, ben)
    assert (await post(app_client, ben, f"/conversations/{dm}/accept")).status_code == 204
    assert (await post(app_client, ben, f"/conversations/{dm}/hide")).status_code == 204
    assert dm not in await listing(app_client, ben)
    assert (await listing(app_client, ben, include_hidden=True))[dm]["hidden"] is True

    published.clear()
    key = await new_key(app_client, ana, dm)
    assert (await send_sealed(app_client, ana, dm, key)).status_code == 201
    assert message_news(published, ben, dm) == [1]
    assert (await listing(app_client, ben))[dm]["hidden"] is False

    assert (await post(app_client, ben, f"/conversations/{dm}/hide")).status_code == 204
    assert (await post(app_client, ben, f"/conversations/{dm}/unhide")).status_code == 204
    assert (await listing(app_client, ben))[dm]["hidden"] is False


async def test_a_hidden_request_is_ignored_until_shown_again(
    app_client: httpx.AsyncClient, published: list[Event]
) -> None:
    ana = await keyed_login(app_client, "Ana")
    ben = await keyed_login(app_client, "Ben")
    dm = await open_dm(app_client, ana, ben)
    assert (await post(app_client, ben, f"/conversations/{dm}/hide")).status_code == 204
    published.clear()
    key = await new_key(app_client, ana, dm)
    assert (await send_sealed(app_client, ana, dm, key)).status_code == 201
    assert message_news(published, ben, dm) == []
    assert dm not in await listing(app_client, ben)

    assert (await post(app_client, ben, f"/conversations/{dm}/unhide")).status_code == 204
    shown = (await listing(app_client, ben))[dm]
    assert (shown["request"], shown["unread"]) == (True, 1)


async def test_only_members_answer_a_request(app_client: httpx.AsyncClient) -> None:
    ana = await keyed_login(app_client, "Ana")
    ben = await keyed_login(app_client, "Ben")
    eve = await keyed_login(app_client, "Eve")
    dm = await open_dm(app_client, ana, ben)
    for action in ("accept", "decline", "hide", "unhide"):
        r = await post(app_client, eve, f"/conversations/{dm}/{action}")
        assert (r.status_code, r.json()["code"]) == (403, "not_a_member"), action
        r = await post(app_client, eve, f"/conversations/{uuid.uuid4()}/{action}")
        assert (r.status_code, r.json()["code"]) == (404, "not_found"), action
    r = await post(app_client, eve, f"/dms/{dm}/leave")
    assert (r.status_code, r.json()["code"]) == (403, "not_a_member")
