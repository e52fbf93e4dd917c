"""Registration, prelogin, login, refresh-token rotation and logout over HTTP."""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest

from hushroom.clock import FakeClock
from hushroom.config import Settings
from hushroom.container import Container
from hushroom.crypto.password import KdfParams
from hushroom.errors import InvalidCredentials, TokenInvalid
from hushroom.events.event import Event
from tests.support.accounts import (
    KDF,
    REFRESH_COOKIE,
    b64,
    kdf_json,
    login,
    register,
    register_and_login,
    register_body,
    registration,
    unb64,
)

AUTH = "/api/v1/auth"


def _comparable(r: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = sorted(
        (k, v) for k, v in r.headers.items() if k.lower() not in ("date", "x-request-id")
    )
    return r.status_code, headers, r.content


# -- register → login → refresh → logout --


async def test_register_login_refresh_logout(client: httpx.AsyncClient) -> None:
    body = register_body("Alice")
    secret = unb64(body["auth_secret"])
    r = await client.post(f"{AUTH}/register", json=body)
    assert r.status_code == 201
    user_id = r.json()["user_id"]

    r = await client.post(
        f"{AUTH}/login",
        json={"email": "  ALICE@example.test ", "auth_secret": b64(secret), "device_name": "Lap"},
    )
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["token_type"] == "bearer"
    assert data["expires_in"] == 15 * 60
    assert data["user_id"] == user_id
    assert "refresh_token" not in data  # browsers get the cookie only
    assert data["keys"] == "ready"
    assert data["device_certified"] is False  # a new device: the browser certifies it next
    assert "vault" not in data  # served by GET /keys/vault only
    assert r.headers["cache-control"] == "no-store"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{REFRESH_COOKIE}=")
    for attr in ("HttpOnly", "Secure", "Path=/", "SameSite=strict", "Max-Age=2592000"):
        assert attr.lower() in cookie.lower()
    first_refresh = client.cookies[REFRESH_COOKIE]

    headers = {"Authorization": f"Bearer {data['access_token']}"}
    me = (await client.get("/api/v1/me", headers=headers)).json()
    assert me["user_id"] == user_id
    assert me["email"] == "alice@example.test"
    assert me["session_id"] == data["session_id"]
    assert me["kdf"] == {**KDF, "salt": me["kdf"]["salt"]}
    assert len(unb64(me["kdf"]["salt"])) == 16

    # The cookie refreshes and rotates.
    r = await client.post(f"{AUTH}/refresh")
    assert r.status_code == 200, r.text
    refreshed = r.json()
    assert refreshed["session_id"] == data["session_id"]
    assert refreshed["device_id"] == data["device_id"]
    assert "refresh_token" not in refreshed
    assert client.cookies[REFRESH_COOKIE] != first_refresh
    headers = {"Authorization": f"Bearer {refreshed['access_token']}"}
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 200

    r = await client.post(f"{AUTH}/logout", headers=headers)
    assert r.status_code == 204
    assert REFRESH_COOKIE not in client.cookies
    assert (await client.get("/api/v1/me", headers=headers)).json()["code"] == "token_invalid"


async def test_refresh_token_in_body_for_bots(client: httpx.AsyncClient) -> None:
    alice = await register_and_login(client, "Alice")
    client.cookies.clear()
    r = await client.post(f"{AUTH}/refresh", json={"refresh_token": alice.refresh_token})
    assert r.status_code == 200
    new = r.json()["refresh_token"]
    assert new != alice.refresh_token
    r = await client.post(f"{AUTH}/refresh", json={"refresh_token": new})
    assert r.status_code == 200


async def test_refresh_without_token_is_401(client: httpx.AsyncClient) -> None:
    r = await client.post(f"{AUTH}/refresh")
    assert r.status_code == 401
    assert r.json()["code"] == "unauthenticated"


async def test_logout_revokes_the_refresh_token(client: httpx.AsyncClient) -> None:
    alice = await register_and_login(client, "Alice")
    assert (await client.post(f"{AUTH}/logout", headers=alice.headers)).status_code == 204
    r = await client.post(f"{AUTH}/refresh", json={"refresh_token": alice.refresh_token})
    assert r.status_code == 401
    assert r.json()["code"] == "token_invalid"


async def test_login_reuses_an_owned_device_and_not_a_foreign_one(
    client: httpx.AsyncClient,
) -> None:
    alice = await register_and_login(client, "Alice")
    bob = await register_and_login(client, "Bob")
    first_device, first_session = alice.device_id, alice.session_id
    await login(client, alice, device_id=first_device)
    assert alice.device_id == first_device
    assert alice.session_id != first_session
    await login(client, alice, device_id=bob.device_id)
    assert alice.device_id not in (first_device, bob.device_id)


# -- registration validation --


async def test_duplicate_email_is_refused(client: httpx.AsyncClient) -> None:
    await register(client, "Alice")
    r = await client.post(
        f"{AUTH}/register", json=register_body("Other", email=" Alice@Example.test")
    )
    assert r.status_code == 409
    assert r.json()["code"] == "email_taken"


@pytest.mark.parametrize(
    "kdf",
    [
        kdf_json(m=65535),
        kdf_json(m=19456),
        kdf_json(t=2),
        kdf_json(t=1, m=1 << 20),
        kdf_json(p=0),
        kdf_json(alg="argon2i"),
        kdf_json(alg="pbkdf2"),
        kdf_json(v=2),
        kdf_json(t="3"),
        kdf_json(t=3.0),
        kdf_json(t=True),
        kdf_json(salt_len=8),
        {k: v for k, v in kdf_json().items() if k != "p"},
        {k: v for k, v in kdf_json().items() if k != "salt"},
        kdf_json(m=1 << 40),
        kdf_json(m=(1 << 20) + 1),
        kdf_json(t=11),
        kdf_json(p=5),
        {**kdf_json(), "salt": b64(os.urandom(8))},
        {**kdf_json(), "salt": b64(os.urandom(32))},
        {**kdf_json(), "salt": "not base64!"},
        # The pre-§5.1 shape is gone.
        {"alg": "argon2id", "version": 1, "m_kib": 65536, "t": 3, "p": 1},
    ],
)
async def test_weak_or_malformed_kdf_is_refused(
    client: httpx.AsyncClient, kdf: dict[str, Any]
) -> None:
    r = await client.post(f"{AUTH}/register", json=register_body("Alice", kdf=kdf))
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "validation_failed"
    assert r.json()["field"].split(".")[0] == "kdf"


async def test_stronger_kdf_is_accepted_and_returned(client: httpx.AsyncClient) -> None:
    strong = kdf_json(m=131072, t=4, p=2)
    body = register_body("Alice", kdf=strong)
    assert (await client.post(f"{AUTH}/register", json=body)).status_code == 201
    r = await client.post(f"{AUTH}/prelogin", json={"email": body["email"]})
    assert r.json() == {"kdf": strong}
    # What a client hands straight to the crypto core.
    parsed = KdfParams.from_json(r.json()["kdf"])
    assert (parsed.memory_kib, parsed.iterations, parsed.parallelism) == (131072, 4, 2)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@b"}, "email"),
        ({"email": "x" * 321}, "email"),
        ({"display_name": "   "}, "display_name"),
        ({"display_name": "x" * 65}, "display_name"),
        ({"display_name": "bad\x00name"}, "display_name"),
        ({"auth_secret": b64(os.urandom(31))}, "auth_secret"),
        ({"auth_secret": b64(os.urandom(33))}, "auth_secret"),
        ({"auth_secret": "not base64!"}, "auth_secret"),
        ({"kdf": kdf_json(salt=os.urandom(8))}, "kdf"),
        ({"kdf_salt": b64(os.urandom(16))}, "kdf_salt"),
        ({"vault": ""}, "vault"),
        ({"identity_key": "+/=="}, "identity_key"),
        ({"identity_key": "AAAA="}, "identity_key"),
        ({"extra": 1}, "extra"),
    ],
)
async def test_invalid_registration_is_refused(
    client: httpx.AsyncClient, overrides: dict[str, Any], field: str
) -> None:
    r = await client.post(f"{AUTH}/register", json=register_body("Alice", **overrides))
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["code"] == "validation_failed"
    assert problem["field"] == field
    assert r.headers["content-type"] == "application/problem+json"


