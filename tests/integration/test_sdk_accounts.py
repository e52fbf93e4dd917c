"""The SDK's keyed accounts against a real server (docs/decisions/0003): registration with real
keys, a second device that certifies itself and shows in the key directory, revocation with a
re-key, password change, recovery with the code, and the one-time set-up of an account created
before real keys.

Every password derivation is the real Argon2id at 64 MiB (about 0.5 s; clients refuse weaker
parameters), so each scenario counts its logins.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from hushroom.client import (
    ApiError,
    HushroomClient,
    IdentityKeyChanged,
    KeyDirectoryInvalid,
    MemoryKeyPins,
    derive_keys,
    verify_key_directory,
)
from hushroom.client.keys import setup_body
from hushroom.client.models import b64url_encode
from hushroom.crypto.account import create_account_keys
from hushroom.crypto.device import DeviceKey, certify_device
from hushroom.crypto.identity import IdentityKey
from hushroom.crypto.primitives import Secret
from hushroom.crypto.recovery import RecoveryCode, generate_recovery_code
from tests.integration.helpers import PASSWORD, unique_email
from tests.support.server import ServerProcess

NEW_PASSWORD = "a different horse, stapled"


@asynccontextmanager
async def clients(server: ServerProcess, n: int) -> AsyncIterator[list[HushroomClient]]:
    async with AsyncExitStack() as stack:
        made = [await stack.enter_async_context(HushroomClient(server.base_url)) for _ in range(n)]
        yield made


async def _fails(call: object, status: int, code: str) -> None:
    assert asyncio.iscoroutine(call)
    with pytest.raises(ApiError) as info:
        await call
    assert (info.value.status, info.value.code) == (status, code), info.value


async def test_second_device_certifies_itself_shows_in_the_directory_and_is_revoked(
    server: ServerProcess,
) -> None:
    email = unique_email("ada")
    async with clients(server, 4) as (laptop, phone, tablet, bob):
        # Registration uploads real keys; the recovery code exists only in this answer.
        registered = await laptop.register_and_login("Ada", email, PASSWORD, device_name="laptop")
        assert isinstance(registered.recovery_code, RecoveryCode)
        assert (registered.keys, registered.device_certified) == ("ready", True)
        assert laptop.keys is not None
        assert laptop.keys.puk_generations == [1]
        assert laptop.keys.device_key is not None
        assert str(laptop.device_id) == laptop.keys.device_id
        assert registered.recovery_code.formatted() not in repr(registered)
        assert laptop.keys.vault_key.reveal().hex() not in repr(laptop.keys)

        # A second device: same password, a new device, which certifies itself after unlocking.
        phone_login = await phone.login(email, PASSWORD, device_name="phone")
        assert phone_login.user_id == registered.user_id
        assert phone_login.device_id != registered.device_id
        assert (phone_login.keys, phone_login.device_certified) == ("ready", True)
        assert phone_login.recovery_code is None
        assert phone.keys is not None
        assert phone.keys.device_key is not None
        assert phone.keys.identity_public == laptop.keys.identity_public
        assert phone.keys.contents.encode() == laptop.keys.contents.encode()
        # ... and a third, to revoke later.
        await tablet.login(email, PASSWORD, device_name="tablet")
        assert tablet.device_id is not None

        # Another user sees every certified device, each verified against Ada's identity key.
        await bob.register_and_login("Bob", unique_email("bob"), PASSWORD)
        directory = await bob.key_directory(registered.user_id)
        assert directory.identity_key.key == laptop.keys.identity_public
        assert [p.generation for p in directory.puks] == [1]
        assert directory.latest_puk.public_key == laptop.keys.puk(1).public_key
        phone_entry = directory.device(str(phone_login.device_id))
        assert phone_entry is not None
        assert phone_entry.public_key == phone.keys.device_key.public_key
        assert phone_entry.active
        laptop_entry = directory.device(str(registered.device_id))
        assert laptop_entry is not None
        assert laptop_entry.public_key == laptop.keys.device_key.public_key
        assert len(directory.active_devices) == 3

        devices = {d.device_id: d for d in await laptop.devices()}
        assert set(devices) == {registered.device_id, phone_login.device_id, tablet.device_id}
        assert all(d.certified and d.revoked_at is None for d in devices.values())
        assert [d.current for d in devices.values()].count(True) == 1
        assert devices[registered.device_id].current
        await laptop.rename_device(phone_login.device_id, "old phone")
        renamed = {d.device_id: d.name for d in await laptop.devices()}
        assert renamed[phone_login.device_id] == "old phone"

        # Revocation needs the password again; a wrong one revokes nothing.
        with pytest.raises(ApiError) as wrong:
            await laptop.revoke_device(phone_login.device_id, PASSWORD + "!")
        assert wrong.value.status in (401, 403), wrong.value
        await phone.me()

        version = laptop.keys.vault_version
        new_code = await laptop.revoke_device(phone_login.device_id, PASSWORD)
        assert new_code != registered.recovery_code
        assert laptop.keys.puk_generations == [1, 2]
        assert laptop.keys.vault_version > version
        assert laptop.keys.identity_public == directory.identity_key.key
        # The revoked device is refused at once, whatever it tries.
        await _fails(phone.me(), 401, "token_invalid")
        await _fails(phone.vault(), 401, "token_invalid")

        after = await bob.key_directory(registered.user_id)  # same identity: no key change
        assert after.keys_version > directory.keys_version
        assert [p.generation for p in after.puks] == [1, 2]
        assert after.latest_puk.public_key == laptop.keys.puk(2).public_key
        revoked = after.device(str(phone_login.device_id))
        assert revoked is not None
        assert revoked.revoked_at is not None
        assert len(after.active_devices) == 2

        # The calling device cannot revoke itself.
        with pytest.raises(ApiError) as itself:
            await laptop.revoke_device(registered.device_id, PASSWORD)
        assert itself.value.status == 422

        # The tablet still holds vault_version from before the re-key: its own revocation of
        # the laptop meets vault_version_conflict, reloads the vault and re-keys on top of it.
        assert tablet.keys is not None
        assert tablet.keys.vault_version == version
        await tablet.revoke_device(registered.device_id, PASSWORD)
        assert tablet.keys.puk_generations == [1, 2, 3]
        assert tablet.keys.contents.puk_seed(2) == laptop.keys.contents.puk_seed(2)
        await _fails(laptop.me(), 401, "token_invalid")


async def test_password_change_keeps_the_vault_and_ends_other_sessions(
    server: ServerProcess,
) -> None:
    email = unique_email("cy")
    async with clients(server, 4) as (cy, other, kept, fresh):
        await cy.register_and_login("Cy", email, PASSWORD, device_name="laptop")
        await other.login(email, PASSWORD, device_name="phone")
        assert cy.keys is not None
        before = cy.keys

        await cy.change_password(PASSWORD, NEW_PASSWORD)
        # The same vault key and contents, now under the new password; history stays readable.
        assert cy.keys.vault_key == before.vault_key
        assert cy.keys.contents.encode() == before.contents.encode()
        assert cy.keys.vault_version >= before.vault_version
        await cy.me()  # this session continues
        await _fails(other.me(), 401, "token_invalid")  # the others end

        await _fails(fresh.login(email, PASSWORD), 401, "invalid_credentials")
        await fresh.login(email, NEW_PASSWORD, device_name="desktop")
        assert fresh.keys is not None
        assert fresh.keys.vault_key == before.vault_key
        assert fresh.keys.contents.encode() == before.contents.encode()
        assert fresh.keys.identity_public == before.identity_public

        # keep_other_sessions: the desktop stays logged in across a second change.
        await kept.login(email, NEW_PASSWORD, device_name="tablet")
        await cy.change_password(NEW_PASSWORD, PASSWORD, keep_other_sessions=True)
        await kept.me()
        await fresh.me()


async def test_recovery_code_resets_the_password_and_keeps_the_identity(
    server: ServerProcess,
) -> None:
    email = unique_email("dee")
    async with clients(server, 3) as (dee, helper, later):
        login = await dee.register_and_login("Dee", email, PASSWORD, device_name="laptop")
        assert login.recovery_code is not None
        assert dee.keys is not None
        identity, contents = dee.keys.identity_public, dee.keys.contents.encode()

        # A wrong code and an unknown email get the same answer.
        await _fails(
            helper.recover(email, generate_recovery_code(), NEW_PASSWORD),
            401,
            "invalid_credentials",
        )
        await _fails(
            helper.recover(unique_email("nobody"), login.recovery_code, NEW_PASSWORD),
            401,
            "invalid_credentials",
        )

        # What the user typed back (lower case, spaces): parsed, proven, re-wrapped.
        typed = login.recovery_code.formatted().lower().replace("-", " ")
        new_code = await helper.recover(email, typed, NEW_PASSWORD)
        assert new_code != login.recovery_code
        await _fails(dee.me(), 401, "token_invalid")  # every session ended
        # The old code is spent; the old password too.
        await _fails(
            helper.recover(email, login.recovery_code, PASSWORD), 401, "invalid_credentials"
        )
        await _fails(later.login(email, PASSWORD), 401, "invalid_credentials")

        await later.login(email, NEW_PASSWORD, device_name="new laptop")
        assert later.keys is not None
        assert later.keys.identity_public == identity
        assert later.keys.contents.encode() == contents

        # And the new code works the next time. (A bot that stored its derived secrets logs in
        # and unlocks without another Argon2id run.)
        await helper.recover(email, new_code.formatted(), PASSWORD)
        derived = await derive_keys(PASSWORD, await later.prelogin(email))
        await later.login_with_auth_secret(
            email, derived.auth_secret.reveal(), password_key=derived.password_key
        )
        assert later.keys is not None
        assert later.keys.identity_public == identity
        assert later.keys.contents.encode() == contents


async def test_key_directory_pins_identity_keys_and_refuses_forged_certificates(
    server: ServerProcess,
) -> None:
    pins = MemoryKeyPins()
    viewer = HushroomClient(server.base_url, key_pins=pins)
    async with clients(server, 1) as (eve,), viewer:
        await eve.register_and_login("Eve", unique_email("eve"), PASSWORD)
        await viewer.register_and_login("Viewer", unique_email("viewer"), PASSWORD)
        assert eve.keys is not None
        assert eve.user_id is not None
        uid = str(eve.user_id)

        first = await viewer.key_directory(uid)
        assert pins.get(uid) == eve.keys.identity_public == first.identity_key.key
        # The viewer's own key was pinned from its own vault.
        assert viewer.user_id is not None
        assert viewer.keys is not None
        assert pins.get(str(viewer.user_id)) == viewer.keys.identity_public

        # A different identity key than the one first seen: a signal, not a silent switch.
        pins.pin(uid, IdentityKey.generate().public_key)
        with pytest.raises(IdentityKeyChanged) as changed:
            await viewer.key_directory(uid)
        assert changed.value.presented == eve.keys.identity_public
        assert changed.value.directory.identity_key.key == eve.keys.identity_public
        again = await viewer.key_directory(uid, accept_change=True)
        assert pins.get(uid) == again.identity_key.key
        await viewer.key_directory(uid)  # pinned again: quiet

        # Certificates not signed by the identity key make the whole directory invalid.
        raw = await viewer.http.request("GET", f"/api/v1/users/{uid}/keys")
        forger = IdentityKey.generate()
        forged = certify_device(
            forger, uid, raw["devices"][0]["device_id"], DeviceKey.generate().public_key, 1
        )
        raw["devices"][0]["certificate"] = b64url_encode(forged.encoded)
        with pytest.raises(KeyDirectoryInvalid):
            verify_key_directory(raw, uid)
        with pytest.raises(KeyDirectoryInvalid):
            verify_key_directory({**raw, "user_id": str(viewer.user_id)}, uid)

        await _fails(viewer.key_directory(uuid.uuid4()), 404, "not_found")


async def test_an_account_from_before_real_keys_sets_them_up_at_login(
    server: ServerProcess,
) -> None:
    email = unique_email("old")
    async with clients(server, 2) as (old, second):
        registration = await old.register("Old Timer", email, PASSWORD)
        await _strip_keys(server.database_url, registration.user_id)

        # The next login finds `keys: "setup_required"` and uploads real keys once.
        login = await old.login(email, PASSWORD, device_name="laptop")
        assert (login.keys, login.device_certified) == ("ready", True)
        assert isinstance(login.recovery_code, RecoveryCode)
        assert login.recovery_code != registration.recovery_code
        assert old.keys is not None
        assert old.keys.puk_generations == [1]
        # Once only: a second set-up (even a valid one) is refused.
        again = create_account_keys(
            str(registration.user_id),
            Secret(bytes(32)),
            1,
            device=(str(old.device_id), DeviceKey.generate().public_key),
        )
        await _fails(
            old.http.request("POST", "/api/v1/keys/setup", json=setup_body(again)),
            409,
            "keys_already_set_up",
        )

        # A second device unlocks the new vault and finds the new identity in the directory.
        await second.login(email, PASSWORD, device_name="phone")
        assert second.keys is not None
        assert second.keys.identity_public == old.keys.identity_public
        directory = await second.key_directory(registration.user_id)
        assert directory.identity_key.key == old.keys.identity_public
        assert len(directory.active_devices) == 2


async def _strip_keys(database_url: str, user_id: uuid.UUID) -> None:
    """Make the account look like one created before real keys (what migration 0002 leaves)."""
    from hushroom.storage.sql.tables import devices, puk_certificates, users

    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                sa.update(users)
                .where(users.c.id == user_id)
                .values(
                    identity_key=None,
                    vault=None,
                    password_wrapping=None,
                    recovery_wrapping=None,
                    recovery_auth_hash=None,
                )
            )
            await conn.execute(
                sa.delete(puk_certificates).where(puk_certificates.c.user_id == user_id)
            )
            await conn.execute(
                sa.update(devices).where(devices.c.user_id == user_id).values(certificate=None)
            )
    finally:
        await engine.dispose()


async def test_operator_reset_gives_a_new_identity_that_contacts_notice(
    server: ServerProcess,
) -> None:
    import os
    import subprocess
    import sys

    email = unique_email("eve")
    async with clients(server, 3) as (eve, contact, fresh):
        await eve.register_and_login("Eve", email, PASSWORD)
        await contact.register_and_login("Contact", unique_email("contact"), PASSWORD)
        assert eve.user_id is not None
        before = await contact.key_directory(eve.user_id)

        issued = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "hushroom.cli", "reset-account", email],
            env={
                **os.environ,
                "HUSHROOM_DATABASE_URL": server.database_url,
                "HUSHROOM_DATA_DIR": str(server.data_dir),
                "HUSHROOM_LOG_LEVEL": "WARNING",
            },
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert issued.returncode == 0, issued.stderr
        code = issued.stdout.strip().splitlines()[-1]

        await _fails(
            fresh.reset_account(email, code + "x", NEW_PASSWORD), 401, "invalid_credentials"
        )
        registration = await fresh.reset_account(email, code, NEW_PASSWORD)
        assert registration.user_id == eve.user_id
        await _fails(eve.me(), 401, "token_invalid")  # every old session ended
        await _fails(fresh.reset_account(email, code, PASSWORD), 401, "invalid_credentials")

        login = await fresh.login(email, NEW_PASSWORD)
        assert login.device_id == registration.device_id
        assert fresh.keys is not None
        assert fresh.keys.identity_public != before.identity_key.key
        # The contact pinned the old identity: the change is surfaced, not silently accepted.
        with pytest.raises(IdentityKeyChanged):
            await contact.key_directory(eve.user_id)
        after = await contact.key_directory(eve.user_id, accept_change=True)
        assert after.identity_key.key == fresh.keys.identity_public
