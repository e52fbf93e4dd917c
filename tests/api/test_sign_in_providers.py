"""Signing in, signing up and linking through sign-in providers over HTTP (docs/decisions/0007),
against real loopback providers (tests/support/fake_idp.py): an OpenID Connect issuer and a
Facebook-shaped OAuth 2 server.

Every way a sign-in can fail leaves nothing behind: no account, session, provider link or
pending sign-up (`_nothing_created`).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy as sa
from asgi_lifespan import LifespanManager

from hushroom.app import create_app
from hushroom.clock import FakeClock
from hushroom.config import Settings, SignInProvider
from hushroom.container import Container
from hushroom.crypto.account import create_account_keys
from hushroom.crypto.device import DeviceKey
from hushroom.crypto.primitives import Secret
from hushroom.crypto.vault import unlock_vault
from hushroom.storage.engine import Database
from tests.support.accounts import b64, kdf_json, keys_json, register_and_login, unb64
from tests.support.fake_idp import FakeFacebook, FakeOidcProvider, Fault, User

AUTH = "/api/v1/auth"
RETURN = "/auth/provider"


@dataclass
class Rig:
    client: httpx.AsyncClient
    oidc: FakeOidcProvider
    facebook: FakeFacebook
    database_url: str
    clock: FakeClock


@pytest.fixture
async def idps() -> AsyncIterator[tuple[FakeOidcProvider, FakeFacebook]]:
    oidc = FakeOidcProvider(client_id="hushroom-test", client_secret="oidc-secret")
    facebook = FakeFacebook(app_id="fb-app", app_secret="fb-secret")
    await oidc.start()
    await facebook.start()
    try:
        yield oidc, facebook
    finally:
        await facebook.stop()
        await oidc.stop()


def _providers(oidc: FakeOidcProvider, facebook: FakeFacebook) -> list[SignInProvider]:
    return [
        SignInProvider.model_validate(
            {
                "id": "test-oidc",
                "kind": "oidc",
                "name": "Test ID",
                "issuer": oidc.issuer,
                "client_id": "hushroom-test",
                "client_secret": "oidc-secret",
            }
        ),
        SignInProvider.model_validate(
            {
                "id": "facebook",
                "kind": "facebook",
                "name": "Facebook",
                "client_id": "fb-app",
                "client_secret": "fb-secret",
                "dialog_url": f"{facebook.base_url}/v23.0/dialog/oauth",
                "graph_url": f"{facebook.base_url}/v23.0",
            }
        ),
    ]


@pytest.fixture
async def rig(
    settings: Settings, clock: FakeClock, idps: tuple[FakeOidcProvider, FakeFacebook]
) -> AsyncIterator[Rig]:
    oidc, facebook = idps
    configured = settings.model_copy(update={"sign_in_providers": _providers(oidc, facebook)})
    app = create_app(container=Container(configured, clock=clock))
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
            yield Rig(c, oidc, facebook, settings.database_url, clock)


# -- driving a flow as a browser would ---------------------------------------------------------


async def _start(
    rig: Rig, provider: str = "test-oidc", *, headers: dict[str, str] | None = None, **body: Any
) -> str:
    r = await rig.client.post(
        f"{AUTH}/providers/{provider}/start",
        json={"intent": "sign_in", "device_name": "test browser", **body},
        headers=headers or {},
    )
    assert r.status_code == 200, r.text
    assert "__Host-hushroom_signin" in r.headers["set-cookie"]
    return str(r.json()["authorization_url"])


async def _at_provider(url: str) -> str:
    """The provider's answer to the browser: the redirect back to our callback."""
    async with httpx.AsyncClient() as browser:
        r = await browser.get(url, follow_redirects=False)
    assert r.status_code in (302, 303), r.text
    return str(r.headers["location"])


