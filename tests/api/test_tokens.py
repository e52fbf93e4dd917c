"""Access tokens (forged, expired, misdirected) and single-use WebSocket tickets."""

from __future__ import annotations

import json
import os
import uuid
import warnings
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from hushroom.clock import FakeClock
from hushroom.config import Settings
from hushroom.container import Container
from hushroom.errors import TokenInvalid
from hushroom.principal import Principal
from tests.support.accounts import (
    b64,
    login,
    register_and_login,
    register_body,
    registration,
    unb64,
)

ME = "/api/v1/me"
TICKET = "/api/v1/ws-ticket"


def _seg(obj: Any) -> str:
    raw = obj if isinstance(obj, bytes) else json.dumps(obj, separators=(",", ":")).encode()
    return b64(raw)


def _parts(token: str) -> list[str]:
    return token.split(".")


def forged_tokens(real: str, secret: str) -> dict[str, str]:
    """Tokens that must all be refused, each named for the attack it tries."""
    claims: dict[str, Any] = jwt.decode(real, options={"verify_signature": False})
    header, payload, signature = _parts(real)
    now = claims["iat"]

    def sign(
        changes: dict[str, Any] | None = None,
        *,
        drop: tuple[str, ...] = (),
        key: Any = secret,
        alg: str = "HS256",
        headers: dict[str, Any] | None = None,
    ) -> str:
        c = {k: v for k, v in claims.items() if k not in drop}
        c.update(changes or {})
        with warnings.catch_warnings():
            # Short HMAC keys for HS384/HS512 are the point of some forgeries.
            warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
            return jwt.encode(c, key, algorithm=alg, headers=headers)

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ed_key = ed25519.Ed25519PrivateKey.generate()
    other_user = str(uuid.uuid4())
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    none_header = _seg({"alg": "none", "typ": "JWT"})

    tokens: dict[str, str] = {
        # Time.
        "expired": sign({"exp": now - 1}),
        "expires_now": sign({"exp": now}),
        "expired_long_ago": sign({"exp": 0}),
        "exp_negative": sign({"exp": -1}),
        "exp_missing": sign(drop=("exp",)),
        "exp_string": sign({"exp": str(now + 900)}),
        "exp_float": sign({"exp": now + 900.5}),
        "exp_null": sign({"exp": None}),
        "iat_missing": sign(drop=("iat",)),
        "not_before_future": sign({"nbf": now + 10**6}),
        # Audience, issuer, type.
        "aud_wrong": sign({"aud": "someone-else"}),
        "aud_list_wrong": sign({"aud": ["someone-else"]}),
        "aud_missing": sign(drop=("aud",)),
        "aud_empty": sign({"aud": ""}),
        "iss_wrong": sign({"iss": "evil"}),
        "iss_missing": sign(drop=("iss",)),
        "typ_refresh": sign({"typ": "refresh"}),
        "typ_ticket": sign({"typ": "ws-ticket"}),
        "typ_case": sign({"typ": "Access"}),
        "typ_missing": sign(drop=("typ",)),
        "typ_null": sign({"typ": None}),
        # Subject and ids.
        "sub_missing": sign(drop=("sub",)),
        "sub_not_uuid": sign({"sub": "admin"}),
        "sub_int": sign({"sub": 1}),
        "sub_empty": sign({"sub": ""}),
        "did_missing": sign(drop=("did",)),
        "did_not_uuid": sign({"did": "device"}),
        "sid_missing": sign(drop=("sid",)),
        "sid_not_uuid": sign({"sid": "x"}),
        "sid_list": sign({"sid": [claims["sid"]]}),
        "did_object": sign({"did": {"id": claims["did"]}}),
        "did_int": sign({"did": 7}),
        # Algorithm confusion.
        "alg_none_unsigned": f"{none_header}.{payload}.",
        "alg_none_with_signature": f"{none_header}.{payload}.{signature}",
        "alg_None": f"{_seg({'alg': 'None', 'typ': 'JWT'})}.{payload}.",
        "alg_NONE": f"{_seg({'alg': 'NONE', 'typ': 'JWT'})}.{payload}.",
        "alg_missing": f"{_seg({'typ': 'JWT'})}.{payload}.{signature}",
        "alg_hs384_right_secret": sign(alg="HS384"),
        "alg_hs512_right_secret": sign(alg="HS512"),
        "alg_rs256": sign(key=rsa_key, alg="RS256"),
        "alg_ps256": sign(key=rsa_key, alg="PS256"),
        "alg_es256": sign(key=ec_key, alg="ES256"),
        "alg_eddsa": sign(key=ed_key, alg="EdDSA"),
        "alg_header_swapped": f"{_seg({'alg': 'HS512', 'typ': 'JWT'})}.{payload}.{signature}",
        "rs256_with_embedded_jwk": sign(
            key=rsa_key, alg="RS256", headers={"jwk": {"kty": "RSA", "n": "AQAB", "e": "AQAB"}}
        ),
        # Wrong keys.
        "hs256_other_secret": sign(key="another-secret-" + "y" * 40),
        "hs256_secret_prefix": sign(key=secret[:-1]),
        "hs256_secret_suffix": sign(key=secret + "x"),
        "hs256_secret_upper": sign(key=secret.upper()),
        "hs256_kid_other_secret": sign(key="z" * 48, headers={"kid": "../../dev/null"}),
        # Tampering with a genuine token.
        "signature_flipped": f"{header}.{payload}.{flipped}",
        "signature_removed": f"{header}.{payload}.",
        "signature_truncated": f"{header}.{payload}.{signature[:20]}",
        "signature_of_other_token": f"{header}.{payload}.{_parts(sign({'sid': other_user}))[2]}",
        "payload_swapped_sub": f"{header}.{_seg({**claims, 'sub': other_user})}.{signature}",
        "payload_extended_exp": f"{header}.{_seg({**claims, 'exp': now + 10**6})}.{signature}",
        "two_segments": f"{header}.{payload}",
        "four_segments": f"{real}.{signature}",
        "five_segments_jwe_like": f"{header}.{payload}.{signature}.{signature}.{signature}",
        "padded": real + "==",
        "uppercased": real.upper(),
        "reversed": real[::-1],
        "header_not_json": f"{b64(b'not json')}.{payload}.{signature}",
        "header_json_array": f"{_seg(['HS256'])}.{payload}.{signature}",
        "payload_not_json": sign_raw(header, b"not json", secret),
        "payload_json_array": sign_raw(header, b"[1,2,3]", secret),
        "payload_json_string": sign_raw(header, b'"access"', secret),
        # Garbage.
        "garbage_word": "garbage",
        "garbage_dots": "a.b.c",
        "only_dots": "..",
        "random_bytes": b64(os.urandom(64)),
        "random_three_parts": ".".join(b64(os.urandom(n)) for n in (12, 40, 32)),
        "very_long": "A" * 8000,
        "refresh_token_shape": b64(os.urandom(32)),
    }
    return tokens


