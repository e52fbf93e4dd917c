"""`hushroom.crypto.account`: what registration, set-up and a device revocation upload and keep
(docs/crypto.md §6–§7, decision 0003)."""

from __future__ import annotations

import os
import uuid

import pytest

from hushroom.crypto.account import AccountKeys, create_account_keys, rekey_account
from hushroom.crypto.device import DeviceKey, verify_device_certificate
from hushroom.crypto.errors import ContextMismatch, DecryptionFailed
from hushroom.crypto.identity import IdentityKey, IdentityPublicKey
from hushroom.crypto.primitives import Secret, SeededRandom
from hushroom.crypto.puk import PukKeyPair, verify_puk_certificate
from hushroom.crypto.recovery import derive_recovery_auth, derive_recovery_key, parse_recovery_code
from hushroom.crypto.vault import WrapKind, unlock_vault

CREATED_AT = 1764201600000


def _new(
    random: SeededRandom | None = None,
) -> tuple[AccountKeys, Secret, DeviceKey, str]:
    user_id, device_id = str(uuid.uuid4()), str(uuid.uuid4())
    password_key = Secret(os.urandom(32))
    device = DeviceKey.generate()
    keys = create_account_keys(
        user_id,
        password_key,
        CREATED_AT,
        device=(device_id, device.public_key),
        **({"random": random} if random is not None else {}),
    )
    return keys, password_key, device, device_id


def test_new_account_certificates_verify_under_its_identity() -> None:
    keys, _, device, device_id = _new()
    identity = IdentityPublicKey(keys.identity_public)
    assert keys.identity_public == keys.identity.public_key

    puk = verify_puk_certificate(keys.puk_certificate, identity, keys.user_id)
    assert puk.generation == 1
    assert puk.created_at == CREATED_AT
    # The certified PUK is the one whose seed is in the vault.
    (generation, seed), *rest = keys.contents.puk_seeds
    assert (generation, rest) == (1, [])
    assert PukKeyPair(1, seed).public_key == puk.public_key

    assert keys.device_certificate is not None
    cert = verify_device_certificate(keys.device_certificate, identity, keys.user_id, device_id)
    assert (cert.public_key, cert.created_at) == (device.public_key, CREATED_AT)
    with pytest.raises(ContextMismatch):
        verify_device_certificate(keys.device_certificate, identity, keys.user_id, "other-device")
    with pytest.raises(ContextMismatch):
        verify_puk_certificate(keys.puk_certificate, identity, str(uuid.uuid4()))

    # The identity in the vault is the identity that signed.
    assert IdentityKey.from_seed(keys.contents.identity_seed).public_key == keys.identity_public


def test_without_a_device_there_is_no_device_certificate() -> None:
    keys = create_account_keys(str(uuid.uuid4()), Secret(os.urandom(32)), CREATED_AT)
    assert keys.device_certificate is None
    verify_puk_certificate(
        keys.puk_certificate, IdentityPublicKey(keys.identity_public), keys.user_id
    )


def test_vault_unlocks_with_the_password_key_and_with_the_recovery_code() -> None:
    keys, password_key, _, _ = _new()
    by_password = unlock_vault(keys.vault, keys.user_id, password_key, "password")
    # What a user types back: the printed code, parsed.
    code = parse_recovery_code(keys.recovery_code.formatted())
    by_code = unlock_vault(keys.vault, keys.user_id, code.recovery_key(), "recovery")
    for vault_key, contents in (by_password, by_code):
        assert vault_key == keys.vault_key
        assert contents.encode() == keys.contents.encode()

    with pytest.raises(DecryptionFailed):
        unlock_vault(keys.vault, keys.user_id, Secret(os.urandom(32)), "password")
    with pytest.raises(DecryptionFailed):  # the vault binds the user id
        unlock_vault(keys.vault, str(uuid.uuid4()), password_key, "password")
    # The recovery authenticator the server stores a hash of does not unwrap anything.
    with pytest.raises(DecryptionFailed):
        unlock_vault(keys.vault, keys.user_id, Secret(keys.recovery_auth), "recovery")


def test_recovery_auth_is_the_codes_authenticator_and_not_its_key() -> None:
    keys, _, _, _ = _new()
    code = keys.recovery_code
    assert keys.recovery_auth == derive_recovery_auth(code) == code.recovery_auth()
    assert len(keys.recovery_auth) == 32
    assert keys.recovery_auth != derive_recovery_key(code).reveal()