async def _callback(rig: Rig, callback_url: str) -> dict[str, str]:
    parts = urlsplit(callback_url)
    r = await rig.client.get(f"{parts.path}?{parts.query}")
    assert r.status_code == 303, r.text
    location = urlsplit(r.headers["location"])
    assert location.path == RETURN
    # The binding cookie is spent whatever happened.
    assert 'hushroom_signin=""' in r.headers.get("set-cookie", "")
    return {k: v[0] for k, v in parse_qs(location.query).items()}


async def _flow(rig: Rig, provider: str = "test-oidc", **body: Any) -> dict[str, str]:
    return await _callback(rig, await _at_provider(await _start(rig, provider, **body)))


@dataclass
class ProviderAccount:
    user_id: str
    device_id: str
    access_token: str
    passphrase_secret: bytes
    password_key: Secret
    email: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def _signup_body(display_name: str) -> tuple[dict[str, Any], bytes, Secret]:
    """Keys as a browser makes them at a first provider sign-in, wrapped by a passphrase key."""
    user_id, device_id = str(uuid.uuid4()), str(uuid.uuid4())
    password_key, auth_secret = Secret(os.urandom(32)), os.urandom(32)
    device_key = DeviceKey.generate()
    keys = create_account_keys(user_id, password_key, 1, device=(device_id, device_key.public_key))
    assert keys.device_certificate is not None
    body = {
        "user_id": user_id,
        "display_name": display_name,
        "kdf": kdf_json(),
        "auth_secret": b64(auth_secret),
        **keys_json(keys),
        "device": {
            "device_id": device_id,
            "name": "first browser",
            "certificate": b64(keys.device_certificate),
        },
    }
    return body, auth_secret, password_key


async def _sign_up(rig: Rig, provider: str = "test-oidc") -> ProviderAccount:
    assert (await _flow(rig, provider))["outcome"] == "signup"
    pending = await rig.client.get(f"{AUTH}/signup")
    assert pending.status_code == 200, pending.text
    body, secret, password_key = _signup_body(pending.json()["display_name"])
    r = await rig.client.post(f"{AUTH}/signup", json=body)
    assert r.status_code == 201, r.text
    data = r.json()
    assert data["keys"] == "ready"
    assert data["device_certified"] is True
    return ProviderAccount(
        data["user_id"],
        data["device_id"],
        data["access_token"],
        secret,
        password_key,
        pending.json()["email"],
    )


async def _counts(database_url: str) -> dict[str, int]:
    db = Database(database_url)
    try:
        async with db.read() as conn:
            return {
                table: int((await conn.execute(sa.text(f"SELECT count(*) FROM {table}"))).scalar())  # noqa: S608
                for table in (
                    "users",
                    "sessions",
                    "devices",
                    "identity_links",
                    "pending_signups",
                    "sign_in_flows",
                )
            }
    finally:
        await db.dispose()


async def _nothing_created(rig: Rig, before: dict[str, int]) -> None:
    after = await _counts(rig.database_url)
    # The flow itself was taken by its callback; nothing else appeared.
    assert {k: v for k, v in after.items() if k != "sign_in_flows"} == {
        k: v for k, v in before.items() if k != "sign_in_flows"
    }
    assert after["sign_in_flows"] <= before["sign_in_flows"]


# -- the providers on offer --------------------------------------------------------------------


async def test_no_providers_are_offered_by_default(client: httpx.AsyncClient) -> None:
    r = await client.get(f"{AUTH}/providers")
    assert r.status_code == 200
    assert r.json() == {"providers": []}
    r = await client.post(f"{AUTH}/providers/google/start", json={"intent": "sign_in"})
    assert r.status_code == 404
    assert r.json()["code"] == "provider_unknown"


async def test_configured_providers_are_listed_without_secrets(rig: Rig) -> None:
    r = await rig.client.get(f"{AUTH}/providers")
    assert r.json() == {
        "providers": [
            {"id": "test-oidc", "name": "Test ID", "kind": "oidc"},
            {"id": "facebook", "name": "Facebook", "kind": "facebook"},
        ]
    }
    assert "secret" not in r.text