def sign_raw(header: str, payload: bytes, secret: str) -> str:
    """An HS256 signature over a raw (possibly non-JSON) payload, with the right secret."""
    import hashlib
    import hmac

    body = f"{header}.{b64(payload)}"
    mac = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
    return f"{body}.{b64(mac)}"


async def test_genuine_access_token_is_accepted(client: httpx.AsyncClient) -> None:
    alice = await register_and_login(client, "Alice")
    r = await client.get(ME, headers=alice.headers)
    assert r.status_code == 200
    assert r.json()["user_id"] == alice.user_id


async def test_forged_access_tokens_are_all_token_invalid(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    alice = await register_and_login(client, "Alice")
    forged = forged_tokens(alice.access_token, settings.resolved_jwt_secret())
    assert len(forged) >= 50
    accepted: dict[str, int] = {}
    for name, token in forged.items():
        r = await client.get(ME, headers={"Authorization": f"Bearer {token}"})
        if r.status_code != 401 or r.json().get("code") != "token_invalid":
            accepted[name] = r.status_code
        assert r.headers["content-type"] == "application/problem+json"
        assert token not in r.text  # tokens never echoed back
    assert accepted == {}
    # The genuine token still works: the forgeries failed for their own reasons.
    assert (await client.get(ME, headers=alice.headers)).status_code == 200


def test_forgery_generator_has_distinct_tokens() -> None:
    real = jwt.encode(
        {
            "iss": "hushroom",
            "aud": "hushroom",
            "typ": "access",
            "sub": str(uuid.uuid4()),
            "did": str(uuid.uuid4()),
            "sid": str(uuid.uuid4()),
            "iat": 1_800_000_000,
            "exp": 1_800_000_900,
        },
        "s" * 48,
        algorithm="HS256",
    )
    forged = forged_tokens(real, "s" * 48)
    assert len(set(forged.values())) == len(forged)
    assert real not in forged.values()


@pytest.mark.parametrize(
    "token_maker",
    [
        lambda s: jwt.encode({"sub": "x"}, "k" * 40, algorithm="HS256"),
        lambda s: "not-a-token",
        lambda s: jwt.encode(
            {"iss": "hushroom", "aud": "hushroom", "typ": "access", "sub": str(uuid.uuid4())},
            s,
            algorithm="HS256",
        ),
    ],
    ids=["foreign", "garbage", "no_expiry"],
)
async def test_service_verify_raises_token_invalid(
    container: Container, token_maker: Callable[[str], str]
) -> None:
    with pytest.raises(TokenInvalid):
        container.tokens.verify(token_maker(container.settings.resolved_jwt_secret()))


@pytest.mark.parametrize("claim", ["sub", "did", "sid"])
async def test_validly_signed_token_with_non_string_ids_is_token_invalid(
    container: Container, claim: str
) -> None:
    # Not a forgery (it needs the server secret), but it must still fail closed as 401.
    secret = container.settings.resolved_jwt_secret()
    now = container.clock.now_ms() // 1000
    claims: dict[str, Any] = {
        "iss": "hushroom",
        "aud": "hushroom",
        "typ": "access",
        "sub": str(uuid.uuid4()),
        "did": str(uuid.uuid4()),
        "sid": str(uuid.uuid4()),
        "iat": now,
        "exp": now + 900,
    }
    claims[claim] = [claims[claim]]
    with pytest.raises(TokenInvalid):
        container.tokens.verify(jwt.encode(claims, secret, algorithm="HS256"))


async def test_access_token_expires_after_fifteen_minutes(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    alice = await register_and_login(client, "Alice")
    clock.advance(14 * 60)
    assert (await client.get(ME, headers=alice.headers)).status_code == 200
    clock.advance(2 * 60)
    r = await client.get(ME, headers=alice.headers)
    assert r.status_code == 401
    assert r.json()["code"] == "token_invalid"
    # The refresh token outlives it and brings a working access token back.
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert r.status_code == 200
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    assert (await client.get(ME, headers=headers)).status_code == 200


@pytest.mark.parametrize(
    "authorization",
    [None, "Basic dXNlcjpwYXNz", "Bearer", "Token abc"],
    ids=["missing", "basic", "bearer_empty", "other_scheme"],
)
async def test_missing_bearer_is_unauthenticated(
    client: httpx.AsyncClient, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    r = await client.get(ME, headers=headers)
    assert r.status_code == 401
    assert r.json()["code"] == "unauthenticated"


# -- WebSocket tickets --


async def test_ticket_is_single_use(client: httpx.AsyncClient, container: Container) -> None:
    # `container` shares the database with the app, so it can redeem what the app issued.
    alice = await register_and_login(client, "Alice")
    r = await client.post(TICKET, headers=alice.headers)
    assert r.status_code == 200
    data = r.json()
    assert data["expires_in"] == 30
    assert r.headers["cache-control"] == "no-store"
    assert len(unb64(data["ticket"])) == 32
    principal = await container.sessions.redeem_ticket(data["ticket"])
    assert principal == Principal(
        uuid.UUID(alice.user_id), uuid.UUID(alice.device_id), uuid.UUID(alice.session_id)
    )
    with pytest.raises(TokenInvalid):
        await container.sessions.redeem_ticket(data["ticket"])


async def test_ticket_expires(
    client: httpx.AsyncClient, container: Container, clock: FakeClock
) -> None:
    alice = await register_and_login(client, "Alice")
    fresh = (await client.post(TICKET, headers=alice.headers)).json()["ticket"]
    stale = (await client.post(TICKET, headers=alice.headers)).json()["ticket"]
    clock.advance(29)
    await container.sessions.redeem_ticket(fresh)
    clock.advance(1)
    with pytest.raises(TokenInvalid):
        await container.sessions.redeem_ticket(stale)


async def test_tickets_are_distinct_and_unknown_ones_refused(container: Container) -> None:
    body = register_body("Alice")
    secret = unb64(body["auth_secret"])
    await container.accounts.register(registration(body))
    result = await container.sessions.login(body["email"], secret)
    p = result.tokens.principal
    tickets = {(await container.sessions.issue_ticket(p)).ticket for _ in range(5)}
    assert len(tickets) == 5
    for bad in ("", "nope", b64(os.urandom(32)), "x" * 500):
        with pytest.raises(TokenInvalid):
            await container.sessions.redeem_ticket(bad)


async def test_ticket_of_revoked_session_is_refused(
    client: httpx.AsyncClient, container: Container
) -> None:
    alice = await register_and_login(client, "Alice")
    ticket = (await client.post(TICKET, headers=alice.headers)).json()["ticket"]
    assert (await client.post("/api/v1/auth/logout", headers=alice.headers)).status_code == 204
    with pytest.raises(TokenInvalid):
        await container.sessions.redeem_ticket(ticket)
    # A still-valid access token of the revoked session cannot get a new ticket either.
    r = await client.post(TICKET, headers=alice.headers)
    assert r.status_code == 401
    assert r.json()["code"] == "token_invalid"


async def test_ticket_after_logout_everywhere_is_refused(
    client: httpx.AsyncClient, container: Container
) -> None:
    alice = await register_and_login(client, "Alice")
    ticket = (await client.post(TICKET, headers=alice.headers)).json()["ticket"]
    other = await login(client, alice)
    assert (await client.post("/api/v1/auth/logout-all", headers=other.headers)).status_code == 204
    with pytest.raises(TokenInvalid):
        await container.sessions.redeem_ticket(ticket)


async def test_ticket_requires_authentication(client: httpx.AsyncClient) -> None:
    r = await client.post(TICKET)
    assert r.status_code == 401