async def test_display_name_is_trimmed(client: httpx.AsyncClient) -> None:
    alice = await register_and_login(client, "  Alice  ")
    me = (await client.get("/api/v1/me", headers=alice.headers)).json()
    assert me["display_name"] == "Alice"


async def test_oversize_vault_is_413_problem(client: httpx.AsyncClient, settings: Settings) -> None:
    body = register_body("Alice")
    body["vault"]["sealed"] = b64(b"v" * (settings.max_vault_bytes + 1))
    r = await client.post(f"{AUTH}/register", json=body)
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "payload_too_large"
    assert r.json()["field"] == "vault"
    prelogin = await client.post(f"{AUTH}/prelogin", json={"email": body["email"]})
    assert prelogin.json()["kdf"]["salt"] != body["kdf"]["salt"]  # nothing was stored


# -- prelogin --


async def test_prelogin_of_registered_email_returns_its_salt(client: httpx.AsyncClient) -> None:
    body = register_body("Alice")
    await client.post(f"{AUTH}/register", json=body)
    r = await client.post(f"{AUTH}/prelogin", json={"email": "ALICE@example.test"})
    assert r.status_code == 200
    assert r.json() == {"kdf": body["kdf"]}
    assert KdfParams.from_json(r.json()["kdf"]).salt == unb64(body["kdf"]["salt"])