async def test_authorization_request_uses_pkce_state_and_nonce(rig: Rig) -> None:
    url = urlsplit(await _start(rig))
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert url.geturl().startswith(rig.oidc.issuer)
    assert query["response_type"] == "code"
    assert query["client_id"] == "hushroom-test"
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43
    assert len(query["state"]) >= 43
    assert len(query["nonce"]) >= 43
    assert set(query["scope"].split()) >= {"openid", "email"}
    assert query["redirect_uri"] == ("https://testserver/api/v1/auth/providers/test-oidc/callback")


# -- first sign-in, then sign-in again ---------------------------------------------------------


async def test_first_sign_in_creates_the_account_only_with_its_keys(rig: Rig) -> None:
    rig.oidc.next_user(User(sub="sub-ana", email="ana@example.test", name="Ana Lima"))
    before = await _counts(rig.database_url)
    assert (await _flow(rig)) == {"outcome": "signup", "provider": "test-oidc"}
    # Only a pending sign-up so far: no account until the keys arrive.
    after = await _counts(rig.database_url)
    assert after["users"] == before["users"]
    assert after["pending_signups"] == before["pending_signups"] + 1
    pending = (await rig.client.get(f"{AUTH}/signup")).json()
    assert pending["email"] == "ana@example.test"
    assert pending["display_name"] == "Ana Lima"
    assert pending["provider_name"] == "Test ID"

    body, _, _ = _signup_body("Ana")
    body["email"] = "mallory@example.test"  # refused: the provider's verified email counts
    r = await rig.client.post(f"{AUTH}/signup", json=body)
    assert r.status_code == 422  # the signup body has no email field (strict schema)
    del body["email"]
    r = await rig.client.post(f"{AUTH}/signup", json=body)
    assert r.status_code == 201, r.text
    assert "__Host-hushroom_refresh" in r.headers["set-cookie"]
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    me = (await rig.client.get("/api/v1/me", headers=headers)).json()
    assert me["email"] == "ana@example.test"
    assert me["display_name"] == "Ana"
    # The sign-up is spent.
    assert (await rig.client.post(f"{AUTH}/signup", json=body)).json()["code"] == ("signup_expired")
    methods = (await rig.client.get("/api/v1/account/sign-in-methods", headers=headers)).json()
    assert methods["password"] is False
    assert [i["provider"] for i in methods["identities"]] == ["test-oidc"]
    assert methods["identities"][0]["email"] == "ana@example.test"


async def test_provider_session_gets_the_vault_only_after_the_passphrase(rig: Rig) -> None:
    ana = await _sign_up(rig)
    vault = (await rig.client.get("/api/v1/keys/vault", headers=ana.headers)).json()
    assert "password_wrapping" not in vault
    kdf = (await rig.client.get("/api/v1/keys/vault/kdf", headers=ana.headers)).json()
    assert kdf["secret"] == "passphrase"
    wrong = await rig.client.post(
        "/api/v1/keys/vault/unlock",
        json={"auth_secret": b64(os.urandom(32))},
        headers=ana.headers,
    )
    assert wrong.status_code == 401
    r = await rig.client.post(
        "/api/v1/keys/vault/unlock",
        json={"auth_secret": b64(ana.passphrase_secret)},
        headers=ana.headers,
    )
    assert r.status_code == 200, r.text
    full = r.json()
    # The passphrase key opens what the server released.
    from hushroom.crypto.vault import SealedVault

    sealed = SealedVault(
        unb64(full["sealed_vault"]),
        unb64(full["password_wrapping"]),
        unb64(full["recovery_wrapping"]),
    )
    _, contents = unlock_vault(sealed, ana.user_id, ana.password_key)
    assert contents.identity_seed


