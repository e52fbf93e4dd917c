"""Account keys after registration: the vault, the key directory, devices and their
certificates, device revocation with a re-key, password change and recovery.

The server stores public keys, certificates and sealed blobs only. Every re-key is a
compare-and-swap on `vault_version`, so of two concurrent re-keys one wins and the other
reloads the vault and retries on top of it (docs/decisions/0003).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from hushroom import access
from hushroom.clock import Clock
from hushroom.config import Settings
from hushroom.errors import (
    Conflict,
    InvalidCredentials,
    KeysAlreadySetUp,
    KeysNotSetUp,
    NotFound,
    VaultVersionConflict,
)
from hushroom.principal import Principal
from hushroom.services import key_material
from hushroom.services.account_input import (
    AUTH_SECRET_BYTES,
    check_size,
    clean_device_name,
    clean_kdf,
    kdf_json,
    normalize_email,
)
from hushroom.services.auth_hash import AuthHasher
from hushroom.services.key_material import KeyUpload, NewIdentity
from hushroom.services.rate_limits import UNKNOWN_ADDRESS
from hushroom.services.sessions import SessionService, live_session
from hushroom.storage.accounts import (
    AccountKeysRecord,
    DeviceRecord,
    PukCertificateRecord,
    UserRecord,
    VaultRecord,
)
from hushroom.storage.unit import Repos, Storage


@dataclass(frozen=True, slots=True)
class Vault:
    user_id: uuid.UUID
    vault: VaultRecord = field(repr=False)
    vault_version: int
    # False for a session that signed in through a provider and has not proven the password or
    # passphrase: its vault comes without the password wrapping (no offline guessing from a
    # provider session; docs/decisions/0007).
    password_released: bool = True


@dataclass(frozen=True, slots=True)
class VaultKdf:
    kdf: dict[str, Any]  # docs/crypto.md §5.1 JSON form
    # True: the account password; False: the chat passphrase of a provider account.
    password_login: bool


@dataclass(frozen=True, slots=True)
class KeyDirectory:
    user_id: uuid.UUID
    identity_key: bytes
    keys_version: int
    puks: list[PukCertificateRecord]
    devices: list[DeviceRecord]


@dataclass(frozen=True, slots=True)
class NewPassword:
    """A password as the client sends it: new KDF salt and parameters, the auth secret derived
    from it, and the vault key wrapped under the new password key."""

    kdf: dict[str, Any]  # docs/crypto.md §5.1 JSON form
    auth_secret: bytes = field(repr=False)
    password_wrapping: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Rekey:
    """A device revocation's re-key: a new vault (new vault key, the next PUK generation
    appended), the new recovery code's authenticator and the next PUK's certificate."""

    vault_version: int
    vault: VaultRecord = field(repr=False)
    recovery_auth: bytes = field(repr=False)
    puk_certificate: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class AccountReset:
    """An operator-approved reset: a new password and a new identity with all its keys (as at
    registration) for an account whose password and recovery code are both lost."""

    reset_code: str = field(repr=False)
    identity: NewIdentity = field(repr=False)


RESET_CODE_TTL_MS = 24 * 3600 * 1000


def reset_code_hash(code: str) -> bytes:
    # The code carries 144 random bits: a fast hash is enough (as for refresh tokens).
    return hashlib.sha256(code.strip().encode("utf-8")).digest()


def _keys_of(user: UserRecord) -> AccountKeysRecord:
    if user.keys is None:
        raise KeysNotSetUp()
    return user.keys


class KeyService:
    def __init__(
        self,
        storage: Storage,
        hasher: AuthHasher,
        sessions: SessionService,
        clock: Clock,
        settings: Settings,
    ) -> None:
        self._storage = storage
        self._hasher = hasher
        self._sessions = sessions
        self._clock = clock
        self._settings = settings

    def __repr__(self) -> str:
        return "KeyService()"

    async def _user(self, tx: Repos, principal: Principal) -> UserRecord:
        await live_session(tx, principal)
        user = await tx.users.get(principal.user_id)
        if user is None:
            raise NotFound("no such user")
        return user

    async def _password_hash(self, p: NewPassword) -> tuple[bytes, dict[str, Any], str]:
        salt, params = clean_kdf(p.kdf)
        check_size(p.auth_secret, AUTH_SECRET_BYTES, "auth_secret")
        key_material.wrapping(p.password_wrapping, "password", "password_wrapping")
        return salt, params, await self._hasher.hash(p.auth_secret)

    async def _confirm_password(self, user: UserRecord, auth_secret: bytes) -> None:
        check_size(auth_secret, AUTH_SECRET_BYTES, "auth_secret")
        async with self._storage.read() as tx:
            creds = await tx.users.get_credentials(user.email)
        if not await self._hasher.verify(creds.auth_hash if creds else None, auth_secret):
            raise InvalidCredentials("the password is not correct", field="auth_secret")

    # -- the vault --

    async def vault(self, principal: Principal) -> Vault:
        async with self._storage.read() as tx:
            session = await live_session(tx, principal)
            user = await self._user(tx, principal)
        return Vault(user.id, _keys_of(user).vault, user.vault_version, session.provider is None)

    async def vault_kdf(self, principal: Principal) -> VaultKdf:
        """The Argon2id parameters of the secret that unlocks the vault, for this session's
        account (a provider account's passphrase has no prelogin: it does not sign in)."""
        async with self._storage.read() as tx:
            user = await self._user(tx, principal)
        return VaultKdf(kdf_json(user.kdf_salt, user.kdf_params), user.password_login)

    async def confirm_secret(
        self, principal: Principal, auth_secret: bytes, *, address: str = UNKNOWN_ADDRESS
    ) -> UserRecord:
        """The account's password (or chat passphrase) proven by its auth secret; guesses count
        toward the login limits of (address, email) and of the address."""
        check_size(auth_secret, AUTH_SECRET_BYTES, "auth_secret")
        async with self._storage.read() as tx:
            user = await self._user(tx, principal)
        await self._sessions.limits.login_attempt(address, user.email)
        await self._confirm_password(user, auth_secret)
        await self._sessions.limits.login_succeeded(address, user.email)
        return user

    async def unlock_vault(
        self, principal: Principal, auth_secret: bytes, *, address: str = UNKNOWN_ADDRESS
    ) -> Vault:
        """The whole vault, password wrapping included, once the secret is proven."""
        user = await self.confirm_secret(principal, auth_secret, address=address)
        return Vault(user.id, _keys_of(user).vault, user.vault_version)

    async def setup(self, principal: Principal, upload: KeyUpload) -> None:
        """First keys of an account created before real keys (decision 0003, item 6)."""
        now = self._clock.now_ms()
        checked = key_material.check_key_upload(
            upload, principal.user_id, principal.device_id, now, self._settings.max_vault_bytes
        )
        async with self._storage.write() as tx:
            await self._user(tx, principal)
            if not await tx.users.set_keys(principal.user_id, checked.keys):
                raise KeysAlreadySetUp()
            await tx.puks.add(checked.puk)
            await tx.devices.certify(principal.device_id, checked.device_certificate)

    # -- the key directory --

    async def directory(self, user_id: uuid.UUID) -> KeyDirectory:
        async with self._storage.read() as tx:
            user = await tx.users.get(user_id)
            if user is None or user.keys is None:
                raise NotFound("no keys for this user", field="user_id")
            puks = await tx.puks.for_user(user_id)
            devices = [d for d in await tx.devices.for_user(user_id) if d.certificate]
        return KeyDirectory(user.id, user.keys.identity_key, user.keys_version, puks, devices)

    # -- devices --

    async def devices(self, principal: Principal) -> list[DeviceRecord]:
        async with self._storage.read() as tx:
            await live_session(tx, principal)
            return await tx.devices.for_user(principal.user_id)

    async def certify_device(
        self, principal: Principal, device_id: uuid.UUID, certificate: bytes
    ) -> None:
        access.require_calling_device(device_id, principal)
        async with self._storage.write() as tx:
            user = await self._user(tx, principal)
            identity = key_material.identity_key(_keys_of(user).identity_key)
            key_material.device_certificate(
                certificate, identity, user.id, device_id, name="certificate"
            )
            if await tx.devices.certify(device_id, certificate):
                await tx.users.bump_keys_version(user.id)
                return
            device = await tx.devices.get(device_id)
            if device is None or device.certificate != certificate:
                raise Conflict("this device already has another certificate")

    async def rename_device(self, principal: Principal, device_id: uuid.UUID, name: str) -> None:
        async with self._storage.write() as tx:
            await live_session(tx, principal)
            access.require_own_device(await tx.devices.get(device_id), principal.user_id)
            await tx.devices.rename(device_id, clean_device_name(name))

    async def revoke_device(
        self, principal: Principal, device_id: uuid.UUID, auth_secret: bytes, rekey: Rekey
    ) -> tuple[int, int]:
        """Revoke another device: its sessions end now, the vault is re-keyed and the next PUK
        generation certified, in one transaction. Returns (vault_version, keys_version)."""
        async with self._storage.read() as tx:
            user = await self._user(tx, principal)
            device = access.require_own_device(await tx.devices.get(device_id), user.id)
            access.require_other_live_device(device, principal)
            generation = await tx.puks.latest_generation(user.id) + 1
        await self._confirm_password(user, auth_secret)
        if rekey.vault_version != user.vault_version:
            # Another re-key won already: the client reloads the vault and retries on top (its
            # PUK certificate is for a generation that is taken now). The swap below still
            # catches a re-key that commits between here and there.
            raise VaultVersionConflict()
        identity = key_material.identity_key(_keys_of(user).identity_key)
        puk = key_material.puk_certificate(rekey.puk_certificate, identity, user.id, generation)
        vault = key_material.vault(rekey.vault, self._settings.max_vault_bytes)
        recovery_hash = key_material.recovery_auth_hash(rekey.recovery_auth)
        now = self._clock.now_ms()
        async with self._storage.write() as tx:
            version = await tx.users.swap_vault(
                user.id, rekey.vault_version, vault, recovery_auth_hash=recovery_hash
            )
            if version is None or not await tx.puks.add(
                PukCertificateRecord(user.id, generation, puk.encoded, now)
            ):
                raise VaultVersionConflict()
            await tx.devices.revoke(device_id, now)
            # The user's PUK rotated: every private conversation's key must follow, so the
            # revoked device opens nothing sent from now on (docs/crypto.md §1, decision 0005).
            await tx.conversations.mark_keys_stale_for_user(user.id)
            ended = await tx.sessions.revoke_device(device_id, now)
            keys_version = await tx.users.bump_keys_version(user.id)
        await self._sessions.publish_revoked(user.id, ended)
        return version, keys_version

    # -- password change and recovery --

    async def change_password(
        self,
        principal: Principal,
        current_auth_secret: bytes,
        new: NewPassword,
        vault_version: int,
        *,
        keep_other_sessions: bool = False,
    ) -> None:
        """Re-wrap the vault key under the new password key and replace the auth secret in one
        step; nothing else changes, so history stays readable."""
        async with self._storage.read() as tx:
            user = await self._user(tx, principal)
        await self._confirm_password(user, current_auth_secret)
        old = _keys_of(user).vault
        password = await self._password_hash(new)
        vault = VaultRecord(old.sealed, new.password_wrapping, old.recovery_wrapping)
        now = self._clock.now_ms()
        ended: list[uuid.UUID] = []
        async with self._storage.write() as tx:
            if await tx.users.swap_vault(user.id, vault_version, vault, password=password) is None:
                raise VaultVersionConflict()
            if not keep_other_sessions:
                ended = await tx.sessions.revoke_all(
                    user.id, now, except_session=principal.session_id
                )
        await self._sessions.publish_revoked(user.id, ended)

    async def _recovering(self, email: str, recovery_auth: bytes, address: str) -> UserRecord:
        """The account whose recovery authenticator this is; unknown emails and wrong codes
        fail alike, and count toward the same limits as logins (per address and per
        (address, email): services/rate_limits.py)."""
        email = normalize_email(email)
        presented = key_material.recovery_auth_hash(recovery_auth)
        await self._sessions.limits.login_attempt(address, email)
        async with self._storage.read() as tx:
            user = await tx.users.get_by_email(email)
        stored = user.keys.recovery_auth_hash if user and user.keys else bytes(32)
        if not hmac.compare_digest(stored, presented) or user is None or user.keys is None:
            raise InvalidCredentials("the email or the recovery code is not correct")
        await self._sessions.limits.login_succeeded(address, email)
        return user

    async def recovery_vault(
        self, email: str, recovery_auth: bytes, *, address: str = UNKNOWN_ADDRESS
    ) -> Vault:
        user = await self._recovering(email, recovery_auth, address)
        return Vault(user.id, _keys_of(user).vault, user.vault_version)

    async def recover(
        self,
        email: str,
        recovery_auth: bytes,
        new: NewPassword,
        recovery_wrapping: bytes,
        new_recovery_auth: bytes,
        vault_version: int,
        *,
        address: str = UNKNOWN_ADDRESS,
    ) -> None:
        """Forgotten password: a new password and a fresh recovery code over the same vault
        key; every session ends."""
        user = await self._recovering(email, recovery_auth, address)
        password = await self._password_hash(new)
        key_material.wrapping(recovery_wrapping, "recovery", "recovery_wrapping")
        vault = VaultRecord(_keys_of(user).vault.sealed, new.password_wrapping, recovery_wrapping)
        recovery_hash = key_material.recovery_auth_hash(new_recovery_auth, "new_recovery_auth")
        now = self._clock.now_ms()
        async with self._storage.write() as tx:
            version = await tx.users.swap_vault(
                user.id,
                vault_version,
                vault,
                recovery_auth_hash=recovery_hash,
                password=password,
            )
            if version is None:
                raise VaultVersionConflict()
            ended = await tx.sessions.revoke_all(user.id, now)
        await self._sessions.publish_revoked(user.id, ended, everywhere=True)

    # -- account reset (password and recovery code both lost) --

    async def issue_reset_code(self, email: str) -> str | None:
        """The operator's `hushroom reset-account EMAIL`: a single-use code valid 24 hours, to
        hand to the user in person; None for an unknown email."""
        code = secrets.token_urlsafe(18)
        expires_at = self._clock.now_ms() + RESET_CODE_TTL_MS
        async with self._storage.write() as tx:
            issued = await tx.users.set_reset_code(
                normalize_email(email), reset_code_hash(code), expires_at
            )
        return code if issued else None

    async def _pending_reset(self, email: str, code: str, address: str) -> tuple[uuid.UUID, bytes]:
        """The account a valid, unexpired reset code is for; wrong codes and unknown emails
        fail alike and count toward the limits of logins."""
        email = normalize_email(email)
        presented = reset_code_hash(code)
        await self._sessions.limits.login_attempt(address, email)
        async with self._storage.read() as tx:
            pending = await tx.users.get_reset_code(email)
        stored = pending[1] if pending else bytes(32)
        if (
            not hmac.compare_digest(stored, presented)
            or pending is None
            or pending[2] <= self._clock.now_ms()
        ):
            raise InvalidCredentials("the email or the reset code is not correct")
        await self._sessions.limits.login_succeeded(address, email)
        return pending[0], presented

    async def reset_start(
        self, email: str, code: str, *, address: str = UNKNOWN_ADDRESS
    ) -> uuid.UUID:
        """Check a reset code (without spending it) and name the account the new keys bind."""
        user_id, _ = await self._pending_reset(email, code, address)
        return user_id

    async def reset_account(
        self, r: AccountReset, *, address: str = UNKNOWN_ADDRESS
    ) -> tuple[uuid.UUID, uuid.UUID]:
        """New identity, PUK generation 1, vault, recovery code and password, in one step; every
        old device and session ends, old PUK certificates go. Returns (user id, new device id)."""
        user_id, code_hash = await self._pending_reset(r.identity.email, r.reset_code, address)
        now = self._clock.now_ms()
        new = await key_material.check_new_identity(
            r.identity, user_id, now, self._settings.max_vault_bytes, self._hasher
        )
        async with self._storage.write() as tx:
            if await tx.devices.get(new.device.id) is not None:
                raise Conflict("this device id is taken", field="device_id")
            if not await tx.users.reset_keys(user_id, code_hash, now, new.keys.keys, new.password):
                raise InvalidCredentials("the email or the reset code is not correct")
            await tx.puks.delete_for_user(user_id)
            # A new identity and PUK: old conversation keys are sealed to keys that are gone.
            await tx.conversations.mark_keys_stale_for_user(user_id)
            await tx.puks.add(new.keys.puk)
            await tx.devices.retire_all(user_id, now)
            await tx.devices.create(new.device)
            ended = await tx.sessions.revoke_all(user_id, now)
        await self._sessions.publish_revoked(user_id, ended, everywhere=True)
        return user_id, new.device.id
