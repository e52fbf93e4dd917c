"""`HushroomClient`: accounts, rooms, conversations and history over HTTP, sends over the socket.

Passwords never leave the client: registration and login derive the password key and the auth
secret locally (Argon2id + HKDF, `hushroom.crypto.password`, in a worker thread) and send only the
auth secret. Registration uploads real keys (identity, PUK, device certificate, sealed vault,
recovery authenticator: docs/decisions/0003); login unlocks the vault and keeps the keys
(`client.keys`), certifying a new device by itself.

    async with HushroomClient("https://chat.example") as client:
        await client.login("ada@example.org", "correct horse battery staple")
        room = await client.create_room("general")
        await client.connect()
        ack = await client.send(room.id, body="hello")
        async for event in client.realtime: ...
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any

import httpx

from hushroom.client.e2ee import DecryptedMessage, DeviceState, E2ee
from hushroom.client.errors import (
    ApiError,
    ConnectionFailed,
    HushroomClientError,
    IdentityKeyChanged,
)
from hushroom.client.events import RealtimeEvent
from hushroom.client.http import HttpClient
from hushroom.client.keys import (
    KeyDirectory,
    KeyPinStore,
    MemoryKeyPins,
    UnlockedKeys,
    VaultRecord,
    register_body,
    setup_body,
    vault_json,
    verify_key_directory,
)
from hushroom.client.models import (
    Conversation,
    Device,
    HistoryPage,
    Id,
    Login,
    Message,
    Registration,
    SendAck,
    UserProfile,
    b64url_decode,
    b64url_encode,
    id_str,
    new_client_msg_id,
)
from hushroom.client.realtime import Realtime
from hushroom.crypto.account import create_account_keys, rekey_account
from hushroom.crypto.device import DeviceKey, certify_device
from hushroom.crypto.errors import CryptoError
from hushroom.crypto.identity import IdentityKey
from hushroom.crypto.password import KdfParams, PasswordKeys, derive_password_keys
from hushroom.crypto.primitives import Secret
from hushroom.crypto.recovery import RecoveryCode, generate_recovery_code, parse_recovery_code
from hushroom.crypto.vault import (
    VaultContents,
    VaultKey,
    open_vault,
    unlock_vault,
    unwrap_vault_key,
    wrap_vault_key,
)

API = "/api/v1"


def kdf_params_from_prelogin(data: Mapping[str, Any]) -> KdfParams:
    """KdfParams from a prelogin answer's `kdf` (docs/crypto.md §5.1); refuses weak or absurd
    parameters."""
    return KdfParams.from_json(data["kdf"])


async def derive_keys(password: str, params: KdfParams) -> PasswordKeys:
    """Argon2id + HKDF (slow on purpose) in a worker thread, never on the event loop."""
    return await asyncio.to_thread(derive_password_keys, password, params)


async def derive_auth_secret(password: str, params: KdfParams) -> bytes:
    """Only the auth secret (what the server sees) of `derive_keys`."""
    return (await derive_keys(password, params)).auth_secret.reveal()


# Idle pooled connections are dropped after this (below the server's keep-alive timeout).
KEEPALIVE_EXPIRY_S = 4.0


def http_limits() -> httpx.Limits:
    """Connection-pool limits of the SDK's HTTP client (pass them to your own transport)."""
    return httpx.Limits(
        max_connections=100, max_keepalive_connections=20, keepalive_expiry=KEEPALIVE_EXPIRY_S
    )


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _ws_url(base_url: str) -> str:
    url = httpx.URL(base_url)
    scheme = "wss" if url.scheme == "https" else "ws"
    return str(url.copy_with(scheme=scheme, path="/ws", query=None, fragment=None))


@dataclass(frozen=True, slots=True)
class _NewIdentity:
    derived: PasswordKeys = field(repr=False)
    body: dict[str, Any] = field(repr=False)
    registration: Registration
    device: DeviceKey = field(repr=False)
    identity_public: bytes


