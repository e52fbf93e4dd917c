"""The loopback identity providers (tests/support/fake_idp.py) behave like the real ones: the
sign-in tests are only as good as these fakes."""

from __future__ import annotations

import base64
import json
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet

from tests.support.fake_idp import (
    WRONG_AUDIENCE,
    WRONG_ISSUER,
    FakeFacebook,
    FakeOidcProvider,
    Fault,
    User,
    appsecret_proof,
    s256,
)
from tests.support.server import free_port

CALLBACK = "http://127.0.0.1:1/api/v1/auth/providers/test/callback"
OIDC_AUTH = ("hushroom-e2e", "e2e-secret")


@pytest.fixture
async def idp() -> AsyncIterator[FakeOidcProvider]:
    async with FakeOidcProvider(redirect_uris=[CALLBACK]) as fake:
        yield fake


@pytest.fixture
async def facebook() -> AsyncIterator[FakeFacebook]:
    async with FakeFacebook(redirect_uris=[CALLBACK]) as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def authorize(
    http: httpx.AsyncClient, idp: FakeOidcProvider, verifier: str | None, **params: str
) -> httpx.URL:
    """One pass through the authorization endpoint; the URL it redirects back to."""
    query = {
        "client_id": "hushroom-e2e",
        "redirect_uri": CALLBACK,
        "response_type": "code",
        "scope": "openid email profile",
        "state": "the-state",
        "nonce": "the-nonce",
    }
    if verifier is not None:
        query |= {"code_challenge": s256(verifier), "code_challenge_method": "S256"}
    response = await http.get(f"{idp.issuer}/authorize", params=query | params)
    assert response.status_code == 302, response.text
    back = httpx.URL(response.headers["location"])
    assert str(back.copy_with(query=None)) == CALLBACK
    assert back.params["state"] == "the-state"
    return back


async def redeem(
    http: httpx.AsyncClient, idp: FakeOidcProvider, code: str, verifier: str | None
) -> httpx.Response:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    if verifier is not None:
        form["code_verifier"] = verifier
    return await http.post(f"{idp.issuer}/token", data=form, auth=OIDC_AUTH)


async def id_token_for(http: httpx.AsyncClient, idp: FakeOidcProvider) -> str:
    verifier = secrets.token_urlsafe(48)
    back = await authorize(http, idp, verifier)
    response = await redeem(http, idp, back.params["code"], verifier)
    assert response.status_code == 200, response.text
    token: str = response.json()["id_token"]
    return token