async def test_signing_in_again_opens_a_session_on_the_same_account(rig: Rig) -> None:
    rig.oidc.next_user(User(sub="sub-bo", email="bo@example.test", name="Bo"))
    bo = await _sign_up(rig)
    rig.oidc.next_user(User(sub="sub-bo", email="bo@example.test", name="Bo"))
    rig.client.cookies.clear()  # a fresh browser
    assert await _flow(rig) == {"outcome": "signed_in", "provider": "test-oidc"}
    r = await rig.client.post(f"{AUTH}/refresh")
    assert r.status_code == 200, r.text
    assert r.json()["user_id"] == bo.user_id
    assert r.json()["device_id"] != bo.device_id  # a new browser is a new device
    # The same sessions as a password login's: logout everywhere ends both.
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    assert (await rig.client.post(f"{AUTH}/logout-all", headers=headers)).status_code == 204
    assert (await rig.client.get("/api/v1/me", headers=bo.headers)).status_code == 401


async def test_a_provider_account_cannot_sign_in_with_its_passphrase(rig: Rig) -> None:
    ana = await _sign_up(rig)
    r = await rig.client.post(
        f"{AUTH}/login", json={"email": ana.email, "auth_secret": b64(ana.passphrase_secret)}
    )
    assert r.status_code == 401
    assert r.json()["code"] == "invalid_credentials"
    # Prelogin looks like an unknown email's (a fake salt), not the passphrase's parameters.
    kdf = (await rig.client.get("/api/v1/keys/vault/kdf", headers=ana.headers)).json()["kdf"]
    pre = (await rig.client.post(f"{AUTH}/prelogin", json={"email": ana.email})).json()["kdf"]
    assert pre["salt"] != kdf["salt"]


async def test_facebook_sign_up_and_sign_in(rig: Rig) -> None:
    rig.facebook.next_user(User(sub="10001", name="Fe Costa", email="fe@example.test"))
    fe = await _sign_up(rig, "facebook")
    me = (await rig.client.get("/api/v1/me", headers=fe.headers)).json()
    assert me["email"] == "fe@example.test"
    rig.facebook.next_user(User(sub="10001", name="Fe Costa", email="fe@example.test"))
    rig.client.cookies.clear()
    assert await _flow(rig, "facebook") == {"outcome": "signed_in", "provider": "facebook"}
    # The Graph call proved the app's secret, with a token Hushroom never kept.
    me_calls = rig.facebook.requests_to("/v23.0/me")
    assert me_calls
    assert all(c.query.get("appsecret_proof") for c in me_calls)


# -- linking -------------------------------------------------------------------------------------


async def test_linking_from_settings_needs_the_password(rig: Rig) -> None:
    alice = await register_and_login(rig.client, "Alice")
    r = await rig.client.post(
        f"{AUTH}/providers/test-oidc/start",
        json={"intent": "link", "auth_secret": b64(os.urandom(32))},
        headers=alice.headers,
    )
    assert r.status_code == 401
    assert r.json()["code"] == "invalid_credentials"
    r = await rig.client.post(f"{AUTH}/providers/test-oidc/start", json={"intent": "link"})
    assert r.status_code == 400
    rig.oidc.next_user(User(sub="sub-alice", email="alice.other@example.test", name="A"))
    result = await _flow(
        rig, headers=alice.headers, intent="link", auth_secret=b64(alice.auth_secret)
    )
    assert result == {"outcome": "linked", "provider": "test-oidc"}
    # Now the provider signs in to Alice's account.
    rig.client.cookies.clear()
    rig.oidc.next_user(User(sub="sub-alice", email="alice.other@example.test", name="A"))
    assert (await _flow(rig))["outcome"] == "signed_in"
    r = await rig.client.post(f"{AUTH}/refresh")
    assert r.json()["user_id"] == alice.user_id
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    kdf = (await rig.client.get("/api/v1/keys/vault/kdf", headers=headers)).json()
    assert kdf["secret"] == "password"


