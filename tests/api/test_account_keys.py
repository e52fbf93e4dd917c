"""Account keys over HTTP: validated uploads, the authenticated vault, device certificates, the
key directory, revocation with a re-key, password change, recovery and the one-time set-up of
accounts created before real keys."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from hushroom.clock import FakeClock
from hushroom.container import Container
from hushroom.crypto.account import AccountKeys, create_account_keys, rekey_account
from hushroom.crypto.device import DeviceKey, certify_device
from hushroom.crypto.identity import IdentityKey
from hushroom.crypto.primitives import Secret
from hushroom.crypto.puk import PukKeyPair, certify_puk
from hushroom.crypto.vault import SealedVault, unlock_vault, wrap_vault_key
from hushroom.storage.accounts import UserRecord
from tests.support.accounts import (
    KDF_PARAMS,
    Account,
    b64,
    kdf_json,
    keyed_register_body,
    keys_json,
    login,
    register,
    register_and_login,
    unb64,
    vault_json,
)

AUTH = "/api/v1/auth"
SMALL_ORDER_ED25519 = bytes(32)  # the identity point's neighbour: all zeros is small order


def _keys(account: Account) -> AccountKeys:
    assert account.keys is not None
    return account.keys


def _other_identity_puk(body: dict[str, Any]) -> None:
    puk = PukKeyPair.generate(1)
    body["puk_certificate"] = b64(
        certify_puk(IdentityKey.generate(), body["user_id"], puk, 1).encoded
    )


def _device_cert_by_a_stranger(body: dict[str, Any]) -> None:
    cert = certify_device(
        IdentityKey.generate(),
        body["user_id"],
        body["device"]["device_id"],
        DeviceKey.generate().public_key,
        1,
    )
    body["device"]["certificate"] = b64(cert.encoded)


def _swap_wrappings(body: dict[str, Any]) -> None:
    vault = body["vault"]
    vault["password_wrapping"], vault["recovery_wrapping"] = (
        vault["recovery_wrapping"],
        vault["password_wrapping"],
    )


@pytest.mark.parametrize(
    ("spoil", "field"),
    [
        (lambda b: b.update(identity_key=b64(SMALL_ORDER_ED25519)), "identity_key"),
        (lambda b: b.update(identity_key=b64(os.urandom(31))), "identity_key"),
        (_other_identity_puk, "puk_certificate"),
        (lambda b: b.update(puk_certificate=b64(b"not a certificate")), "puk_certificate"),
        (_device_cert_by_a_stranger, "device_certificate"),
        (lambda b: b["vault"].update(sealed=b64(b"\x00" * 40)), "vault"),
        (_swap_wrappings, "vault"),
        (lambda b: b.update(recovery_auth=b64(os.urandom(16))), "recovery_auth"),
    ],
    ids=[
        "small_order_identity",
        "short_identity",
        "puk_signed_by_another_identity",
        "puk_garbage",
        "device_cert_by_another_identity",
        "vault_wrong_label",
        "wrappings_swapped",
        "recovery_auth_short",
    ],
)
async def test_bad_key_material_is_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, spoil: Callable[[dict[str, Any]], None], field: str
) -> None:
    keyed = keyed_register_body("Alice")
    spoil(keyed.body)
    r = await client.post(f"{AUTH}/register", json=keyed.body)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] in ("invalid_key_material", "validation_failed")
    assert r.json()["field"] == field
    # Nothing was stored: the same email and ids register cleanly afterwards.
    fresh = keyed_register_body("Alice")
    assert (await client.post(f"{AUTH}/register", json=fresh.body)).status_code == 201


async def test_puk_certificate_for_a_later_generation_is_refused(client: httpx.AsyncClient) -> None:
    keyed = keyed_register_body("Alice")
    puk = PukKeyPair.generate(2)
    keyed.body["puk_certificate"] = b64(
        certify_puk(keyed.keys.identity, keyed.body["user_id"], puk, 1).encoded
    )
    r = await client.post(f"{AUTH}/register", json=keyed.body)
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_key_material"
    assert r.json()["field"] == "puk_certificate"


async def test_register_with_a_taken_user_id_is_refused(client: httpx.AsyncClient) -> None:
    alice = await register(client, "Alice")
    keyed = keyed_register_body("Mallory", user_id=alice.user_id)
    r = await client.post(f"{AUTH}/register", json=keyed.body)
    # The certificates bind the body's own id, so a copied id fails one way or the other.
    assert r.status_code in (409, 422)


async def test_vault_is_served_only_to_an_authenticated_session(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/keys/vault")
    assert r.status_code == 401
    alice = await register_and_login(client, "Alice")
    r = await client.get("/api/v1/keys/vault", headers=alice.headers)
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    data = r.json()
    keys = _keys(alice)
    assert data["user_id"] == alice.user_id
    assert data["vault_version"] == 1
    sealed = SealedVault(
        unb64(data["sealed_vault"]),
        unb64(data["password_wrapping"]),
        unb64(data["recovery_wrapping"]),
    )
    assert alice.password_key is not None
    _, contents = unlock_vault(sealed, alice.user_id, alice.password_key)
    assert contents.identity_seed.reveal() == keys.identity.seed.reveal()


async def test_new_device_certifies_itself_and_joins_the_key_directory(
    client: httpx.AsyncClient,
) -> None:
    alice = await register_and_login(client, "Alice")
    bob = await register_and_login(client, "Bob")
    keys = _keys(alice)
    device = DeviceKey.generate()
    cert = certify_device(keys.identity, alice.user_id, alice.device_id, device.public_key, 5)
    url = f"/api/v1/devices/{alice.device_id}/certificate"

    # Only the device itself may certify it.
    r = await client.put(
        f"/api/v1/devices/{alice.registered_device_id}/certificate",
        json={"certificate": b64(cert.encoded)},
        headers=alice.headers,
    )
    assert r.status_code == 403
    # A certificate by another identity is refused.
    stranger = certify_device(
        IdentityKey.generate(), alice.user_id, alice.device_id, device.public_key, 5
    )
    r = await client.put(url, json={"certificate": b64(stranger.encoded)}, headers=alice.headers)
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_key_material"

    r = await client.put(url, json={"certificate": b64(cert.encoded)}, headers=alice.headers)
    assert r.status_code == 204
    r = await client.put(url, json={"certificate": b64(cert.encoded)}, headers=alice.headers)
    assert r.status_code == 204  # the same certificate again: a no-op
    other = certify_device(
        keys.identity, alice.user_id, alice.device_id, DeviceKey.generate().public_key, 6
    )
    r = await client.put(url, json={"certificate": b64(other.encoded)}, headers=alice.headers)
    assert r.status_code == 409

    r = await client.get(f"/api/v1/users/{alice.user_id}/keys", headers=bob.headers)
    assert r.status_code == 200
    directory = r.json()
    assert unb64(directory["identity_key"]) == keys.identity_public
    assert [p["generation"] for p in directory["puks"]] == [1]
    assert unb64(directory["puks"][0]["certificate"]) == keys.puk_certificate
    assert {d["device_id"] for d in directory["devices"]} == {
        alice.registered_device_id,
        alice.device_id,
    }
    assert directory["keys_version"] == 2

    r = await client.get("/api/v1/devices", headers=alice.headers)
    devices = {d["device_id"]: d for d in r.json()}
    assert devices[alice.device_id]["current"] is True
    assert devices[alice.device_id]["certified"] is True
    assert devices[alice.registered_device_id]["current"] is False


async def _revoke_body(account: Account, vault_version: int, now: int = 10) -> dict[str, Any]:
    assert account.password_key is not None
    rekeyed = rekey_account(account.user_id, _keys(account).contents, account.password_key, now)
    return {
        "auth_secret": b64(account.auth_secret),
        "vault_version": vault_version,
        "vault": vault_json(rekeyed),
        "recovery_auth": b64(rekeyed.recovery_auth),
        "puk_certificate": b64(rekeyed.puk_certificate),
    }


async def test_revoked_device_is_logged_out_and_the_vault_is_rekeyed(
    client: httpx.AsyncClient,
) -> None:
    laptop = await register_and_login(client, "Alice")
    phone = await login(client, Account(**{**laptop.__dict__}))
    phone_headers, phone_refresh = phone.headers, phone.refresh_token
    laptop = await login(client, laptop)
    url = f"/api/v1/devices/{phone.device_id}/revoke"

    body = await _revoke_body(laptop, 1)
    wrong = {**body, "auth_secret": b64(os.urandom(32))}
    r = await client.post(url, json=wrong, headers=laptop.headers)
    assert r.status_code == 401
    assert r.json()["code"] == "invalid_credentials"

    r = await client.post(url, json=body, headers=laptop.headers)
    assert r.status_code == 200, r.text
    assert r.json()["vault_version"] == 2

    r = await client.post(f"{AUTH}/refresh", json={"refresh_token": phone_refresh})
    assert r.status_code == 401
    r = await client.get("/api/v1/keys/vault", headers=phone_headers)
    assert r.status_code == 401
    r = await client.get(f"/api/v1/users/{laptop.user_id}/keys", headers=laptop.headers)
    assert [p["generation"] for p in r.json()["puks"]] == [1, 2]
    revoked = {d["device_id"]: d["revoked_at"] for d in r.json()["devices"]}
    # (the phone never certified itself, so it is not in the directory at all)
    assert phone.device_id not in revoked
    # A device cannot revoke itself, and a revoked one is not revoked twice.
    r = await client.post(
        f"/api/v1/devices/{laptop.device_id}/revoke",
        json=await _revoke_body(laptop, 2),
        headers=laptop.headers,
    )
    assert r.status_code == 422
    r = await client.post(url, json=await _revoke_body(laptop, 2), headers=laptop.headers)
    assert r.status_code == 404


async def test_concurrent_rekeys_one_wins_the_other_retries_on_top(
    client: httpx.AsyncClient,
) -> None:
    laptop = await register_and_login(client, "Alice")
    tablet = await login(client, Account(**{**laptop.__dict__}))
    phone = await login(client, Account(**{**laptop.__dict__}))
    laptop = await login(client, laptop)
    bodies = [await _revoke_body(laptop, 1) for _ in range(2)]
    results = await asyncio.gather(
        *(
            client.post(f"/api/v1/devices/{device}/revoke", json=body, headers=laptop.headers)
            for device, body in zip((tablet.device_id, phone.device_id), bodies, strict=True)
        )
    )
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 409], [r.text for r in results]
    loser = next(r for r in results if r.status_code == 409)
    assert loser.json()["code"] == "vault_version_conflict"
    # The loser reloads (version 2) and retries on top: generation 3 this time.
    failed = tablet if results[0].status_code == 409 else phone
    version = (await client.get("/api/v1/keys/vault", headers=laptop.headers)).json()[
        "vault_version"
    ]
    assert version == 2
    keys = _keys(laptop)
    assert laptop.password_key is not None
    grown = rekey_account(laptop.user_id, keys.contents, laptop.password_key, 1)
    again = rekey_account(laptop.user_id, grown.contents, laptop.password_key, 2)
    r = await client.post(
        f"/api/v1/devices/{failed.device_id}/revoke",
        json={
            "auth_secret": b64(laptop.auth_secret),
            "vault_version": version,
            "vault": vault_json(again),
            "recovery_auth": b64(again.recovery_auth),
            "puk_certificate": b64(again.puk_certificate),
        },
        headers=laptop.headers,
    )
    assert r.status_code == 200, r.text


def _new_password(
    account: Account, password_key: Secret, salt: bytes
) -> tuple[bytes, dict[str, Any]]:
    keys = _keys(account)
    secret = os.urandom(32)
    wrapping = wrap_vault_key(password_key, keys.vault_key, account.user_id, "password")
    return secret, {
        "kdf": kdf_json(salt),
        "auth_secret": b64(secret),
        "password_wrapping": b64(wrapping),
    }


async def test_password_change_rewraps_the_vault_and_ends_other_sessions(
    client: httpx.AsyncClient,
) -> None:
    alice = await register_and_login(client, "Alice")
    other = await login(client, Account(**{**alice.__dict__}))
    other_refresh = other.refresh_token
    alice = await login(client, alice)
    new_key = Secret(os.urandom(32))
    secret, fields = _new_password(alice, new_key, os.urandom(16))
    body = {**fields, "current_auth_secret": b64(os.urandom(32)), "vault_version": 1}
    r = await client.post("/api/v1/account/password", json=body, headers=alice.headers)
    assert r.status_code == 401  # the current password must be right
    body["current_auth_secret"] = b64(alice.auth_secret)
    r = await client.post("/api/v1/account/password", json=body, headers=alice.headers)
    assert r.status_code == 204, r.text
    r = await client.post("/api/v1/account/password", json=body, headers=alice.headers)
    assert r.status_code in (401, 409)  # the old secret and the old version are both spent

    r = await client.post(f"{AUTH}/refresh", json={"refresh_token": other_refresh})
    assert r.status_code == 401
    r = await client.post(
        f"{AUTH}/login", json={"email": alice.email, "auth_secret": b64(alice.auth_secret)}
    )
    assert r.status_code == 401
    alice.auth_secret = secret
    alice = await login(client, alice)
    data = (await client.get("/api/v1/keys/vault", headers=alice.headers)).json()
    sealed = SealedVault(
        unb64(data["sealed_vault"]),
        unb64(data["password_wrapping"]),
        unb64(data["recovery_wrapping"]),
    )
    _, contents = unlock_vault(sealed, alice.user_id, new_key)
    assert contents.identity_seed.reveal() == _keys(alice).identity.seed.reveal()


async def test_recovery_needs_the_authenticator_before_the_vault_is_released(
    client: httpx.AsyncClient,
) -> None:
    alice = await register(client, "Alice")
    keys = _keys(alice)
    for email, auth in (
        (alice.email, os.urandom(32)),
        ("nobody@example.test", keys.recovery_auth),
    ):
        r = await client.post(
            f"{AUTH}/recovery/vault", json={"email": email, "recovery_auth": b64(auth)}
        )
        assert r.status_code == 401
        assert r.json()["code"] == "invalid_credentials"
    r = await client.post(
        f"{AUTH}/recovery/vault",
        json={"email": alice.email, "recovery_auth": b64(keys.recovery_auth)},
    )
    assert r.status_code == 200
    data = r.json()
    assert "password_wrapping" not in data
    sealed = SealedVault(unb64(data["sealed_vault"]), b"", unb64(data["recovery_wrapping"]))
    vault_key, _ = unlock_vault(
        sealed, alice.user_id, keys.recovery_code.recovery_key(), "recovery"
    )
    assert vault_key.reveal() == keys.vault_key.reveal()

    # A new password and a fresh recovery code over the same vault key.
    new_key = Secret(os.urandom(32))
    secret, fields = _new_password(alice, new_key, os.urandom(16))
    fresh = create_account_keys(alice.user_id, new_key, 1)  # only its recovery code is used
    body = {
        **fields,
        "email": alice.email,
        "recovery_auth": b64(keys.recovery_auth),
        "recovery_wrapping": b64(
            wrap_vault_key(
                fresh.recovery_code.recovery_key(), keys.vault_key, alice.user_id, "recovery"
            )
        ),
        "new_recovery_auth": b64(fresh.recovery_auth),
        "vault_version": data["vault_version"],
    }
    r = await client.post(f"{AUTH}/recovery/reset-password", json=body)
    assert r.status_code == 204, r.text
    alice.auth_secret = secret
    await login(client, alice)
    for auth, status in ((keys.recovery_auth, 401), (fresh.recovery_auth, 200)):
        r = await client.post(
            f"{AUTH}/recovery/vault", json={"email": alice.email, "recovery_auth": b64(auth)}
        )
        assert r.status_code == status


async def test_account_without_keys_sets_them_up_at_its_next_login(
    client: httpx.AsyncClient, container: Container, clock: FakeClock
) -> None:
    """Accounts registered before real keys (the 0002 migration empties their placeholders)."""
    secret = os.urandom(32)
    user_id = uuid.uuid4()
    async with container.storage.write() as tx:
        await tx.users.create(
            UserRecord(
                id=user_id,
                email="old@example.test",
                display_name="Old Timer",
                kdf_salt=os.urandom(16),
                kdf_params=dict(KDF_PARAMS),
                auth_hash=await container.sessions._hasher.hash(secret),
                keys=None,
                vault_version=1,
                keys_version=0,
                is_admin=False,
                created_at=clock.now_ms(),
            )
        )
    r = await client.post(
        f"{AUTH}/login",
        json={
            "email": "old@example.test",
            "auth_secret": b64(secret),
            "return_refresh_token": True,
        },
    )
    assert r.status_code == 200
    assert r.json()["keys"] == "setup_required"
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    device_id = r.json()["device_id"]
    r = await client.get("/api/v1/keys/vault", headers=headers)
    assert r.status_code == 409
    assert r.json()["code"] == "keys_not_set_up"

    device = DeviceKey.generate()
    keys = create_account_keys(
        str(user_id), Secret(os.urandom(32)), 1, device=(device_id, device.public_key)
    )
    assert keys.device_certificate is not None
    body = {**keys_json(keys), "device_certificate": b64(keys.device_certificate)}
    r = await client.post("/api/v1/keys/setup", json=body, headers=headers)
    assert r.status_code == 204, r.text
    r = await client.post("/api/v1/keys/setup", json=body, headers=headers)
    assert r.status_code == 409
    assert r.json()["code"] == "keys_already_set_up"
    r = await client.get("/api/v1/keys/vault", headers=headers)
    assert r.status_code == 200
    r = await client.get(f"/api/v1/users/{user_id}/keys", headers=headers)
    assert [d["device_id"] for d in r.json()["devices"]] == [device_id]


def _reset_body(email: str, code: str, user_id: str) -> tuple[dict[str, Any], bytes, AccountKeys]:
    device_id = str(uuid.uuid4())
    keys = create_account_keys(
        user_id, Secret(os.urandom(32)), 1, device=(device_id, DeviceKey.generate().public_key)
    )
    assert keys.device_certificate is not None
    secret = os.urandom(32)
    body = {
        **keys_json(keys),
        "email": email,
        "reset_code": code,
        "kdf": kdf_json(),
        "auth_secret": b64(secret),
        "device": {"device_id": device_id, "certificate": b64(keys.device_certificate)},
    }
    return body, secret, keys


async def test_operator_reset_gives_a_new_identity_and_ends_every_device(
    client: httpx.AsyncClient, container: Container, clock: FakeClock
) -> None:
    alice = await register_and_login(client, "Alice")
    bob = await register_and_login(client, "Bob")
    old_refresh = alice.refresh_token
    # No code issued yet: nothing to reset with.
    r = await client.post(
        f"{AUTH}/reset-account/start", json={"email": alice.email, "reset_code": "x"}
    )
    assert r.status_code == 401
    assert await container.keys.issue_reset_code("nobody@example.test") is None
    code = await container.keys.issue_reset_code(alice.email)
    assert code is not None

    for email, attempt in ((alice.email, code + "x"), ("nobody@example.test", code)):
        r = await client.post(
            f"{AUTH}/reset-account/start", json={"email": email, "reset_code": attempt}
        )
        assert r.status_code == 401
        assert r.json()["code"] == "invalid_credentials"
    r = await client.post(
        f"{AUTH}/reset-account/start", json={"email": alice.email, "reset_code": code}
    )
    assert r.json() == {"user_id": alice.user_id}

    # Keys bound to another user id are refused, and nothing changes.
    body, secret, keys = _reset_body(alice.email, code, str(uuid.uuid4()))
    r = await client.post(f"{AUTH}/reset-account", json=body)
    assert r.status_code == 422
    body, secret, keys = _reset_body(alice.email, code, alice.user_id)
    r = await client.post(f"{AUTH}/reset-account", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["user_id"] == alice.user_id

    # The code is spent; the old password and every old session are gone.
    r = await client.post(
        f"{AUTH}/reset-account", json=_reset_body(alice.email, code, alice.user_id)[0]
    )
    assert r.status_code == 401
    r = await client.post(f"{AUTH}/refresh", json={"refresh_token": old_refresh})
    assert r.status_code == 401
    r = await client.post(
        f"{AUTH}/login", json={"email": alice.email, "auth_secret": b64(alice.auth_secret)}
    )
    assert r.status_code == 401
    alice.auth_secret = secret
    await login(client, alice, device_id=body["device"]["device_id"])

    # Contacts see the new identity: one PUK generation, only the new device.
    r = await client.get(f"/api/v1/users/{alice.user_id}/keys", headers=bob.headers)
    directory = r.json()
    assert unb64(directory["identity_key"]) == keys.identity_public
    assert unb64(directory["identity_key"]) != _keys(bob).identity_public
    assert [p["generation"] for p in directory["puks"]] == [1]
    assert unb64(directory["puks"][0]["certificate"]) == keys.puk_certificate
    live = [d["device_id"] for d in directory["devices"] if d["revoked_at"] is None]
    assert live == [body["device"]["device_id"]]


async def test_reset_code_expires_after_a_day(
    client: httpx.AsyncClient, container: Container, clock: FakeClock
) -> None:
    alice = await register(client, "Alice")
    code = await container.keys.issue_reset_code(alice.email)
    assert code is not None
    clock.advance(24 * 3600 + 1)
    r = await client.post(
        f"{AUTH}/reset-account", json=_reset_body(alice.email, code, alice.user_id)[0]
    )
    assert r.status_code == 401
