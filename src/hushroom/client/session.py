"""`HushroomClient`: accounts, rooms, conversations and history over HTTP, sends over the socket.

Passwords never leave the client: registration and login derive the auth secret locally
(Argon2id + HKDF, `hushroom.crypto.password`, in a worker thread) and send only that.

    async with HushroomClient("https://chat.example") as client:
        await client.login("ada@example.org", "correct horse battery staple")
        room = await client.create_room("general")
        await client.connect()
        ack = await client.send(room.id, body="hello")
        async for event in client.realtime: ...
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import Any

import httpx

from hushroom.client.errors import ConnectionFailed
from hushroom.client.http import HttpClient
from hushroom.client.models import (
    Conversation,
    HistoryPage,
    Id,
    Login,
    Message,
    SendAck,
    UserProfile,
    b64url_decode,
    b64url_encode,
    id_str,
    new_client_msg_id,
)
from hushroom.client.realtime import Realtime
from hushroom.crypto.password import KdfParams, derive_password_keys

API = "/api/v1"
# Placeholders for accounts whose client keeps no E2EE keys (bots, tests): the server only
# requires them to be non-empty; they are opaque to it.
NO_KEY_BUNDLE = b"hushroom-sdk:no-key-bundle"
NO_VAULT = b"hushroom-sdk:no-vault"


def kdf_params_json(params: KdfParams) -> dict[str, Any]:
    """The server's shape of KDF parameters (the salt travels separately)."""
    return {
        "alg": params.algorithm,
        "version": params.version,
        "m_kib": params.memory_kib,
        "t": params.iterations,
        "p": params.parallelism,
    }


def kdf_params_from_prelogin(data: Mapping[str, Any]) -> KdfParams:
    """KdfParams from a prelogin answer; `check()` refuses parameters below the minimum."""
    p = data["kdf_params"]
    return KdfParams(
        salt=b64url_decode(data["kdf_salt"]),
        memory_kib=int(p["m_kib"]),
        iterations=int(p["t"]),
        parallelism=int(p["p"]),
        version=int(p["version"]),
        algorithm=str(p["alg"]),
    ).check()


async def derive_auth_secret(password: str, params: KdfParams) -> bytes:
    """Argon2id + HKDF (slow on purpose) in a worker thread, never on the event loop."""

    def derive() -> bytes:
        return derive_password_keys(password, params).auth_secret.reveal()

    return await asyncio.to_thread(derive)


def _ws_url(base_url: str) -> str:
    url = httpx.URL(base_url)
    scheme = "wss" if url.scheme == "https" else "ws"
    return str(url.copy_with(scheme=scheme, path="/ws", query=None, fragment=None))


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
    ) -> None:
        self.http = HttpClient(base_url, timeout=timeout, transport=transport)
        self.ws_url = ws_url or _ws_url(base_url)
        # Sent as the WebSocket Origin header (browsers always send one; the SDK by default not).
        self.origin = origin
        self.user_id: uuid.UUID | None = None
        self.device_id: uuid.UUID | None = None
        self.session_id: uuid.UUID | None = None
        self._realtime: Realtime | None = None

    def __repr__(self) -> str:
        return f"HushroomClient({self.http.base_url!r}, user_id={self.user_id})"

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
        key_bundle: bytes = NO_KEY_BUNDLE,
        vault: bytes = NO_VAULT,
        kdf_params: KdfParams | None = None,
    ) -> uuid.UUID:
        """Create an account (fresh salt unless `kdf_params` is given); returns its user id."""
        user_id, _secret = await self._register(
            display_name, email, password, key_bundle, vault, kdf_params
        )
        return user_id

    async def register_and_login(
        self,
        display_name: str,
        email: str,
        password: str,
        *,
        key_bundle: bytes = NO_KEY_BUNDLE,
        vault: bytes = NO_VAULT,
        device_name: str | None = None,
    ) -> Login:
        """Register, then log in with the same derivation (one Argon2id run, not two)."""
        _user_id, secret = await self._register(
            display_name, email, password, key_bundle, vault, None
        )
        return await self.login_with_auth_secret(email, secret, device_name=device_name)

    async def _register(
        self,
        display_name: str,
        email: str,
        password: str,
        key_bundle: bytes,
        vault: bytes,
        kdf_params: KdfParams | None,
    ) -> tuple[uuid.UUID, bytes]:
        params = (kdf_params or KdfParams.generate()).check()
        secret = await derive_auth_secret(password, params)
        data = await self._call(
            "POST",
            "/auth/register",
            json={
                "display_name": display_name,
                "email": email,
                "kdf_salt": b64url_encode(params.salt),
                "kdf_params": kdf_params_json(params),
                "auth_secret": b64url_encode(secret),
                "key_bundle": b64url_encode(key_bundle),
                "vault": b64url_encode(vault),
            },
            auth=False,
        )
        return uuid.UUID(data["user_id"]), secret

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
        """prelogin → derive the auth secret locally → login. Keeps the tokens."""
        params = await self.prelogin(email)
        secret = await derive_auth_secret(password, params)
        return await self.login_with_auth_secret(
            email, secret, device_name=device_name, device_id=device_id
        )

    async def login_with_auth_secret(
        self,
        email: str,
        auth_secret: bytes,
        *,
        device_name: str | None = None,
        device_id: Id | None = None,
    ) -> Login:
        """Log in with an already derived auth secret (bots that store it instead of a password)."""
        body: dict[str, Any] = {
            "email": email,
            "auth_secret": b64url_encode(auth_secret),
            "return_refresh_token": True,
        }
        if device_name is not None:
            body["device_name"] = device_name
        if device_id is not None:
            body["device_id"] = id_str(device_id)
        data = await self._call("POST", "/auth/login", json=body, auth=False)
        self.http.set_tokens(data)
        login = Login.from_json(data)
        self.user_id, self.device_id, self.session_id = (
            login.user_id,
            login.device_id,
            login.session_id,
        )
        return login

    async def refresh(self) -> None:
        """Rotate the tokens now (happens by itself when the access token expires)."""
        await self.http.refresh()

    async def logout(self) -> None:
        await self._call("POST", "/auth/logout")
        self.http.clear_tokens()

    async def logout_all(self) -> None:
        await self._call("POST", "/auth/logout-all")
        self.http.clear_tokens()

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

    async def create_group(self, name: str, member_ids: list[Id]) -> Conversation:
        body = {"name": name, "member_ids": [id_str(m) for m in member_ids]}
        return Conversation.from_json(await self._call("POST", "/groups", json=body))

    async def add_member(self, group_id: Id, user_id: Id) -> None:
        path = f"/groups/{id_str(group_id)}/members"
        await self._call("POST", path, json={"user_id": id_str(user_id)})

    async def remove_member(self, group_id: Id, user_id: Id) -> None:
        await self._call("DELETE", f"/groups/{id_str(group_id)}/members/{id_str(user_id)}")

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
