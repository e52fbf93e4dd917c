"""End-to-end encrypted DMs and private groups through the SDK against a real server
(docs/crypto.md §8, docs/decisions/0005): key sets made, verified and rotated by the SDK, signed
membership, envelopes checked by the server and opened by the members only."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from pathlib import Path

import pytest

from hushroom.client import (
    ApiError,
    DecryptedMessage,
    EncryptionError,
    FileKeyPins,
    HushroomClient,
    IdentityKeyChanged,
    new_client_msg_id,
)
from tests.integration.helpers import PASSWORD, WAIT_S, unique_email, users
from tests.support.server import ServerProcess


async def fresh_login(
    server: ServerProcess, email: str, password: str = PASSWORD
) -> HushroomClient:
    """A new client object (no state, so a new device) logged in with the password."""
    client = HushroomClient(server.base_url)
    await client.login(email, password, device_name="fresh")
    return client


async def next_decrypted(client: HushroomClient, conversation_id: uuid.UUID) -> DecryptedMessage:
    async with asyncio.timeout(WAIT_S):
        while True:
            event = await client.next_decrypted()
            if isinstance(event, DecryptedMessage) and event.conversation_id == conversation_id:
                return event


def texts(messages: list[DecryptedMessage]) -> list[str | None]:
    return [m.text for m in messages]


async def key_set_generations(client: HushroomClient, conversation_id: uuid.UUID) -> list[int]:
    data = await client.http.request("GET", f"/api/v1/conversations/{conversation_id}/key-sets")
    return [int(k["generation"]) for k in data["key_sets"]]


async def test_dm_both_ways_live_and_history(server: ServerProcess) -> None:
    async with users(server, "Ann", "Bo") as (ann, bo):
        assert ann.keys is not None and bo.keys is not None
        dm = await ann.open_private_dm(bo.user_id)  # type: ignore[arg-type]
        await bo.connect()
        bo.realtime.track(dm.id)

        ack = await ann.send_text(dm.id, "hello Bo 🔐")
        live = await next_decrypted(bo, dm.id)
        assert (live.text, live.error, live.seq) == ("hello Bo 🔐", None, ack.seq)
        assert live.verified_device and live.encrypted
        assert (live.generation, live.counter, live.counter_verdict) == (1, 1, "in_order")
        assert live.sender_id == ann.user_id

        # The server only ever saw the envelope.
        raw = (await bo.history(dm.id)).messages[-1]
        assert raw.body is None and raw.ciphertext is not None
        assert b"hello Bo" not in raw.ciphertext

        # Bo answers over HTTP; generation 1 is reused (no second key set).
        await bo.send_text(dm.id, "hi Ann", http=True)
        got = await ann.history_decrypted(dm.id)
        assert texts(got) == ["hello Bo 🔐", "hi Ann"]
        assert all(m.ok and m.verified_device for m in got)
        assert await key_set_generations(ann, dm.id) == [1]
        assert ann.e2ee.key_sets_created + bo.e2ee.key_sets_created == 1

        # A duplicated send (same client message id) sends the same bytes: stored once.
        cmid = new_client_msg_id()
        first = await ann.send_text(dm.id, "once", client_msg_id=cmid)
        again = await ann.send_text(dm.id, "once", client_msg_id=cmid)
        assert (again.seq, again.duplicate) == (first.seq, True)
        stored = (await ann.history(dm.id, after=first.seq - 1, limit=1)).messages[0]
        resealed = await ann.e2ee.seal(dm.id, b"ignored", cmid)  # the outbox's bytes
        assert resealed.envelope == stored.ciphertext
        history = await bo.history_decrypted(dm.id)
        assert texts(history) == ["hello Bo 🔐", "hi Ann", "once"]
        assert [m.counter_verdict for m in history][-1] == "in_order"
        assert ann.undecryptable == bo.undecryptable == 0

        # A third user has no box and no access.
        async with users(server, "Cy") as (cy,):
            with pytest.raises(ApiError) as no_box:
                await cy.http.request("GET", f"/api/v1/conversations/{dm.id}/key-sets/1")
            assert no_box.value.status in (403, 404)
            with pytest.raises(EncryptionError):
                await cy.e2ee.key_set(dm.id, 1)
            stolen = await cy.decrypt(raw)
            assert stolen.text is None and stolen.error is not None
            assert cy.undecryptable == 1


async def test_group_of_three_and_removal(server: ServerProcess) -> None:
    async with users(server, "Gia", "Hal", "Ivy") as (gia, hal, ivy):
        ids = [hal.user_id, ivy.user_id]
        group = await gia.create_private_group("trio", ids)  # type: ignore[arg-type]
        assert group.kind == "group"
        await gia.send_text(group.id, "from Gia")
        await hal.send_text(group.id, "from Hal")
        await ivy.send_text(group.id, "from Ivy")
        expected = ["from Gia", "from Hal", "from Ivy"]
        for reader in (gia, hal, ivy):
            assert texts(await reader.history_decrypted(group.id)) == expected
        assert await key_set_generations(hal, group.id) == [1]

        await gia.remove_group_member(group.id, ivy.user_id)  # type: ignore[arg-type]
        await hal.send_text(group.id, "Ivy is gone")
        # The next key set excludes Ivy: she has no box in it, Gia and Hal do.
        assert await key_set_generations(hal, group.id) == [1, 2]
        info = await gia.e2ee.key_set(group.id, 2)
        assert info.member_ids == {str(gia.user_id), str(hal.user_id)}
        with pytest.raises(ApiError):
            await ivy.http.request("GET", f"/api/v1/conversations/{group.id}/key-sets/2")
        # The envelope itself does not open for her (handed over by someone else).
        new_message = (await hal.history(group.id)).messages[-1]
        refused = await ivy.decrypt(new_message)
        assert refused.text is None and refused.error == "no_key"
        # The others read everything, old and new; a fresh device of Hal too.
        for reader in (gia, hal):
            assert texts(await reader.history_decrypted(group.id)) == [*expected, "Ivy is gone"]
        assert hal.email is not None
        hal2 = await fresh_login(server, hal.email)
        try:
            got = await hal2.history_decrypted(group.id)
            assert texts(got) == [*expected, "Ivy is gone"]
            assert hal2.undecryptable == 0
        finally:
            await hal2.aclose()
        # Adding someone rotates again; they read from then on.
        await gia.add_members(group.id, [ivy.user_id])  # type: ignore[list-item]
        await gia.send_text(group.id, "welcome back")
        back = await ivy.history_decrypted(group.id, after=new_message.seq)
        assert texts(back) == ["welcome back"]
        assert await key_set_generations(gia, group.id) == [1, 2, 3]


async def test_fresh_login_and_password_change_keep_history(server: ServerProcess) -> None:
    async with users(server, "Jo", "Kit") as (jo, kit):
        dm = await jo.open_private_dm(kit.user_id)  # type: ignore[arg-type]
        for i in range(3):
            await jo.send_text(dm.id, f"jo {i}")
            await kit.send_text(dm.id, f"kit {i}")
        expected = [f"{who} {i}" for i in range(3) for who in ("jo", "kit")]
        assert jo.email is not None
        jo2 = await fresh_login(server, jo.email)
        try:
            assert texts(await jo2.history_decrypted(dm.id)) == expected
            await jo2.send_text(dm.id, "from the new device")  # counter 1 of a new device
        finally:
            await jo2.aclose()
        got = await kit.history_decrypted(dm.id)
        assert texts(got)[-1] == "from the new device"
        assert got[-1].counter == 1 and got[-1].counter_verdict == "in_order"

        await jo.change_password(PASSWORD, PASSWORD + " 2")
        jo3 = await fresh_login(server, jo.email, PASSWORD + " 2")
        try:
            assert texts(await jo3.history_decrypted(dm.id)) == [*expected, "from the new device"]
        finally:
            await jo3.aclose()


async def test_device_revocation_rotates_on_next_send(server: ServerProcess) -> None:
    async with users(server, "Lu", "Mo") as (lu, mo):
        dm = await lu.open_private_dm(mo.user_id)  # type: ignore[arg-type]
        await lu.send_text(dm.id, "before")
        assert lu.email is not None
        other = await fresh_login(server, lu.email)
        try:
            assert texts(await other.history_decrypted(dm.id)) == ["before"]
            other_device = other.device_id
        finally:
            await other.aclose()
        # A second device of Lu's stays logged in across the revocation.
        lu_b = await fresh_login(server, lu.email)
        assert texts(await lu_b.history_decrypted(dm.id)) == ["before"]
        await lu.revoke_device(other_device, PASSWORD)  # type: ignore[arg-type]
        assert lu.keys is not None and lu.keys.latest_puk_generation == 2
        # Lu's next send is refused as stale and re-sealed under generation 2, transparently.
        await lu.send_text(dm.id, "after")
        assert lu.e2ee.stale_resends >= 1
        info = await lu.e2ee.key_set(dm.id, 2)
        member = info.statement.member(str(lu.user_id))
        assert member is not None and member.puk_generation == 2
        got = await mo.history_decrypted(dm.id)
        assert texts(got) == ["before", "after"]
        assert [m.generation for m in got] == [1, 2]
        # Lu's other device opens generation 2, sealed to a PUK it learns by unlocking again.
        try:
            assert texts(await lu_b.history_decrypted(dm.id)) == ["before", "after"]
            assert lu_b.keys is not None and lu_b.keys.latest_puk_generation == 2
        finally:
            await lu_b.aclose()
        # Mo can answer under generation 2 (no new key set needed).
        await mo.send_text(dm.id, "ok")
        assert texts(await lu.history_decrypted(dm.id)) == ["before", "after", "ok"]
        assert await key_set_generations(mo, dm.id) == [1, 2]


async def test_live_events_decrypt_across_a_rotation(server: ServerProcess) -> None:
    async with users(server, "Ned", "Oda", "Pia") as (ned, oda, pia):
        group = await ned.create_private_group("live", [oda.user_id, pia.user_id])  # type: ignore[list-item]
        await oda.connect()
        oda.realtime.track(group.id)
        await ned.send_text(group.id, "one")
        assert (await next_decrypted(oda, group.id)).text == "one"
        await ned.remove_group_member(group.id, pia.user_id)  # type: ignore[arg-type]
        await ned.send_text(group.id, "two")
        two = await next_decrypted(oda, group.id)
        assert (two.text, two.generation) == ("two", 2)


async def test_echo_bot_answers_dms_encrypted(server: ServerProcess, tmp_path: Path) -> None:
    from examples import echo_bot

    email = unique_email("echo")
    bot = HushroomClient(server.base_url, key_pins=FileKeyPins(tmp_path / "pins.json"))
    ready = asyncio.Event()
    try:
        await echo_bot.log_in(bot, email, PASSWORD, register_as="Echo bot")
        task = asyncio.create_task(echo_bot.run(bot, ready))
        async with asyncio.timeout(WAIT_S):
            await ready.wait()
        async with users(server, "Quinn") as (quinn,):
            dm = await quinn.open_private_dm(bot.user_id)  # type: ignore[arg-type]
            await quinn.connect()
            quinn.realtime.track(dm.id)
            await quinn.send_text(dm.id, "ping 1")
            await quinn.send_text(dm.id, "ping 2")
            replies = []
            while len(replies) < 2:
                message = await next_decrypted(quinn, dm.id)
                if message.sender_id == bot.user_id:
                    replies.append(message)
            assert texts(replies) == ["echo: ping 1", "echo: ping 2"]
            assert all(r.ok and r.verified_device and r.encrypted for r in replies)
            raw = await quinn.history(dm.id)
            assert all(m.body is None for m in raw.messages)
        assert str(quinn.user_id) in (tmp_path / "pins.json").read_text()
        assert task.done() is False
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    finally:
        await bot.aclose()


async def test_changed_identity_key_is_flagged_not_accepted(server: ServerProcess) -> None:
    async with users(server, "Rae", "Sol") as (rae, sol):
        dm = await rae.open_private_dm(sol.user_id)  # type: ignore[arg-type]
        await rae.send_text(dm.id, "first")
        assert texts(await sol.history_decrypted(dm.id)) == ["first"]
        await rae.send_text(dm.id, "second")
        # Sol's client pinned another key for Rae (as after a server swapping Rae's keys):
        # Rae's messages are flagged, not read, and sending to Rae refuses to seal.
        sol.key_pins.pin(str(rae.user_id), b"\x07" * 32)
        sol.e2ee.contacts.forget()
        fresh = HushroomClient(server.base_url, key_pins=sol.key_pins)
        try:
            assert sol.email is not None
            await fresh.login(sol.email, PASSWORD)
            got = await fresh.history_decrypted(dm.id)
            assert [(m.text, m.error) for m in got] == [
                (None, "identity_key_changed"),
                (None, "identity_key_changed"),
            ]
            assert fresh.undecryptable == 2
            with pytest.raises(IdentityKeyChanged):
                await fresh.send_text(dm.id, "to a changed key")
            # After comparing safety numbers the user accepts the new key.
            await fresh.key_directory(rae.user_id, accept_change=True)  # type: ignore[arg-type]
            await fresh.send_text(dm.id, "accepted")
        finally:
            await fresh.aclose()
        assert texts(await rae.history_decrypted(dm.id))[-1] == "accepted"