async def test_an_email_with_an_account_is_never_matched(rig: Rig) -> None:
    alice = await register_and_login(rig.client, "Alice")
    rig.oidc.next_user(User(sub="sub-x", email=alice.email, name="Not Alice"))
    before = await _counts(rig.database_url)
    result = await _flow(rig)
    assert result["outcome"] == "error"
    assert result["code"] == "account_exists"
    await _nothing_created(rig, before)


async def test_an_identity_linked_to_one_account_cannot_be_linked_to_another(rig: Rig) -> None:
    rig.oidc.next_user(User(sub="sub-shared", email="shared@example.test", name="S"))
    await _sign_up(rig)
    alice = await register_and_login(rig.client, "Alice")
    rig.oidc.next_user(User(sub="sub-shared", email="shared@example.test", name="S"))
    before = await _counts(rig.database_url)
    result = await _flow(
        rig, headers=alice.headers, intent="link", auth_secret=b64(alice.auth_secret)
    )
    assert result["code"] == "identity_linked_elsewhere"
    await _nothing_created(rig, before)


async def test_the_last_way_to_sign_in_cannot_be_unlinked(rig: Rig) -> None:
    ana = await _sign_up(rig)
    r = await rig.client.delete("/api/v1/account/identities/test-oidc", headers=ana.headers)
    assert r.status_code == 409
    assert r.json()["code"] == "last_sign_in_method"
    r = await rig.client.delete("/api/v1/account/identities/facebook", headers=ana.headers)
    assert r.status_code == 404


async def test_a_password_account_can_unlink_its_provider(rig: Rig) -> None:
    alice = await register_and_login(rig.client, "Alice")
    rig.oidc.next_user(User(sub="sub-al", email="al@example.test", name="Al"))
    await _flow(rig, headers=alice.headers, intent="link", auth_secret=b64(alice.auth_secret))
    r = await rig.client.delete("/api/v1/account/identities/test-oidc", headers=alice.headers)
    assert r.status_code == 204
    methods = await rig.client.get("/api/v1/account/sign-in-methods", headers=alice.headers)
    assert methods.json() == {"password": True, "identities": []}


# -- every failure creates nothing ------------------------------------------------------------


async def _failed(rig: Rig, provider: str = "test-oidc") -> str:
    before = await _counts(rig.database_url)
    result = await _flow(rig, provider)
    assert result["outcome"] == "error", result
    await _nothing_created(rig, before)
    return result["code"]


async def test_cancel_at_the_provider(rig: Rig) -> None:
    rig.oidc.deny_next()
    assert await _failed(rig) == "provider_cancelled"
    rig.facebook.deny_next()
    assert await _failed(rig, "facebook") == "provider_cancelled"


async def test_unverified_email_is_refused(rig: Rig) -> None:
    rig.oidc.next_user(User(sub="sub-u", email="u@example.test", email_verified=False, name="U"))
    assert await _failed(rig) == "email_not_verified"
    rig.facebook.next_user(User(sub="20002", name="No Email", email=None))
    assert await _failed(rig, "facebook") == "email_not_verified"


@pytest.mark.parametrize(
    "fault",
    [
        Fault.WRONG_AUDIENCE,
        Fault.WRONG_ISSUER,
        Fault.EXPIRED,
        Fault.WRONG_NONCE,
        Fault.NO_NONCE,
        Fault.FOREIGN_KEY,
        Fault.UNKNOWN_KID,
        Fault.ALG_NONE,
        Fault.NO_ID_TOKEN,
    ],
)
async def test_an_id_token_that_does_not_verify_is_refused(rig: Rig, fault: Fault) -> None:
    rig.oidc.fail_next(fault)
    assert await _failed(rig) == "id_token_invalid"


@pytest.mark.parametrize("fault", [Fault.TOKEN_HTTP_500, Fault.TOKEN_INVALID_JSON])
async def test_a_broken_token_endpoint_is_a_provider_error(rig: Rig, fault: Fault) -> None:
    rig.oidc.fail_next(fault)
    assert await _failed(rig) == "provider_error"
    rig.facebook.fail_next(fault)
    assert await _failed(rig, "facebook") == "provider_error"