def unverified_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) without checking the signature."""
    header, payload, _ = token.split(".")

    def part(text: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        return data

    return part(header), part(payload)


async def test_discovery_and_jwks_publish_an_rs256_key(
    idp: FakeOidcProvider, http: httpx.AsyncClient
) -> None:
    discovery = (await http.get(f"{idp.issuer}/.well-known/openid-configuration")).json()
    assert discovery["issuer"] == idp.issuer
    assert discovery["code_challenge_methods_supported"] == ["S256"]
    assert "client_secret_basic" in discovery["token_endpoint_auth_methods_supported"]
    jwks = (await http.get(discovery["jwks_uri"])).json()
    assert [(k["kty"], k["use"]) for k in jwks["keys"]] == [("RSA", "sig")]
    assert all("d" not in k for k in jwks["keys"])  # public halves only
    idp.faults.add(Fault.DISCOVERY_WRONG_ISSUER)
    wrong = (await http.get(f"{idp.issuer}/.well-known/openid-configuration")).json()
    assert wrong["issuer"] == WRONG_ISSUER


async def test_code_flow_issues_a_verifiable_id_token_and_records_the_request(
    idp: FakeOidcProvider, http: httpx.AsyncClient
) -> None:
    idp.next_user(User(sub="u-42", email="ada@example.test", email_verified=False, name="Ada"))
    token = jwt.decode(await id_token_for(http, idp), KeySet.import_key_set(idp.jwks))
    assert token.header["alg"] == "RS256"
    assert token.claims["iss"] == idp.issuer
    assert token.claims["aud"] == "hushroom-e2e"
    assert token.claims["nonce"] == "the-nonce"
    assert token.claims["exp"] > token.claims["iat"]
    assert {k: token.claims[k] for k in ("sub", "email", "email_verified", "name")} == {
        "sub": "u-42",
        "email": "ada@example.test",
        "email_verified": False,
        "name": "Ada",
    }
    [sent] = idp.requests_to("/authorize")
    assert sent.query["code_challenge_method"] == "S256"
    assert sent.query["nonce"] == "the-nonce"
    # next_user is for one authorization only.
    again = jwt.decode(await id_token_for(http, idp), KeySet.import_key_set(idp.jwks))
    assert again.claims["sub"] == idp.user.sub


async def test_pkce_is_required_and_checked(idp: FakeOidcProvider, http: httpx.AsyncClient) -> None:
    without = await authorize(http, idp, None)
    assert without.params["error"] == "invalid_request"
    verifier = secrets.token_urlsafe(48)
    for wrong in (None, secrets.token_urlsafe(48)):
        back = await authorize(http, idp, verifier)
        response = await redeem(http, idp, back.params["code"], wrong)
        assert (response.status_code, response.json()) == (400, {"error": "invalid_grant"})


async def test_a_code_is_good_once(idp: FakeOidcProvider, http: httpx.AsyncClient) -> None:
    verifier = secrets.token_urlsafe(48)
    code = (await authorize(http, idp, verifier)).params["code"]
    assert (await redeem(http, idp, code, verifier)).status_code == 200
    second = await redeem(http, idp, code, verifier)
    assert (second.status_code, second.json()) == (400, {"error": "invalid_grant"})


async def test_client_authentication(idp: FakeOidcProvider, http: httpx.AsyncClient) -> None:
    verifier = secrets.token_urlsafe(48)
    code = (await authorize(http, idp, verifier)).params["code"]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    form["code_verifier"] = verifier
    bad = await http.post(f"{idp.issuer}/token", data=form, auth=("hushroom-e2e", "wrong"))
    assert (bad.status_code, bad.json()) == (401, {"error": "invalid_client"})
    posted = form | {"client_id": "hushroom-e2e", "client_secret": "e2e-secret"}
    assert (await http.post(f"{idp.issuer}/token", data=posted)).status_code == 200


async def test_deny_next_redirects_with_access_denied_once(
    idp: FakeOidcProvider, http: httpx.AsyncClient
) -> None:
    idp.deny_next()
    assert (await authorize(http, idp, "v" * 43)).params["error"] == "access_denied"
    assert "code" in (await authorize(http, idp, "v" * 43)).params


@pytest.mark.parametrize(
    ("fault", "claim", "value"),
    [
        (Fault.WRONG_AUDIENCE, "aud", WRONG_AUDIENCE),
        (Fault.WRONG_ISSUER, "iss", WRONG_ISSUER),
        (Fault.WRONG_NONCE, "nonce", "not-the-nonce-you-sent"),
        (Fault.NO_NONCE, "nonce", None),
    ],
)
async def test_claim_faults(
    idp: FakeOidcProvider, http: httpx.AsyncClient, fault: Fault, claim: str, value: str | None
) -> None:
    idp.fail_next(fault)
    token = jwt.decode(await id_token_for(http, idp), KeySet.import_key_set(idp.jwks))
    assert token.claims.get(claim) == value


async def test_expired_fault(idp: FakeOidcProvider, http: httpx.AsyncClient) -> None:
    idp.faults.add(Fault.EXPIRED)  # globally this time
    _, claims = unverified_parts(await id_token_for(http, idp))
    assert claims["exp"] < time.time()


@pytest.mark.parametrize("fault", [Fault.FOREIGN_KEY, Fault.UNKNOWN_KID])
async def test_signature_faults(
    idp: FakeOidcProvider, http: httpx.AsyncClient, fault: Fault
) -> None:
    idp.fail_next(fault)
    token = await id_token_for(http, idp)
    header, _ = unverified_parts(token)
    published = [k["kid"] for k in idp.jwks["keys"]]
    assert (header["kid"] in published) == (fault is Fault.FOREIGN_KEY)
    published_key = KeySet.import_key_set(idp.jwks).keys[0]
    with pytest.raises(BadSignatureError):
        jwt.decode(token, published_key)


async def test_alg_none_fault(idp: FakeOidcProvider, http: httpx.AsyncClient) -> None:
    idp.fail_next(Fault.ALG_NONE)
    token = await id_token_for(http, idp)
    assert token.endswith(".")
    assert unverified_parts(token)[0]["alg"] == "none"


async def test_token_endpoint_faults(idp: FakeOidcProvider, http: httpx.AsyncClient) -> None:
    verifier = secrets.token_urlsafe(48)
    idp.fail_next(Fault.TOKEN_HTTP_500)
    code = (await authorize(http, idp, verifier)).params["code"]
    assert (await redeem(http, idp, code, verifier)).status_code == 500
    idp.fail_next(Fault.TOKEN_INVALID_JSON)
    code = (await authorize(http, idp, verifier)).params["code"]
    response = await redeem(http, idp, code, verifier)
    with pytest.raises(ValueError, match="Expecting"):
        response.json()


async def facebook_code(
    http: httpx.AsyncClient, fb: FakeFacebook, verifier: str
) -> tuple[httpx.URL, str]:
    query = {
        "client_id": "fb-app",
        "redirect_uri": CALLBACK,
        "state": "fb-state",
        "response_type": "code",
        "scope": "email,public_profile",
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
    }
    response = await http.get(fb.dialog_url, params=query)
    location = response.headers["location"]
    return httpx.URL(location), location


async def facebook_token(
    http: httpx.AsyncClient, fb: FakeFacebook, code: str, verifier: str
) -> httpx.Response:
    params = {
        "client_id": "fb-app",
        "client_secret": "fb-secret",
        "redirect_uri": CALLBACK,
        "code": code,
        "code_verifier": verifier,
    }
    return await http.get(f"{fb.graph_url}/oauth/access_token", params=params)


async def test_facebook_flow_and_appsecret_proof(
    facebook: FakeFacebook, http: httpx.AsyncClient
) -> None:
    verifier = secrets.token_urlsafe(48)
    back, location = await facebook_code(http, facebook, verifier)
    assert back.params["state"] == "fb-state"
    assert location.endswith("#_=_")
    token = await facebook_token(http, facebook, back.params["code"], verifier)
    body = token.json()
    assert (body["token_type"], type(body["expires_in"])) == ("bearer", int)
    me = f"{facebook.graph_url}/me"
    params = {"fields": "id,name,email", "access_token": body["access_token"]}
    proof = appsecret_proof("fb-secret", body["access_token"])
    ok = await http.get(me, params=params | {"appsecret_proof": proof})
    assert ok.json() == {"id": facebook.user.sub, "name": "Fb User", "email": facebook.user.email}
    for bad_proof in ({}, {"appsecret_proof": appsecret_proof("other", body["access_token"])}):
        refused = await http.get(me, params=params | bad_proof)
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == 100
    unknown = await http.get(me, params={"access_token": "EAAnope", "appsecret_proof": proof})
    assert unknown.json()["error"] | {"fbtrace_id": "x"} == {
        "message": "Invalid OAuth access token - Cannot parse access token",
        "type": "OAuthException",
        "code": 190,
        "fbtrace_id": "x",
    }


async def test_facebook_code_once_pkce_and_deny(
    facebook: FakeFacebook, http: httpx.AsyncClient
) -> None:
    verifier = secrets.token_urlsafe(48)
    back, _ = await facebook_code(http, facebook, verifier)
    wrong = await facebook_token(http, facebook, back.params["code"], secrets.token_urlsafe(48))
    assert wrong.status_code == 400  # and the code is spent
    reused = await facebook_token(http, facebook, back.params["code"], verifier)
    assert reused.json()["error"]["message"] == "This authorization code has been used."
    facebook.deny_next()
    denied, _ = await facebook_code(http, facebook, verifier)
    assert {k: denied.params[k] for k in ("error", "error_reason", "state")} == {
        "error": "access_denied",
        "error_reason": "user_denied",
        "state": "fb-state",
    }


async def test_facebook_user_without_email(facebook: FakeFacebook, http: httpx.AsyncClient) -> None:
    facebook.next_user(User(sub="777", name="No Mail", email=None))
    verifier = secrets.token_urlsafe(48)
    back, _ = await facebook_code(http, facebook, verifier)
    access = (await facebook_token(http, facebook, back.params["code"], verifier)).json()
    params = {
        "fields": "id,name,email",
        "access_token": access["access_token"],
        "appsecret_proof": appsecret_proof("fb-secret", access["access_token"]),
    }
    me = await http.get(f"{facebook.graph_url}/me", params=params)
    assert me.json() == {"id": "777", "name": "No Mail"}


def test_command_line_serves_until_sigterm() -> None:
    """The Playwright run starts the fakes as processes: READY line, control endpoint, exit 0."""
    port = free_port()
    command = [sys.executable, "-m", "tests.support.fake_idp", "facebook", "--port", str(port)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == f"READY http://127.0.0.1:{port}"
            url = f"http://127.0.0.1:{port}/__fake/next"
            assert httpx.post(url, json={"deny": True}, timeout=10).status_code == 204
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=15) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