async def test_prelogin_of_unknown_email_is_stable_and_indistinguishable(
    client: httpx.AsyncClient,
) -> None:
    await register(client, "Alice")
    known = await client.post(f"{AUTH}/prelogin", json={"email": "alice@example.test"})
    a = await client.post(f"{AUTH}/prelogin", json={"email": "nobody@example.test"})
    b = await client.post(f"{AUTH}/prelogin", json={"email": " NOBODY@example.test "})
    c = await client.post(f"{AUTH}/prelogin", json={"email": "someone@example.test"})
    assert a.json() == b.json()  # deterministic, after normalization
    assert a.json()["kdf"]["salt"] != c.json()["kdf"]["salt"]
    for r in (a, c):
        assert r.status_code == known.status_code == 200
        assert set(r.json()) == set(known.json())
        fake, real = r.json()["kdf"], known.json()["kdf"]
        assert set(fake) == set(real)
        assert {**fake, "salt": ""} == {**real, "salt": ""}
        assert len(unb64(fake["salt"])) == len(unb64(real["salt"])) == 16
        KdfParams.from_json(fake)
        assert sorted(r.headers.keys()) == sorted(known.headers.keys())


async def test_prelogin_fake_salt_survives_a_restart(
    client: httpx.AsyncClient, container: Container
) -> None:
    # Another container on the same settings (a restarted node) derives the same fake salt.
    r = await client.post(f"{AUTH}/prelogin", json={"email": "nobody@example.test"})
    assert unb64(r.json()["kdf"]["salt"]) == container.accounts.fake_salt("nobody@example.test")


# -- login failures --


async def test_wrong_secret_and_unknown_email_are_byte_identical(
    client: httpx.AsyncClient,
) -> None:
    alice = await register(client, "Alice")
    wrong = await client.post(
        f"{AUTH}/login", json={"email": alice.email, "auth_secret": b64(os.urandom(32))}
    )
    unknown = await client.post(
        f"{AUTH}/login",
        json={"email": "nobody@example.test", "auth_secret": b64(os.urandom(32))},
    )
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "invalid_credentials"
    assert _comparable(wrong) == _comparable(unknown)
    assert "set-cookie" not in wrong.headers