def test_fresh_accounts_share_nothing() -> None:
    a, _, _, _ = _new()
    b, _, _, _ = _new()
    assert a.identity_public != b.identity_public
    assert a.vault_key != b.vault_key
    assert a.recovery_code != b.recovery_code
    assert a.recovery_auth != b.recovery_auth


def test_same_random_source_same_keys() -> None:
    user_id, password_key = str(uuid.uuid4()), Secret(bytes(32))
    device = ("dev", DeviceKey(bytes(range(32))).public_key)
    a = create_account_keys(
        user_id, password_key, CREATED_AT, device=device, random=SeededRandom(b"acct")
    )
    b = create_account_keys(
        user_id, password_key, CREATED_AT, device=device, random=SeededRandom(b"acct")
    )
    assert a.identity_public == b.identity_public
    assert a.vault == b.vault
    assert (a.puk_certificate, a.device_certificate) == (b.puk_certificate, b.device_certificate)
    assert a.recovery_auth == b.recovery_auth


def test_rekey_appends_the_next_generation_and_keeps_the_identity() -> None:
    keys, password_key, _, _ = _new()
    later = CREATED_AT + 60_000
    rekeyed = rekey_account(keys.user_id, keys.contents, password_key, later)

    assert rekeyed.user_id == keys.user_id
    assert rekeyed.identity_public == keys.identity_public
    assert rekeyed.device_certificate is None
    assert [g for g, _ in rekeyed.contents.puk_seeds] == [1, 2]
    assert rekeyed.contents.puk_seed(1) == keys.contents.puk_seed(1)
    assert rekeyed.contents.identity_seed == keys.contents.identity_seed

    # A new vault key and a new recovery code (the old code must stop working).
    assert rekeyed.vault_key != keys.vault_key
    assert rekeyed.recovery_code != keys.recovery_code
    assert rekeyed.recovery_auth != keys.recovery_auth
    with pytest.raises(DecryptionFailed):
        unlock_vault(rekeyed.vault, keys.user_id, keys.recovery_code.recovery_key(), "recovery")

    # The same password key still unlocks, and so does the new code.
    unlocks: list[tuple[Secret, WrapKind]] = [
        (password_key, "password"),
        (rekeyed.recovery_code.recovery_key(), "recovery"),
    ]
    for wrapping_key, kind in unlocks:
        vault_key, contents = unlock_vault(rekeyed.vault, keys.user_id, wrapping_key, kind)
        assert vault_key == rekeyed.vault_key
        assert contents.encode() == rekeyed.contents.encode()

    # The certificate is for generation 2, signed by the unchanged identity.
    identity = IdentityPublicKey(keys.identity_public)
    puk = verify_puk_certificate(rekeyed.puk_certificate, identity, keys.user_id)
    assert (puk.generation, puk.created_at) == (2, later)
    seed = rekeyed.contents.puk_seed(2)
    assert seed is not None
    assert PukKeyPair(2, seed).public_key == puk.public_key

    # And again: generation 3 on top of 1 and 2.
    again = rekey_account(keys.user_id, rekeyed.contents, password_key, later + 1)
    assert [g for g, _ in again.contents.puk_seeds] == [1, 2, 3]
    assert verify_puk_certificate(again.puk_certificate, identity, keys.user_id).generation == 3


def test_no_secret_in_repr() -> None:
    keys, password_key, _, _ = _new()
    rekeyed = rekey_account(keys.user_id, keys.contents, password_key, CREATED_AT)
    secrets = [
        keys.identity.seed.reveal(),
        keys.vault_key.reveal(),
        keys.recovery_code.reveal(),
        keys.recovery_auth,
        keys.recovery_code.recovery_key().reveal(),
        password_key.reveal(),
        *(seed.reveal() for _, seed in rekeyed.contents.puk_seeds),
        rekeyed.vault_key.reveal(),
        rekeyed.recovery_code.reveal(),
    ]
    for account in (keys, rekeyed):
        text = repr(account) + str(account)
        assert keys.user_id in text
        for secret in secrets:
            for form in (secret.hex(), repr(secret), secret.decode("latin-1")):
                assert form not in text
        assert keys.recovery_code.formatted() not in text
        assert rekeyed.recovery_code.formatted() not in text
    for obj in (keys.identity, keys.vault_key, keys.recovery_code, keys.contents):
        text = repr(obj)
        for secret in secrets:
            assert secret.hex() not in text
        assert keys.recovery_code.formatted() not in text
        assert keys.recovery_code.reveal().decode() not in text
