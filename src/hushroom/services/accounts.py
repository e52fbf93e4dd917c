"""Accounts and sessions: registration, prelogin, login, refresh-token rotation, logout, user
lookup and single-use WebSocket tickets.

The password never reaches the server (BRIEF §3): clients send a 32-byte `auth_secret` derived
from it, and the server keeps its own Argon2id hash of that secret. Responses and timing never
reveal whether an email is registered: unknown emails get a deterministic fake salt at prelogin,
and a login for an unknown email verifies against a dummy hash before failing exactly like a
wrong secret.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
import unicodedata
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from hushroom.clock import Clock
from hushroom.config import Settings
from hushroom.errors import (
    EmailTaken,
    InvalidCredentials,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    TokenInvalid,
    ValidationFailed,
)
from hushroom.events.event import Event
from hushroom.events.publisher import EventPublisher
from hushroom.principal import Principal
from hushroom.services.tokens import TokenService
from hushroom.storage.accounts import (
    DeviceRecord,
    RefreshTokenRecord,
    SessionRecord,
    SessionRepository,
    TicketRecord,
    UserRecord,
)
from hushroom.storage.unit import Storage

# The client-side KDF (BRIEF §3). Registration refuses anything weaker; clients refuse it too.
KDF_ALG = "argon2id"
KDF_VERSION = 1
MIN_KDF_PARAMS: dict[str, Any] = {
    "alg": KDF_ALG,
    "version": KDF_VERSION,
    "m_kib": 65536,
    "t": 3,
    "p": 1,
}
# Upper bounds keep a hostile registration from handing its own clients absurd parameters.
MAX_KDF_M_KIB = 4 * 1024 * 1024
MAX_KDF_T = 64
MAX_KDF_P = 16
KDF_SALT_BYTES = 16
AUTH_SECRET_BYTES = 32

MAX_EMAIL = 320
MAX_DISPLAY_NAME = 64
MAX_DEVICE_NAME = 100
DEFAULT_DEVICE_NAME = "Unnamed device"
MAX_SEARCH_RESULTS = 50
MAX_SEARCH_QUERY = 320

# Login throttling: more than this many failures per email within the window → 429.
MAX_FAILED_LOGINS = 10
FAILED_LOGIN_WINDOW_S = 15 * 60
# Emails tracked at once; the least recently failed is forgotten first beyond this.
MAX_THROTTLED_EMAILS = 50_000

SESSION_REVOKED = "session.revoked"

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]+$")


def normalize_email(email: str) -> str:
    return email.strip().lower()


def clean_email(email: str) -> str:
    email = normalize_email(email)
    if len(email) > MAX_EMAIL or not _EMAIL.match(email):
        raise ValidationFailed("this email address is not valid", field="email")
    return email


def clean_display_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= MAX_DISPLAY_NAME:
        raise ValidationFailed(
            f"display names are 1 to {MAX_DISPLAY_NAME} characters", field="display_name"
        )
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in name):
        raise ValidationFailed(
            "display names cannot contain control characters", field="display_name"
        )
    return name


def clean_device_name(name: str | None) -> str:
    name = " ".join((name or "").split())[:MAX_DEVICE_NAME]
    return name or DEFAULT_DEVICE_NAME


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def clean_kdf_params(params: dict[str, Any]) -> dict[str, Any]:
    """Accept the minimum of BRIEF §3 or stronger; refuse anything weaker or unknown."""
    if set(params) != set(MIN_KDF_PARAMS):
        raise ValidationFailed(
            "kdf_params must have exactly alg, version, m_kib, t and p", field="kdf_params"
        )
    if params["alg"] != KDF_ALG or params["version"] != KDF_VERSION:
        raise ValidationFailed("kdf_params must be argon2id version 1", field="kdf_params")
    m, t, p = params["m_kib"], params["t"], params["p"]
    if not (_is_int(m) and _is_int(t) and _is_int(p)):
        raise ValidationFailed("kdf_params m_kib, t and p must be integers", field="kdf_params")
    if m < MIN_KDF_PARAMS["m_kib"] or t < MIN_KDF_PARAMS["t"] or p < MIN_KDF_PARAMS["p"]:
        raise ValidationFailed(
            "kdf_params are weaker than the minimum (m_kib=65536, t=3, p=1)", field="kdf_params"
        )
    if m > MAX_KDF_M_KIB or t > MAX_KDF_T or p > MAX_KDF_P:
        raise ValidationFailed("kdf_params are out of range", field="kdf_params")
    return {"alg": KDF_ALG, "version": KDF_VERSION, "m_kib": m, "t": t, "p": p}


def _sha256(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8")).digest()


@dataclass(frozen=True, slots=True)
class Prelogin:
    kdf_salt: bytes
    kdf_params: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SessionTokens:
    """What a login or a refresh hands back. `refresh_token` is a secret: never logged."""

    access_token: str
    expires_in: int
    refresh_token: str = field(repr=False)
    refresh_expires_in: int
    principal: Principal


@dataclass(frozen=True, slots=True)
class LoginResult:
    tokens: SessionTokens
    user: UserRecord


@dataclass(frozen=True, slots=True)
class Ticket:
    ticket: str = field(repr=False)
    expires_in: int


class LoginThrottle:
    """Failed logins per email in a sliding window, in memory and bounded.

    Keyed by a hash of the normalized email, so registered and unknown emails behave the same.
    """

    def __init__(self, clock: Clock, limit: int, window_s: float, max_keys: int) -> None:
        self._clock = clock
        self._limit = limit
        self._window_s = window_s
        self._max_keys = max_keys
        self._failures: OrderedDict[bytes, deque[float]] = OrderedDict()

    def _recent(self, key: bytes, now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self._window_s:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def check(self, email: str) -> None:
        now = self._clock.monotonic()
        times = self._recent(_sha256(email), now)
        if times is not None and len(times) >= self._limit:
            raise RateLimited(
                "too many failed logins; try again later",
                retry_after=max(1.0, times[0] + self._window_s - now),
            )

    def begin_attempt(self, email: str) -> None:
        """Refuse when the limit is reached; otherwise count this attempt as a failure until a
        success resets the count."""
        self.check(email)
        self.record_failure(email)

    def record_failure(self, email: str) -> None:
        now = self._clock.monotonic()
        key = _sha256(email)
        times = self._recent(key, now)
        if times is None:
            while len(self._failures) >= self._max_keys:
                self._failures.popitem(last=False)
            times = deque(maxlen=self._limit)
            self._failures[key] = times
        times.append(now)
        self._failures.move_to_end(key)

    def reset(self, email: str) -> None:
        self._failures.pop(_sha256(email), None)

    def __len__(self) -> int:
        return len(self._failures)


class AccountService:
    def __init__(
        self,
        storage: Storage,
        tokens: TokenService,
        events: EventPublisher,
        clock: Clock,
        settings: Settings,
    ) -> None:
        self._storage = storage
        self._tokens = tokens
        self._events = events
        self._clock = clock
        self._settings = settings
        self._hasher = PasswordHasher(
            time_cost=settings.auth_hash_time_cost,
            memory_cost=settings.auth_hash_memory_kib,
            parallelism=1,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )
        # Unknown emails are verified against this, so they cost what a wrong secret costs.
        self._dummy_hash = self._hasher.hash(secrets.token_bytes(AUTH_SECRET_BYTES))
        # Key for fake prelogin salts, derived from the server secret with its own label.
        self._salt_key = hmac.new(
            settings.resolved_jwt_secret().encode("utf-8"),
            b"hushroom/v1/prelogin-fake-salt",
            hashlib.sha256,
        ).digest()
        self.throttle = LoginThrottle(
            clock, MAX_FAILED_LOGINS, FAILED_LOGIN_WINDOW_S, MAX_THROTTLED_EMAILS
        )

    def __repr__(self) -> str:
        return "AccountService()"

    # -- password hashing (in a thread: Argon2 must never block the event loop) --

    async def _hash_secret(self, auth_secret: bytes) -> str:
        return await asyncio.to_thread(self._hasher.hash, auth_secret)

    async def _verify_secret(self, auth_hash: str, auth_secret: bytes) -> bool:
        def verify() -> bool:
            try:
                return self._hasher.verify(auth_hash, auth_secret)
            except (VerificationError, InvalidHashError):
                return False

        return await asyncio.to_thread(verify)

    # -- registration and login --

    def fake_salt(self, email: str) -> bytes:
        return hmac.new(self._salt_key, email.encode("utf-8"), hashlib.sha256).digest()[
            :KDF_SALT_BYTES
        ]

    async def prelogin(self, email: str) -> Prelogin:
        email = normalize_email(email)
        async with self._storage.read() as tx:
            user = await tx.users.get_by_email(email)
        if user is None:
            return Prelogin(self.fake_salt(email), dict(MIN_KDF_PARAMS))
        return Prelogin(user.kdf_salt, dict(user.kdf_params))

    async def register(
        self,
        display_name: str,
        email: str,
        kdf_salt: bytes,
        kdf_params: dict[str, Any],
        auth_secret: bytes,
        key_bundle: bytes,
        vault: bytes,
    ) -> UserRecord:
        name = clean_display_name(display_name)
        email = clean_email(email)
        params = clean_kdf_params(kdf_params)
        if len(kdf_salt) != KDF_SALT_BYTES:
            raise ValidationFailed(f"kdf_salt must be {KDF_SALT_BYTES} bytes", field="kdf_salt")
        if len(auth_secret) != AUTH_SECRET_BYTES:
            raise ValidationFailed(
                f"auth_secret must be {AUTH_SECRET_BYTES} bytes", field="auth_secret"
            )
        if not key_bundle:
            raise ValidationFailed("key_bundle is required", field="key_bundle")
        if len(key_bundle) > self._settings.max_key_bundle_bytes:
            raise PayloadTooLarge(
                f"key_bundle is limited to {self._settings.max_key_bundle_bytes} bytes",
                field="key_bundle",
            )
        if not vault:
            raise ValidationFailed("vault is required", field="vault")
        if len(vault) > self._settings.max_vault_bytes:
            raise PayloadTooLarge(
                f"vault is limited to {self._settings.max_vault_bytes} bytes", field="vault"
            )
        record = UserRecord(
            id=uuid.uuid4(),
            email=email,
            display_name=name,
            kdf_salt=kdf_salt,
            kdf_params=params,
            auth_hash=await self._hash_secret(auth_secret),
            key_bundle=key_bundle,
            key_bundle_version=1,
            vault=vault,
            vault_version=1,
            is_admin=False,
            created_at=self._clock.now_ms(),
        )
        async with self._storage.write() as tx:
            created = await tx.users.create(record)
        if not created:
            raise EmailTaken(field="email")
        return record

    async def login(
        self,
        email: str,
        auth_secret: bytes,
        device_name: str | None = None,
        device_id: uuid.UUID | None = None,
    ) -> LoginResult:
        email = normalize_email(email)
        if len(auth_secret) != AUTH_SECRET_BYTES:
            raise ValidationFailed(
                f"auth_secret must be {AUTH_SECRET_BYTES} bytes", field="auth_secret"
            )
        # Counted before verifying, so parallel guesses cannot all slip under the limit.
        self.throttle.begin_attempt(email)
        async with self._storage.read() as tx:
            creds = await tx.users.get_credentials(email)
        # The same work on both paths: one small read, one Argon2 verification, the same error.
        ok = await self._verify_secret(
            creds.auth_hash if creds is not None else self._dummy_hash, auth_secret
        )
        if creds is None or not ok:
            raise InvalidCredentials()
        self.throttle.reset(email)
        new_hash = None
        if self._hasher.check_needs_rehash(creds.auth_hash):
            new_hash = await self._hash_secret(auth_secret)

        now = self._clock.now_ms()
        async with self._storage.write() as tx:
            user = await tx.users.get(creds.user_id)
            if user is None:  # deleted between the check and now
                raise InvalidCredentials()
            if new_hash is not None:
                await tx.users.set_auth_hash(user.id, new_hash)
            device = await tx.devices.get(device_id) if device_id is not None else None
            if device is None or device.user_id != user.id or device.revoked_at is not None:
                device = DeviceRecord(uuid.uuid4(), user.id, clean_device_name(device_name), now)
                await tx.devices.create(device)
            session = SessionRecord(uuid.uuid4(), user.id, device.id, now)
            await tx.sessions.create(session)
            principal = Principal(user.id, device.id, session.id)
            tokens = await self._new_tokens(tx.sessions, principal, now)
        return LoginResult(tokens, user)

    async def _new_tokens(
        self, sessions: SessionRepository, principal: Principal, now: int
    ) -> SessionTokens:
        refresh = secrets.token_urlsafe(32)
        ttl = self._settings.refresh_token_ttl_s
        await sessions.add_refresh_token(
            RefreshTokenRecord(_sha256(refresh), principal.session_id, now, now + ttl * 1000)
        )
        return SessionTokens(
            access_token=self._tokens.issue(principal),
            expires_in=self._tokens.ttl_s,
            refresh_token=refresh,
            refresh_expires_in=ttl,
            principal=principal,
        )

    # -- sessions --

    async def refresh(self, refresh_token: str) -> SessionTokens:
        """Rotate: the presented token is spent and a new one of the same family returned.

        A token presented a second time means it leaked (or a client raced itself): the whole
        family is revoked, so the thief's and the owner's tokens stop working alike.
        """
        if not refresh_token or len(refresh_token) > 200:
            raise TokenInvalid()
        token_hash = _sha256(refresh_token)
        now = self._clock.now_ms()
        reused = False
        tokens: SessionTokens | None = None
        async with self._storage.write() as tx:
            record = await tx.sessions.get_refresh_token(token_hash)
            if record is None:
                raise TokenInvalid()
            session = await tx.sessions.get(record.session_id)
            if session is None or session.revoked_at is not None:
                raise TokenInvalid()
            if record.expires_at <= now and record.used_at is None:
                raise TokenInvalid("the refresh token has expired")
            # The conditional UPDATE catches a concurrent use of the same token as a reuse.
            if record.used_at is not None or not await tx.sessions.use_refresh_token(
                token_hash, now
            ):
                # Committed when the block exits, before the error is raised: it must stick.
                await tx.sessions.revoke(session.id, now)
                reused = True
            else:
                device = await tx.devices.get(session.device_id)
                if device is None or device.revoked_at is not None:
                    raise TokenInvalid()
                principal = Principal(session.user_id, session.device_id, session.id)
                tokens = await self._new_tokens(tx.sessions, principal, now)
        if reused:
            await self._publish_revoked(session.user_id, [session.id])
            raise TokenInvalid()
        assert tokens is not None
        return tokens

    async def logout(self, principal: Principal) -> None:
        async with self._storage.write() as tx:
            revoked = await tx.sessions.revoke(principal.session_id, self._clock.now_ms())
        if revoked:
            await self._publish_revoked(principal.user_id, [principal.session_id])

    async def logout_everywhere(self, principal: Principal) -> list[uuid.UUID]:
        async with self._storage.write() as tx:
            revoked = await tx.sessions.revoke_all(principal.user_id, self._clock.now_ms())
        await self._publish_revoked(principal.user_id, revoked, everywhere=True)
        return revoked

    async def _publish_revoked(
        self, user_id: uuid.UUID, session_ids: list[uuid.UUID], *, everywhere: bool = False
    ) -> None:
        await self._events.publish(
            Event(
                type=SESSION_REVOKED,
                payload={
                    "user_id": str(user_id),
                    "session_ids": sorted(str(s) for s in session_ids),
                    "all": everywhere,
                },
                recipients=frozenset({user_id}),
            )
        )

    async def session_active(self, principal: Principal) -> bool:
        async with self._storage.read() as tx:
            session = await tx.sessions.get(principal.session_id)
        return (
            session is not None
            and session.revoked_at is None
            and session.user_id == principal.user_id
            and session.device_id == principal.device_id
        )

    # -- users --

    async def me(self, principal: Principal) -> UserRecord:
        async with self._storage.read() as tx:
            session = await tx.sessions.get(principal.session_id)
            user = await tx.users.get(principal.user_id)
        if session is None or session.revoked_at is not None or user is None:
            raise TokenInvalid()
        return user

    async def get_user(self, user_id: uuid.UUID) -> UserRecord:
        async with self._storage.read() as tx:
            user = await tx.users.get(user_id)
        if user is None:
            raise NotFound("no such user")
        return user

    async def search_users(self, query: str, limit: int = MAX_SEARCH_RESULTS) -> list[UserRecord]:
        query = query.strip()
        if not query:
            raise ValidationFailed("a search query is required", field="q")
        if len(query) > MAX_SEARCH_QUERY:
            raise ValidationFailed("the search query is too long", field="q")
        limit = max(1, min(limit, MAX_SEARCH_RESULTS))
        async with self._storage.read() as tx:
            return await tx.users.search(query, normalize_email(query), limit)

    # -- WebSocket tickets --

    async def issue_ticket(self, principal: Principal) -> Ticket:
        ticket = secrets.token_urlsafe(32)
        now = self._clock.now_ms()
        ttl = self._settings.ws_ticket_ttl_s
        async with self._storage.write() as tx:
            session = await tx.sessions.get(principal.session_id)
            if (
                session is None
                or session.revoked_at is not None
                or session.user_id != principal.user_id
            ):
                raise TokenInvalid()
            await tx.tickets.delete_expired(now)
            await tx.tickets.create(
                TicketRecord(
                    _sha256(ticket),
                    principal.user_id,
                    principal.device_id,
                    principal.session_id,
                    now + ttl * 1000,
                )
            )
        return Ticket(ticket, ttl)

    async def redeem_ticket(self, ticket: str) -> Principal:
        """Single use: the ticket is deleted whether or not it is still valid."""
        if not ticket or len(ticket) > 200:
            raise TokenInvalid()
        now = self._clock.now_ms()
        async with self._storage.write() as tx:
            record = await tx.tickets.take(_sha256(ticket))
            session = await tx.sessions.get(record.session_id) if record is not None else None
        if (
            record is None
            or record.expires_at <= now
            or session is None
            or session.revoked_at is not None
        ):
            raise TokenInvalid()
        return Principal(record.user_id, record.device_id, record.session_id)