class HushroomClient:
    """One account's session with one server. Close it (`async with` or `aclose`)."""

    def __init__(
        self,
        base_url: str,
        *,
        ws_url: str | None = None,
        origin: str | None = None,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        key_pins: KeyPinStore | None = None,
    ) -> None:
        if transport is None:
            # Never reuse a connection the server is about to close as idle (uvicorn: after
            # 5 s): that race fails a request with "Server disconnected without a response".
            transport = httpx.AsyncHTTPTransport(limits=http_limits())
        self.http = HttpClient(base_url, timeout=timeout, transport=transport)
        self.ws_url = ws_url or _ws_url(base_url)
        # Sent as the WebSocket Origin header (browsers always send one; the SDK by default not).
        self.origin = origin
        self.user_id: uuid.UUID | None = None
        self.device_id: uuid.UUID | None = None
        self.session_id: uuid.UUID | None = None
        self.email: str | None = None
        # The unlocked account (after a login with the password); None while locked.
        self.keys: UnlockedKeys | None = None
        # Identity keys seen first per user (TOFU); `key_directory` reports a change.
        self.key_pins: KeyPinStore = key_pins if key_pins is not None else MemoryKeyPins()
        # Device keys this client made, by device id (registration, a login's new device): a
        # later login on this client reuses its certified device instead of adding one.
        self._device_keys: dict[str, DeviceKey] = {}
        self._realtime: Realtime | None = None
        # End-to-end encryption state (created on first use: `e2ee`).
        self._e2ee: E2ee | None = None
        # The password key of the last unlock, kept to unlock again when another device
        # rotated the PUK (device revocation); None once logged out.
        self._password_key: Secret | None = None

    def __repr__(self) -> str:
        state = "locked" if self.keys is None else "unlocked"
        return f"HushroomClient({self.http.base_url!r}, user_id={self.user_id}, keys={state})"

    async def __aenter__(self) -> HushroomClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._realtime is not None:
            await self._realtime.aclose()
        await self.http.aclose()

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
        auth: bool = True,
    ) -> Any:
        return await self.http.request(method, API + path, json=json, params=params, auth=auth)

    # --- accounts ----------------------------------------------------------------------------

    async def register(
        self,
        display_name: str,
        email: str,
        password: str,
        *,
        kdf_params: KdfParams | None = None,
        device_name: str | None = None,
    ) -> Registration:
        """Create a fully keyed account in one request (docs/decisions/0003): this client picks
        the user and device ids, derives the password keys (Argon2id, fresh salt unless
        `kdf_params` is given), makes the identity, PUK, vault and recovery code, and certifies
        its first device. The result carries the recovery code: show it to the user once.

        Not logged in afterwards; `login` (or `register_and_login`) on this client uses the
        registered device."""
        registration, _ = await self._register(
            display_name, email, password, kdf_params, device_name
        )
        return registration

    async def register_and_login(
        self,
        display_name: str,
        email: str,
        password: str,
        *,
        device_name: str | None = None,
        kdf_params: KdfParams | None = None,
    ) -> Login:
        """Register, then log in on the registered device with the same derivation (one
        Argon2id run, not two). The login carries the new account's recovery code."""
        registration, derived = await self._register(
            display_name, email, password, kdf_params, device_name
        )
        login = await self._login(
            email, derived, device_name=device_name, device_id=registration.device_id
        )
        return replace(login, recovery_code=registration.recovery_code)

    async def _register(
        self,
        display_name: str,
        email: str,
        password: str,
        kdf_params: KdfParams | None,
        device_name: str | None,
    ) -> tuple[Registration, PasswordKeys]:
        params = (kdf_params or KdfParams.generate()).check()
        user_id = uuid.uuid4()
        new = await self._new_identity(user_id, email, password, params, device_name)
        data = await self._call(
            "POST", "/auth/register", json={**new.body, "display_name": display_name}, auth=False
        )
        if uuid.UUID(data["user_id"]) != user_id:
            raise ApiError(500, "protocol_error", "the server answered another user id", None)
        return self._keep_identity(new), new.derived

    async def _new_identity(
        self,
        user_id: uuid.UUID,
        email: str,
        password: str,
        params: KdfParams,
        device_name: str | None = None,
    ) -> _NewIdentity:
        """Password keys, a new identity with all its keys and a first device: what
        registration and an account reset upload."""
        derived = await derive_keys(password, params)
        device_id = uuid.uuid4()
        device = DeviceKey.generate()
        keys = create_account_keys(
            str(user_id),
            derived.password_key,
            _now_ms(),
            device=(str(device_id), device.public_key),
        )
        body = register_body(
            user_id=str(user_id),
            device_id=str(device_id),
            display_name="",
            email=email,
            params=params,
            auth_secret=derived.auth_secret.reveal(),
            keys=keys,
            device_name=device_name,
        )
        return _NewIdentity(
            derived,
            body,
            Registration(user_id, device_id, keys.recovery_code),
            device,
            keys.identity_public,
        )

    def _keep_identity(self, new: _NewIdentity) -> Registration:
        """Once the server took it: this client's device key and its pin of the identity."""
        reg = new.registration
        self._device_keys[str(reg.device_id)] = new.device
        self.key_pins.pin(str(reg.user_id), new.identity_public)
        return reg

    async def prelogin(self, email: str) -> KdfParams:
        data = await self._call("POST", "/auth/prelogin", json={"email": email}, auth=False)
        return kdf_params_from_prelogin(data)

    async def login(
        self,
        email: str,
        password: str,
        *,
        device_name: str | None = None,
        device_id: Id | None = None,
    ) -> Login:
        """prelogin → derive the password keys locally → login → fetch and unlock the vault →
        certify this device if it is new, or set up keys for an account created before them
        (then `Login.recovery_code` is the new code). Keeps the tokens and the unlocked keys.

        On a client that registered or logged in before, the device it holds a key for is reused
        unless `device_id` names another."""
        params = await self.prelogin(email)
        derived = await derive_keys(password, params)
        return await self._login(email, derived, device_name=device_name, device_id=device_id)

    async def login_with_auth_secret(
        self,
        email: str,
        auth_secret: bytes,
        *,
        device_name: str | None = None,
        device_id: Id | None = None,
        password_key: Secret | bytes | None = None,
    ) -> Login:
        """Log in with already derived secrets (bots that store them instead of a password; see
        `derive_keys`), without another Argon2id run.

        Without `password_key` only the session is opened: the vault stays locked, the device
        uncertified and `keys` None (enough for public rooms). With it, as `login`."""
        if password_key is None:
            return await self._open_session(email, auth_secret, device_name, device_id)
        key = password_key if isinstance(password_key, Secret) else Secret(password_key)
        derived = PasswordKeys(password_key=key, auth_secret=Secret(auth_secret))
        return await self._login(email, derived, device_name=device_name, device_id=device_id)

    async def _open_session(
        self,
        email: str,
        auth_secret: bytes,
        device_name: str | None,
        device_id: Id | None,
    ) -> Login:
        body: dict[str, Any] = {
            "email": email,
            "auth_secret": b64url_encode(auth_secret),
            "return_refresh_token": True,
        }
        if device_name is not None:
            body["device_name"] = device_name
        if device_id is None and self._device_keys:
            # The newest device this client holds a key for (the server ignores one that is
            # another user's or revoked, and makes a new device).
            device_id = next(reversed(self._device_keys))
        if device_id is not None:
            body["device_id"] = id_str(device_id)
        data = await self._call("POST", "/auth/login", json=body, auth=False)
        self.http.set_tokens(data)
        login = Login.from_json(data)
        if self.user_id != login.user_id:
            self.keys = None
        self.user_id, self.device_id, self.session_id = (
            login.user_id,
            login.device_id,
            login.session_id,
        )
        self.email = email
        return login

    async def _login(
        self,
        email: str,
        derived: PasswordKeys,
        *,
        device_name: str | None,
        device_id: Id | None,
    ) -> Login:
        self.keys = None
        login = await self._open_session(
            email, derived.auth_secret.reveal(), device_name, device_id
        )
        user_id, this_device = str(login.user_id), str(login.device_id)
        device = self._device_keys.get(this_device)
        if device is None:
            device = DeviceKey.generate()
        if login.keys == "setup_required":
            keys = create_account_keys(
                user_id, derived.password_key, _now_ms(), device=(this_device, device.public_key)
            )
            await self._call("POST", "/keys/setup", json=setup_body(keys))
            self._device_keys[this_device] = device
            self.key_pins.pin(user_id, keys.identity_public)
            await self.unlock(derived.password_key)
            return replace(
                login, keys="ready", device_certified=True, recovery_code=keys.recovery_code
            )
        unlocked = await self.unlock(derived.password_key)
        if login.device_certified:
            return login
        certificate = certify_device(
            unlocked.identity, user_id, this_device, device.public_key, _now_ms()
        )
        await self._call(
            "PUT",
            f"/devices/{this_device}/certificate",
            json={"certificate": b64url_encode(certificate.encoded)},
        )
        self._device_keys[this_device] = device
        self.keys = replace(unlocked, device_id=this_device, device_key=device)
        return replace(login, device_certified=True)

    async def vault(self) -> VaultRecord:
        """The sealed vault, its wrappings and `vault_version` (409 `keys_not_set_up` for an
        account that still needs set-up)."""
        return VaultRecord.from_json(await self._call("GET", "/keys/vault"))

    async def unlock(self, password_key: Secret) -> UnlockedKeys:
        """Fetch the vault and open it with the password key; keeps and returns the keys.

        The identity key inside is this account's own, and the vault (authenticated under the
        password key) is the authority for it: it is pinned for this user."""
        record = await self.vault()
        if self.user_id is not None and record.user_id != str(self.user_id):
            raise ApiError(500, "protocol_error", "the server sent another user's vault", None)
        vault_key, contents = unlock_vault(record.vault, record.user_id, password_key, "password")
        self._password_key = password_key
        return self._keep_unlocked(record.user_id, contents, vault_key, record.vault_version)

    async def reload_keys(self) -> bool:
        """Unlock the vault again with the password key of the last unlock (to learn a PUK
        generation another device added); False when there is none or it no longer opens."""
        if self._password_key is None:
            return False
        try:
            await self.unlock(self._password_key)
        except (ApiError, CryptoError):
            return False
        return True

    def _keep_unlocked(
        self, user_id: str, contents: VaultContents, vault_key: VaultKey, vault_version: int
    ) -> UnlockedKeys:
        identity = IdentityKey.from_seed(contents.identity_seed)
        if self.key_pins.get(user_id) != identity.public_key:
            self.key_pins.pin(user_id, identity.public_key)
        device_id = None if self.device_id is None else str(self.device_id)
        device = self._device_keys.get(device_id) if device_id is not None else None
        self.keys = UnlockedKeys(
            user_id=user_id,
            identity=identity,
            contents=contents,
            vault_key=vault_key,
            vault_version=vault_version,
            device_id=device_id if device is not None else None,
            device_key=device,
        )
        return self.keys

    def _require_keys(self) -> UnlockedKeys:
        if self.keys is None:
            raise HushroomClientError("log in with the password first (the vault is locked)")
        return self.keys

    async def _email(self) -> str:
        if self.email is None:
            self.email = str((await self.me())["email"])
        return self.email

    # --- devices and re-keys -----------------------------------------------------------------

    async def devices(self) -> list[Device]:
        return [Device.from_json(d) for d in await self._call("GET", "/devices")]

    async def rename_device(self, device_id: Id, name: str) -> None:
        await self._call("PATCH", f"/devices/{id_str(device_id)}", json={"name": name})

    async def revoke_device(self, device_id: Id, password: str) -> RecoveryCode:
        """Revoke another of this account's devices: its sessions end at once.

        The password is re-entered (its auth secret confirms the revocation). The vault is
        re-keyed (a new vault key, the next PUK generation appended, a new recovery code) so the
        revoked device learns nothing new; if another re-key won meanwhile (409
        `vault_version_conflict`) the vault is reloaded and the re-key retried once on top of it.
        Returns the new recovery code: the old one no longer works."""
        unlocked = self._require_keys()
        params = await self.prelogin(await self._email())
        derived = await derive_keys(password, params)
        user_id, path = unlocked.user_id, f"/devices/{id_str(device_id)}/revoke"
        contents, version = unlocked.contents, unlocked.vault_version
        for attempt in (1, 2):
            keys = rekey_account(user_id, contents, derived.password_key, _now_ms())
            body = {
                "auth_secret": b64url_encode(derived.auth_secret.reveal()),
                "vault_version": version,
                "vault": vault_json(keys.vault),
                "recovery_auth": b64url_encode(keys.recovery_auth),
                "puk_certificate": b64url_encode(keys.puk_certificate),
            }
            try:
                data = await self._call("POST", path, json=body)
            except ApiError as exc:
                if exc.code != "vault_version_conflict" or attempt == 2:
                    raise
                fresh = await self.unlock(derived.password_key)
                contents, version = fresh.contents, fresh.vault_version
                continue
            self._keep_unlocked(user_id, keys.contents, keys.vault_key, int(data["vault_version"]))
            return keys.recovery_code
        raise AssertionError("unreachable")

    async def change_password(
        self, old_password: str, new_password: str, *, keep_other_sessions: bool = False
    ) -> None:
        """A new password (and fresh salt): the same vault key re-wrapped under the new password
        key; nothing else changes, history stays readable. Other sessions end unless kept.
        Retried once on top of a concurrent re-key (409 `vault_version_conflict`)."""
        email = await self._email()
        params = await self.prelogin(email)
        new_params = KdfParams.generate()
        old, new = await asyncio.gather(
            derive_keys(old_password, params), derive_keys(new_password, new_params)
        )
        unlocked = self.keys
        if unlocked is None:
            unlocked = await self.unlock(old.password_key)
        for attempt in (1, 2):
            user_id = unlocked.user_id
            body = {
                "current_auth_secret": b64url_encode(old.auth_secret.reveal()),
                "kdf": new_params.to_json(),
                "auth_secret": b64url_encode(new.auth_secret.reveal()),
                "password_wrapping": b64url_encode(
                    wrap_vault_key(new.password_key, unlocked.vault_key, user_id, "password")
                ),
                "vault_version": unlocked.vault_version,
                "keep_other_sessions": keep_other_sessions,
            }
            try:
                await self._call("POST", "/account/password", json=body)
            except ApiError as exc:
                if exc.code != "vault_version_conflict" or attempt == 2:
                    raise
                unlocked = await self.unlock(old.password_key)
                continue
            break
        # The server moved vault_version on: read it back (and check the new wrapping opens).
        await self.unlock(new.password_key)

    async def recover(
        self, email: str, recovery_code: str | RecoveryCode, new_password: str
    ) -> RecoveryCode:
        """ "Forgot password": prove the recovery code (its authenticator, docs/crypto.md §6.5),
        unwrap the vault key with it, choose a new password and a fresh recovery code. Every
        session of the account ends (log in with the new password afterwards). Returns the new
        recovery code: the old one no longer works."""
        code = (
            recovery_code
            if isinstance(recovery_code, RecoveryCode)
            else parse_recovery_code(recovery_code)
        )
        recovery_auth = b64url_encode(code.recovery_auth())
        data = await self._call(
            "POST",
            "/auth/recovery/vault",
            json={"email": email, "recovery_auth": recovery_auth},
            auth=False,
        )
        user_id = str(uuid.UUID(data["user_id"]))
        vault_key = unwrap_vault_key(
            code.recovery_key(), b64url_decode(data["recovery_wrapping"]), user_id, "recovery"
        )
        # The vault must open with it: never re-wrap a key that does not.
        open_vault(vault_key, b64url_decode(data["sealed_vault"]), user_id)
        params = KdfParams.generate()
        derived = await derive_keys(new_password, params)
        new_code = generate_recovery_code()
        body = {
            "email": email,
            "recovery_auth": recovery_auth,
            "kdf": params.to_json(),
            "auth_secret": b64url_encode(derived.auth_secret.reveal()),
            "password_wrapping": b64url_encode(
                wrap_vault_key(derived.password_key, vault_key, user_id, "password")
            ),
            "recovery_wrapping": b64url_encode(
                wrap_vault_key(new_code.recovery_key(), vault_key, user_id, "recovery")
            ),
            "new_recovery_auth": b64url_encode(new_code.recovery_auth()),
            "vault_version": int(data["vault_version"]),
        }
        await self._call("POST", "/auth/recovery/reset-password", json=body, auth=False)
        return new_code

    async def reset_account(self, email: str, reset_code: str, new_password: str) -> Registration:
        """Password and recovery code both lost: with the single-use code the operator issued
        (`hushroom reset-account EMAIL`), give the account a new identity, keys, password and
        recovery code. Old private history stays unreadable, every old device is revoked, and
        contacts see a key change. Not logged in afterwards; `login` uses the new device."""
        start = {"email": email, "reset_code": reset_code}
        data = await self._call("POST", "/auth/reset-account/start", json=start, auth=False)
        new = await self._new_identity(
            uuid.UUID(data["user_id"]), email, new_password, KdfParams.generate()
        )
        body = {k: v for k, v in new.body.items() if k not in ("user_id", "display_name")}
        await self._call("POST", "/auth/reset-account", json={**body, **start}, auth=False)
        return self._keep_identity(new)

    # --- the key directory -------------------------------------------------------------------

    async def key_directory(self, user_id: Id, *, accept_change: bool = False) -> KeyDirectory:
        """A user's identity key, PUK and device certificates, every certificate verified
        (`KeyDirectoryInvalid` otherwise). The identity key is pinned the first time it is seen;
        a different one later raises `IdentityKeyChanged` unless `accept_change` (after the user
        compared safety numbers), which re-pins it."""
        uid = id_str(user_id)
        directory = verify_key_directory(await self._call("GET", f"/users/{uid}/keys"), uid)
        presented = directory.identity_key.key
        pinned = self.key_pins.get(uid)
        if pinned is not None and pinned != presented and not accept_change:
            raise IdentityKeyChanged(uid, pinned, presented, directory)
        if pinned != presented:
            self.key_pins.pin(uid, presented)
        return directory

    async def refresh(self) -> None:
        """Rotate the tokens now (happens by itself when the access token expires)."""
        await self.http.refresh()

    async def logout(self) -> None:
        await self._call("POST", "/auth/logout")
        self.http.clear_tokens()
        self.keys = None
        self._password_key = None

    async def logout_all(self) -> None:
        await self._call("POST", "/auth/logout-all")
        self.http.clear_tokens()
        self.keys = None
        self._password_key = None

    async def me(self) -> dict[str, Any]:
        data: dict[str, Any] = await self._call("GET", "/me")
        return data

    async def search_users(self, query: str, limit: int = 50) -> list[UserProfile]:
        data = await self._call("GET", "/users", params={"q": query, "limit": limit})
        return [UserProfile.from_json(u) for u in data]

    async def get_user(self, user_id: Id) -> UserProfile:
        return UserProfile.from_json(await self._call("GET", f"/users/{id_str(user_id)}"))

    async def ws_ticket(self) -> str:
        data = await self._call("POST", "/ws-ticket")
        return str(data["ticket"])

    # --- rooms -------------------------------------------------------------------------------

    async def create_room(self, name: str, topic: str | None = None) -> Conversation:
        body = {"name": name, "topic": topic}
        return Conversation.from_json(await self._call("POST", "/rooms", json=body))

    async def search_rooms(
        self, query: str | None = None, *, limit: int = 50, after: str | None = None
    ) -> list[Conversation]:
        params: dict[str, str | int] = {"limit": limit}
        if query is not None:
            params["q"] = query
        if after is not None:
            params["after"] = after
        return [Conversation.from_json(c) for c in await self._call("GET", "/rooms", params=params)]

    async def get_room(self, room_id: Id) -> Conversation:
        return Conversation.from_json(await self._call("GET", f"/rooms/{id_str(room_id)}"))

    async def join_room(self, room_id: Id) -> Conversation:
        return Conversation.from_json(await self._call("POST", f"/rooms/{id_str(room_id)}/join"))

    async def leave_room(self, room_id: Id) -> None:
        await self._call("POST", f"/rooms/{id_str(room_id)}/leave")

    # --- conversations, DMs, groups ----------------------------------------------------------

    async def list_conversations(self) -> list[Conversation]:
        return [Conversation.from_json(c) for c in await self._call("GET", "/conversations")]

    async def get_conversation(self, conversation_id: Id) -> Conversation:
        data = await self._call("GET", f"/conversations/{id_str(conversation_id)}")
        return Conversation.from_json(data)

    async def members(self, conversation_id: Id) -> list[dict[str, Any]]:
        """Every member (all pages): user_id, role, joined_at, last_read_seq."""
        out: list[dict[str, Any]] = []
        params: dict[str, str | int] = {"limit": 1000}
        while True:
            path = f"/conversations/{id_str(conversation_id)}/members"
            data = await self._call("GET", path, params=params)
            out += data["members"]
            if data["next_after"] is None:
                return out
            params["after"] = data["next_after"]

    async def open_dm(self, user_id: Id) -> Conversation:
        data = await self._call("POST", "/dms", json={"user_id": id_str(user_id)})
        return Conversation.from_json(data)

    # --- requests and blocking (docs/protocol.md "Requests and blocking") ---------------------

    async def accept_request(self, conversation_id: Id) -> None:
        """Accept a DM or group started by someone this user shared no conversation with."""
        await self._call("POST", f"/conversations/{id_str(conversation_id)}/accept")

    async def decline_request(self, conversation_id: Id) -> None:
        await self._call("POST", f"/conversations/{id_str(conversation_id)}/decline")

    async def hide_conversation(self, conversation_id: Id, *, hidden: bool = True) -> None:
        action = "hide" if hidden else "unhide"
        await self._call("POST", f"/conversations/{id_str(conversation_id)}/{action}")

    async def leave_dm(self, conversation_id: Id) -> None:
        await self._call("POST", f"/dms/{id_str(conversation_id)}/leave")

    async def block(self, user_id: Id, *, blocked: bool = True) -> None:
        """Block (or unblock) a user: no DMs, invitations or presence from them."""
        await self._call("PUT" if blocked else "DELETE", f"/blocks/{id_str(user_id)}")

    async def create_group(self, conversation_id: Id, name: str, entry: bytes) -> Conversation:
        """Raw `POST /groups`: a new private group from its signed `create` membership entry
        (`create_private_group` signs one)."""
        body = {
            "conversation_id": id_str(conversation_id),
            "name": name,
            "entry": b64url_encode(entry),
        }
        return Conversation.from_json(await self._call("POST", "/groups", json=body))

    async def add_member(self, group_id: Id, entry: bytes) -> dict[str, Any]:
        """Raw `POST /groups/{id}/membership` with a signed `add` entry → `{"index": i}`."""
        path = f"/groups/{id_str(group_id)}/membership"
        result: dict[str, Any] = await self._call(
            "POST", path, json={"entry": b64url_encode(entry)}
        )
        return result

    async def remove_member(self, group_id: Id, entry: bytes) -> dict[str, Any]:
        """Raw `POST /groups/{id}/membership` with a signed `remove` or `leave` entry →
        `{"index": i}`."""
        path = f"/groups/{id_str(group_id)}/membership"
        result: dict[str, Any] = await self._call(
            "POST", path, json={"entry": b64url_encode(entry)}
        )
        return result

    async def mark_read(self, conversation_id: Id, seq: int) -> None:
        path = f"/conversations/{id_str(conversation_id)}/read"
        await self._call("POST", path, json={"seq": seq})

    # --- history and HTTP sends --------------------------------------------------------------

    async def history(
        self,
        conversation_id: Id,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int = 50,
    ) -> HistoryPage:
        """One page: the latest by default, older than `before`, or newer than `after` (by seq)."""
        params: dict[str, str | int] = {"limit": limit}
        if before is not None:
            params["before"] = before
        if after is not None:
            params["after"] = after
        path = f"/conversations/{id_str(conversation_id)}/messages"
        return HistoryPage.from_json(await self._call("GET", path, params=params))

    async def iter_history(
        self, conversation_id: Id, *, after: int = 0, page_size: int = 200
    ) -> AsyncIterator[Message]:
        """Every message after `after`, oldest first, page by page."""
        while True:
            page = await self.history(conversation_id, after=after, limit=page_size)
            for message in page.messages:
                yield message
            if not page.messages or page.messages[-1].seq >= page.last_seq:
                return
            after = page.messages[-1].seq

    async def send_http(
        self,
        conversation_id: Id,
        *,
        body: str | None = None,
        envelope: tuple[int, bytes] | None = None,
        client_msg_id: str | None = None,
    ) -> SendAck:
        """Send over HTTP (the fallback path); a retry with the same client_msg_id is safe."""
        if (body is None) == (envelope is None):
            raise ValueError("pass exactly one of body and envelope")
        payload: dict[str, Any] = {"client_msg_id": client_msg_id or new_client_msg_id()}
        if body is not None:
            payload["body"] = body
        elif envelope is not None:
            payload["envelope"] = {
                "generation": envelope[0],
                "ciphertext": b64url_encode(envelope[1]),
            }
        path = f"/conversations/{id_str(conversation_id)}/messages"
        return SendAck.from_json(await self._call("POST", path, json=payload))

    # --- realtime ----------------------------------------------------------------------------

    @property
    def realtime(self) -> Realtime:
        """The realtime connection (created on first use; `connect` starts it)."""
        if self._realtime is None:
            self._realtime = Realtime(self.http, self.ws_url, origin=self.origin)
        return self._realtime

    async def connect(self) -> Realtime:
        """Open the socket (reconnecting by itself from now on) and wait until it is ready."""
        if self.http.access_token is None:
            raise ConnectionFailed("log in before connecting")
        await self.realtime.start()
        return self.realtime

    async def send(
        self,
        conversation_id: Id,
        *,
        body: str | None = None,
        envelope: tuple[int, bytes] | None = None,
        client_msg_id: str | None = None,
    ) -> SendAck:
        """Send over the socket and wait for the ack; retried with the same id until acked.

        Connects first if `connect` was not called yet.
        """
        if not self.realtime.started:
            await self.connect()
        return await self.realtime.send(
            conversation_id,
            body=body,
            envelope=envelope,
            client_msg_id=client_msg_id,
        )

    # --- end-to-end encrypted messages (docs/crypto.md §8, hushroom.client.e2ee) ---------------

    @property
    def e2ee(self) -> E2ee:
        """Key sets, envelopes, counters and contacts' keys of this client (in memory)."""
        if self._e2ee is None:
            self._e2ee = E2ee(self)
        return self._e2ee

    def restore_device(self, state: DeviceState) -> None:
        """Go on as the device of an earlier session (`e2ee.device_state()`): the next login of
        this client reuses that device (no new one), and its send counters continue."""
        self._device_keys[state.device_id] = state.device_key
        self.e2ee.restore_counters(state)

    async def send_text(
        self,
        conversation_id: Id,
        text: str,
        *,
        client_msg_id: str | None = None,
        http: bool = False,
    ) -> SendAck:
        """Send a text: the plain body in a public room, a sealed envelope in a DM or private
        group (key sets created or rotated as needed, a `stale_key_generation` answered by
        re-sealing the same message). A retry with the same `client_msg_id` sends the same
        bytes. Over the socket (connecting first) unless `http`."""
        return await self.e2ee.send_text(
            conversation_id, text, client_msg_id=client_msg_id, http=http
        )

    async def open_private_dm(self, user_id: Id) -> Conversation:
        """`open_dm`, and pin the other user's identity key now (TOFU)."""
        conversation = await self.open_dm(user_id)
        self.e2ee.remember(conversation)
        await self.e2ee.contacts.directory(id_str(user_id))
        return conversation

    async def create_private_group(self, name: str, member_ids: list[Id]) -> Conversation:
        """A private group with this user as its admin: the `create` entry of its membership
        log is signed by this device."""
        return await self.e2ee.create_group(name, member_ids)

    async def add_members(self, group_id: Id, user_ids: list[Id]) -> None:
        """Add members (a signed `add`; the keys rotate on the next send)."""
        await self.e2ee.add_members(group_id, user_ids)

    async def remove_group_member(self, group_id: Id, user_id: Id) -> None:
        """Remove a member (a signed `remove`): the next key set excludes them."""
        await self.e2ee.remove_member(group_id, user_id)

    async def leave_group(self, group_id: Id, *, successor: Id | None = None) -> None:
        """Leave a private group (a signed `leave`; the last admin names a successor)."""
        await self.e2ee.leave(group_id, successor=successor)

    async def set_role(self, group_id: Id, user_id: Id, role: str) -> None:
        """Make a member `admin` or `member` (a signed `role`)."""
        await self.e2ee.set_role(group_id, user_id, role)

    async def decrypt(self, message: Message) -> DecryptedMessage:
        """A received message as text (public body, or envelope opened and verified)."""
        return await self.e2ee.decrypt(message)

    async def history_decrypted(
        self, conversation_id: Id, *, after: int = 0
    ) -> list[DecryptedMessage]:
        """Every message after `after`, oldest first, decrypted (failures carry `error`)."""
        return await self.e2ee.history(conversation_id, after=after)

    async def next_decrypted(self) -> DecryptedMessage | RealtimeEvent:
        """The next realtime event, with messages decrypted (bound it with `asyncio.timeout`)."""
        return await self.e2ee.next_event()

    @property
    def undecryptable(self) -> int:
        """Messages this client could not open or verify (each counted once)."""
        return self.e2ee.undecryptable