@pytest.mark.parametrize(
    "body",
    [
        {"email": "a@example.test"},
        {"email": "a@example.test", "auth_secret": "%%%"},
        {"email": "a@example.test", "auth_secret": b64(os.urandom(16))},
        {"email": "x" * 321, "auth_secret": b64(os.urandom(32))},
        {"email": "a@example.test", "auth_secret": b64(os.urandom(32)), "password": "hunter2"},
        {"email": "a@example.test", "auth_secret": b64(os.urandom(32)), "device_id": "nope"},
    ],
)
async def test_malformed_login_is_422(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    r = await client.post(f"{AUTH}/login", json=body)
    assert r.status_code == 422
    assert r.json()["code"] == "validation_failed"


# -- refresh-token rotation --


async def test_refresh_token_reuse_revokes_the_family(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    alice = await register_and_login(client, "Alice")
    client.cookies.clear()
    stolen = alice.refresh_token
    r = await client.post(f"{AUTH}/refresh", json={"refresh_token": stolen})
    fresh = r.json()["refresh_token"]
    clock.advance(10.001)  # past the grace window for racing tabs

    # The rotated-out token is presented again: the whole family dies.
    r = await client.post(f"{AUTH}/refresh", json={"refresh_token": stolen})
    assert r.status_code == 401
    assert r.json()["code"] == "token_invalid"
    r = await client.post(f"{AUTH}/refresh", json={"refresh_token": fresh})
    assert r.status_code == 401
    assert r.json()["code"] == "token_invalid"

    # Another session of the same user is untouched.
    other = await login(client, alice)
    r = await client.post(f"{AUTH}/refresh", json={"refresh_token": other.refresh_token})
    assert r.status_code == 200


async def test_racing_tabs_get_the_same_successor_within_the_grace_window(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    alice = await register_and_login(client, "Alice")
    client.cookies.clear()
    first = await client.post(f"{AUTH}/refresh", json={"refresh_token": alice.refresh_token})
    clock.advance(9.9)
    second = await client.post(f"{AUTH}/refresh", json={"refresh_token": alice.refresh_token})
    assert first.status_code == second.status_code == 200
    successor = first.json()["refresh_token"]
    assert second.json()["refresh_token"] == successor
    # The session lives on: the successor rotates normally.
    r = await client.post(f"{AUTH}/refresh", json={"refresh_token": successor})
    assert r.status_code == 200
    # Once the successor is spent, the old token is a reuse again, even inside the window.
    r = await client.post(f"{AUTH}/refresh", json={"refresh_token": alice.refresh_token})
    assert r.status_code == 401
    r = await client.post(f"{AUTH}/refresh", json={"refresh_token": successor})
    assert r.status_code == 401


async def test_refresh_successor_is_stored_sealed(
    client: httpx.AsyncClient, container: Container
) -> None:
    import sqlalchemy as sa

    from hushroom.storage.sql.tables import refresh_tokens

    alice = await register_and_login(client, "Alice")
    client.cookies.clear()
    r = await client.post(f"{AUTH}/refresh", json={"refresh_token": alice.refresh_token})
    successor = r.json()["refresh_token"].encode()
    async with container.db.engine.connect() as conn:
        rows = (await conn.execute(sa.select(refresh_tokens.c.successor_sealed))).all()
    sealed = [bytes(row[0]) for row in rows if row[0] is not None]
    assert len(sealed) == 1
    assert successor not in sealed[0]


async def test_refresh_token_reuse_announces_the_revocation(
    container: Container, clock: FakeClock
) -> None:
    events: list[Event] = []

    async def capture(event: Event) -> None:
        events.append(event)

    container.sessions._events.publish = capture  # type: ignore[method-assign]
    body = register_body("Alice")
    secret = unb64(body["auth_secret"])
    await container.accounts.register(registration(body))
    result = await container.sessions.login(body["email"], secret)
    await container.sessions.refresh(result.tokens.refresh_token)
    clock.advance(11)
    with pytest.raises(TokenInvalid):
        await container.sessions.refresh(result.tokens.refresh_token)
    assert [e.type for e in events] == ["session.revoked"]
    assert events[0].payload["session_ids"] == [str(result.tokens.principal.session_id)]
    assert events[0].recipients == frozenset({result.user.id})


async def test_expired_refresh_token_is_refused(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    alice = await register_and_login(client, "Alice")
    clock.advance(30 * 24 * 3600 + 1)
    r = await client.post(f"{AUTH}/refresh", json={"refresh_token": alice.refresh_token})
    assert r.status_code == 401
    assert r.json()["code"] == "token_invalid"


@pytest.mark.parametrize("token", ["garbage", "x" * 200, "a"])
async def test_unknown_refresh_token_is_refused(client: httpx.AsyncClient, token: str) -> None:
    r = await client.post(f"{AUTH}/refresh", json={"refresh_token": token})
    assert r.status_code == 401
    assert r.json()["code"] == "token_invalid"


async def test_oversize_refresh_token_is_422(client: httpx.AsyncClient) -> None:
    r = await client.post(f"{AUTH}/refresh", json={"refresh_token": "x" * 201})
    assert r.status_code == 422


async def test_logout_everywhere_revokes_every_session(client: httpx.AsyncClient) -> None:
    laptop = await register_and_login(client, "Alice")
    laptop_refresh = laptop.refresh_token
    phone = await login(client, laptop)  # the same account, a second session
    phone_refresh, phone_headers = phone.refresh_token, phone.headers
    bob = await register_and_login(client, "Bob")

    r = await client.post(f"{AUTH}/logout-all", headers=phone_headers)
    assert r.status_code == 204
    for token in (laptop_refresh, phone_refresh):
        r = await client.post(f"{AUTH}/refresh", json={"refresh_token": token})
        assert r.status_code == 401
    r = await client.post(f"{AUTH}/refresh", json={"refresh_token": bob.refresh_token})
    assert r.status_code == 200


async def test_logout_everywhere_publishes_session_revoked(container: Container) -> None:
    import uuid

    from hushroom.principal import Principal

    events: list[Event] = []

    async def capture(event: Event) -> None:
        events.append(event)

    container.sessions._events.publish = capture  # type: ignore[method-assign]
    body = register_body("Alice")
    user, _ = await container.accounts.register(registration(body))
    one = await container.sessions.login(body["email"], unb64(body["auth_secret"]), "a")
    two = await container.sessions.login(body["email"], unb64(body["auth_secret"]), "b")
    revoked = await container.sessions.logout_everywhere(one.tokens.principal)
    assert set(revoked) == {one.tokens.principal.session_id, two.tokens.principal.session_id}
    assert len(events) == 1
    event = events[0]
    assert event.type == "session.revoked"
    assert event.recipients == frozenset({user.id})
    assert event.payload["all"] is True
    assert sorted(event.payload["session_ids"]) == sorted(str(s) for s in revoked)
    bogus = Principal(user.id, uuid.uuid4(), uuid.uuid4())
    for principal in (one.tokens.principal, bogus):
        with pytest.raises(TokenInvalid):
            await container.sessions.issue_ticket(principal)


async def test_auth_secret_is_stored_as_argon2id_hash(container: Container) -> None:
    body = register_body("Alice")
    secret = unb64(body["auth_secret"])
    user, _ = await container.accounts.register(registration(body))
    assert user.auth_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert secret not in user.auth_hash.encode()
    assert "auth_hash" not in repr(user)
    assert user.auth_hash not in repr(user)


async def test_unknown_email_and_wrong_secret_do_the_same_work(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = register_body("Alice")
    await container.accounts.register(registration(body))
    hasher = container.sessions._hasher
    verified: list[str] = []
    real_hasher = hasher._hasher

    class Counting:
        def verify(self, auth_hash: str, secret: bytes) -> bool:
            verified.append(auth_hash.split("$")[3])  # the Argon2 parameters used
            return real_hasher.verify(auth_hash, secret)

    monkeypatch.setattr(hasher, "_hasher", Counting())
    for email in (body["email"], "nobody@example.test"):
        with pytest.raises(InvalidCredentials):
            await container.sessions.login(email, os.urandom(32))
    assert verified == ["m=19456,t=2,p=1", "m=19456,t=2,p=1"]


async def test_argon2_runs_off_the_event_loop(container: Container) -> None:
    import asyncio

    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0.001)

    task = asyncio.create_task(ticker())
    body = register_body("Alice")
    await container.accounts.register(registration(body))
    with pytest.raises(InvalidCredentials):
        await container.sessions.login(body["email"], os.urandom(32))
    done.set()
    await task
    # Two Argon2 runs of ~40 ms each: a blocked loop would tick only a handful of times.
    assert ticks >= 20