async def test_a_facebook_profile_error_is_a_provider_error(rig: Rig) -> None:
    rig.facebook.fail_next(Fault.USERINFO_ERROR)
    assert await _failed(rig, "facebook") == "provider_error"


async def test_a_discovery_document_for_another_issuer_is_refused(rig: Rig) -> None:
    rig.oidc.faults.add(Fault.DISCOVERY_WRONG_ISSUER)
    r = await rig.client.post(f"{AUTH}/providers/test-oidc/start", json={"intent": "sign_in"})
    assert r.status_code == 502
    assert r.json()["code"] == "provider_error"


async def test_an_unreachable_provider_is_said_so(rig: Rig) -> None:
    url = await _start(rig)
    callback = await _at_provider(url)
    await rig.oidc.stop()
    before = await _counts(rig.database_url)
    result = await _callback(rig, callback)
    assert result["code"] == "provider_unreachable"
    await _nothing_created(rig, before)


async def test_start_against_an_unreachable_provider_is_a_clear_502(rig: Rig) -> None:
    await rig.oidc.stop()
    r = await rig.client.post(f"{AUTH}/providers/test-oidc/start", json={"intent": "sign_in"})
    assert r.status_code == 502
    assert r.json()["code"] == "provider_unreachable"


async def test_a_replayed_callback_is_refused(rig: Rig) -> None:
    callback = await _at_provider(await _start(rig))
    assert (await _callback(rig, callback))["outcome"] == "signup"
    before = await _counts(rig.database_url)
    result = await _callback(rig, callback)
    assert result["code"] == "sign_in_state_invalid"
    await _nothing_created(rig, before)


async def test_a_callback_in_another_browser_is_refused(rig: Rig) -> None:
    callback = await _at_provider(await _start(rig))
    rig.client.cookies.clear()  # the attacker's browser: no binding cookie
    before = await _counts(rig.database_url)
    assert (await _callback(rig, callback))["code"] == "sign_in_state_invalid"
    await _nothing_created(rig, before)


async def test_a_tampered_state_is_refused(rig: Rig) -> None:
    callback = urlsplit(await _at_provider(await _start(rig)))
    query = {k: v[0] for k, v in parse_qs(callback.query).items()}
    query["state"] = query["state"][:-2] + "xx"
    before = await _counts(rig.database_url)
    tampered = f"{callback.path}?code={query['code']}&state={query['state']}"
    assert (await _callback(rig, tampered))["code"] == "sign_in_state_invalid"
    await _nothing_created(rig, before)


async def test_an_expired_flow_is_refused(rig: Rig) -> None:
    callback = await _at_provider(await _start(rig))
    rig.clock.advance(11 * 60)
    assert (await _callback(rig, callback))["code"] == "sign_in_state_invalid"


async def test_an_expired_signup_creates_nothing(rig: Rig) -> None:
    assert (await _flow(rig))["outcome"] == "signup"
    rig.clock.advance(31 * 60)
    before = await _counts(rig.database_url)
    body, _, _ = _signup_body("Late")
    r = await rig.client.post(f"{AUTH}/signup", json=body)
    assert r.status_code == 401
    assert r.json()["code"] == "signup_expired"
    await _nothing_created(rig, before)


async def test_signup_with_bad_keys_creates_nothing_and_can_be_retried(rig: Rig) -> None:
    assert (await _flow(rig))["outcome"] == "signup"
    before = await _counts(rig.database_url)
    body, _, _ = _signup_body("Bad")
    body["identity_key"] = b64(bytes(32))
    r = await rig.client.post(f"{AUTH}/signup", json=body)
    assert r.status_code == 422
    await _nothing_created(rig, before)
    body, _, _ = _signup_body("Good")
    assert (await rig.client.post(f"{AUTH}/signup", json=body)).status_code == 201
