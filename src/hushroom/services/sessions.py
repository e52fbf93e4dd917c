"""Sessions: login, refresh-token rotation, logout (here, everywhere, one device) and single-use
WebSocket tickets.

Responses and timing never reveal whether an email is registered: a login for an unknown email
verifies against a dummy hash before failing exactly like a wrong secret.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hushroom import access
from hushroom.clock import Clock
from hushroom.config import Settings
from hushroom.errors import InvalidCredentials, TokenInvalid
from hushroom.events.event import Event
from hushroom.events.publisher import EventPublisher
from hushroom.principal import Principal
from hushroom.services.account_input import (
    AUTH_SECRET_BYTES,
    check_size,
    clean_device_name,
    normalize_email,
)
from hushroom.services.auth_hash import AuthHasher
from hushroom.services.rate_limits import UNKNOWN_ADDRESS, RateLimits
from hushroom.services.revocations import SESSION_REVOKED as SESSION_REVOKED
from hushroom.services.revocations import Revocations
from hushroom.services.tokens import TokenService
from hushroom.storage.accounts import (
    DeviceRecord,
    RefreshTokenRecord,
    SessionRecord,
    SessionRepository,
    TicketRecord,
    UserRecord,
)
from hushroom.storage.unit import Repos, Storage

_SUCCESSOR_LABEL = b"hushroom/v1/refresh-successor"


def token_digest(value: str) -> bytes:
    """How opaque tokens are stored: their SHA-256, never the token."""
    return hashlib.sha256(value.encode("utf-8")).digest()


def _successor_key(token: str) -> bytes:
    # Only a holder of the rotated token can open its successor: the database alone cannot.
    return hashlib.sha256(_SUCCESSOR_LABEL + token.encode("utf-8")).digest()


def _seal_successor(token: str, successor: str) -> bytes:
    nonce = secrets.token_bytes(12)
    return nonce + AESGCM(_successor_key(token)).encrypt(nonce, successor.encode("utf-8"), None)


def _open_successor(token: str, sealed: bytes) -> str | None:
    try:
        plain = AESGCM(_successor_key(token)).decrypt(sealed[:12], sealed[12:], None)
    except (InvalidTag, ValueError):
        return None
    return plain.decode("utf-8")


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
    device: DeviceRecord


@dataclass(frozen=True, slots=True)
class Ticket:
    ticket: str = field(repr=False)
    expires_in: int


async def live_session(tx: Repos, principal: Principal) -> SessionRecord:
    """The principal's session, refused when revoked or not the principal's (sensitive routes
    check this instead of trusting a still-valid access token)."""
    session = await tx.sessions.get(principal.session_id)
    if (
        session is None
        or session.revoked_at is not None
        or session.user_id != principal.user_id
        or session.device_id != principal.device_id
    ):
        raise TokenInvalid()
    return session


class SessionService:
    def __init__(
        self,
        storage: Storage,
        tokens: TokenService,
        hasher: AuthHasher,
        events: EventPublisher,
        clock: Clock,
        settings: Settings,
        *,
        limits: RateLimits,
        revocations: Revocations,
    ) -> None:
        self._storage = storage
        self._tokens = tokens
        self._hasher = hasher
        self._events = events
        self._clock = clock
        self._settings = settings
        self.limits = limits
        self.revocations = revocations
        # Expired tickets are swept once per ticket lifetime, not on every issue: a stale row
        # is refused on redeem anyway, and a delete per ticket was a tenth of a ticket's cost.
        self._tickets_swept_at_ms = 0

    def __repr__(self) -> str:
        return "SessionService()"

    async def login(
        self,
        email: str,
        auth_secret: bytes,
        device_name: str | None = None,
        device_id: uuid.UUID | None = None,
        *,
        address: str = UNKNOWN_ADDRESS,
    ) -> LoginResult:
        """`address`: the client's (services/rate_limits.py); guesses count against it and
        against (address, email), never against the email alone."""
        email = normalize_email(email)
        check_size(auth_secret, AUTH_SECRET_BYTES, "auth_secret")
        # Counted before the Argon2 verification (a refused guess costs no hash), and as a
        # failure until it succeeds, so parallel guesses cannot all slip under the limit.
        await self.limits.login_attempt(address, email)
        async with self._storage.read() as tx:
            creds = await tx.users.get_credentials(email)
        # The same work on both paths: one small read, one Argon2 verification, the same error.
        # An account created through a sign-in provider has no password to sign in with (its
        # hash belongs to the chat passphrase): it verifies against nothing, like an unknown one.
        stored = creds.auth_hash if creds is not None and creds.password_login else None
        if not await self._hasher.verify(stored, auth_secret):
            raise InvalidCredentials()
        assert creds is not None
        await self.limits.login_succeeded(address, email)
        new_hash = None
        if self._hasher.needs_rehash(creds.auth_hash):
            new_hash = await self._hasher.hash(auth_secret)

        now = self._clock.now_ms()
        async with self._storage.write() as tx:
            user = await tx.users.get(creds.user_id)
            if user is None:  # deleted between the check and now
                raise InvalidCredentials()
            # Only after the password verified: a wrong one still gets invalid_credentials, so
            # a disabled account reveals nothing to someone who does not know its password.
            access.require_enabled(user)
            if new_hash is not None:
                await tx.users.set_auth_hash(user.id, new_hash)
            return await self.open_session(tx, user, device_id, device_name, now)

    async def open_session(
        self,
        tx: Repos,
        user: UserRecord,
        device_id: uuid.UUID | None,
        device_name: str | None,
        now: int,
        *,
        provider: str | None = None,
    ) -> LoginResult:
        """A new session (refresh-token family) for a user who proved who they are: by password,
        or through the sign-in provider `provider`. Reuses this browser's device when it is the
        user's and live; otherwise a new, uncertified device."""
        device = await tx.devices.get(device_id) if device_id is not None else None
        if device is None or device.user_id != user.id or device.revoked_at is not None:
            device = DeviceRecord(uuid.uuid4(), user.id, clean_device_name(device_name), now)
            await tx.devices.create(device)
        await tx.devices.touch(device.id, now)
        session = SessionRecord(uuid.uuid4(), user.id, device.id, now, provider=provider)
        await tx.sessions.create(session)
        principal = Principal(user.id, device.id, session.id)
        tokens = await self._new_tokens(tx.sessions, principal, now)
        return LoginResult(tokens, user, device)

    async def _new_tokens(
        self, sessions: SessionRepository, principal: Principal, now: int
    ) -> SessionTokens:
        refresh = secrets.token_urlsafe(32)
        ttl = self._settings.refresh_token_ttl_s
        await sessions.add_refresh_token(
            RefreshTokenRecord(token_digest(refresh), principal.session_id, now, now + ttl * 1000)
        )
        return self._tokens_for(principal, refresh)

    def _tokens_for(self, principal: Principal, refresh: str) -> SessionTokens:
        return SessionTokens(
            access_token=self._tokens.issue(principal),
            expires_in=self._tokens.ttl_s,
            refresh_token=refresh,
            refresh_expires_in=self._settings.refresh_token_ttl_s,
            principal=principal,
        )

    async def refresh(self, refresh_token: str) -> SessionTokens:
        """Rotate: the presented token is spent and a new one of the same family returned.

        A token presented a second time means it leaked (or a client raced itself): the whole
        family is revoked, so the thief's and the owner's tokens stop working alike. Within the
        grace window a second presentation gets the same successor instead (two tabs that
        refreshed at once), as long as that successor is still unused.
        """
        if not refresh_token or len(refresh_token) > 200:
            raise TokenInvalid()
        token_hash = token_digest(refresh_token)
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
            device = await tx.devices.get(session.device_id)
            if device is None or device.revoked_at is not None:
                raise TokenInvalid()
            # Disabling revokes every session; this catches one a racing login made meanwhile.
            user = await tx.users.get(session.user_id)
            if user is None:
                raise TokenInvalid()
            access.require_enabled(user)
            principal = Principal(session.user_id, session.device_id, session.id)
            # The conditional UPDATE catches a concurrent use of the same token as a reuse.
            if record.used_at is None and await tx.sessions.use_refresh_token(token_hash, now):
                tokens = await self._new_tokens(tx.sessions, principal, now)
                await tx.sessions.set_successor(
                    token_hash, _seal_successor(refresh_token, tokens.refresh_token)
                )
                await tx.devices.touch(session.device_id, now)
            else:
                tokens = await self._grace_successor(tx, refresh_token, principal, now)
                if tokens is None:
                    # Committed when the block exits, before the error is raised: it must stick.
                    await tx.sessions.revoke(session.id, now)
                    reused = True
        if reused:
            await self.publish_revoked(session.user_id, [session.id])
            raise TokenInvalid()
        assert tokens is not None
        return tokens

    async def _grace_successor(
        self, tx: Repos, refresh_token: str, principal: Principal, now: int
    ) -> SessionTokens | None:
        # Re-read: a racing use may have committed after our first read (READ COMMITTED).
        record = await tx.sessions.get_refresh_token(token_digest(refresh_token))
        grace_ms = self._settings.refresh_reuse_grace_s * 1000
        if (
            record is None
            or record.used_at is None
            or now - record.used_at > grace_ms
            or record.successor_sealed is None
        ):
            return None
        successor = _open_successor(refresh_token, record.successor_sealed)
        if successor is None:
            return None
        next_record = await tx.sessions.get_refresh_token(token_digest(successor))
        if next_record is None or next_record.used_at is not None:
            return None
        return self._tokens_for(principal, successor)

    async def logout(self, principal: Principal) -> None:
        async with self._storage.write() as tx:
            revoked = await tx.sessions.revoke(principal.session_id, self._clock.now_ms())
        if revoked:
            await self.publish_revoked(principal.user_id, [principal.session_id])

    async def logout_everywhere(self, principal: Principal) -> list[uuid.UUID]:
        async with self._storage.write() as tx:
            revoked = await tx.sessions.revoke_all(principal.user_id, self._clock.now_ms())
        await self.publish_revoked(principal.user_id, revoked, everywhere=True)
        return revoked

    async def publish_revoked(
        self, user_id: uuid.UUID, session_ids: list[uuid.UUID], *, everywhere: bool = False
    ) -> None:
        """After the commit that revoked them: their access tokens are refused at once on
        every node (services/revocations.py), and the user's sockets of the named sessions
        close (gateway/protocol.py)."""
        await self.revocations.revoked(user_id, session_ids)
        if not session_ids and not everywhere:
            return
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

    # -- WebSocket tickets --

    async def issue_ticket(self, principal: Principal) -> Ticket:
        """Refused (TokenInvalid) when the principal's session is revoked or not theirs, as a
        sensitive route is; the check and the insert are one statement."""
        ticket = secrets.token_urlsafe(32)
        now = self._clock.now_ms()
        ttl = self._settings.ws_ticket_ttl_s
        sweep = now - self._tickets_swept_at_ms >= ttl * 1000
        if sweep:
            self._tickets_swept_at_ms = now
        async with self._storage.write() as tx:
            if sweep:
                await tx.tickets.delete_expired(now)
            stored = await tx.tickets.create_if_session_live(
                TicketRecord(
                    token_digest(ticket),
                    principal.user_id,
                    principal.device_id,
                    principal.session_id,
                    now + ttl * 1000,
                )
            )
        if not stored:
            raise TokenInvalid()
        return Ticket(ticket, ttl)

    async def redeem_ticket(self, ticket: str) -> Principal:
        """Single use: the ticket is deleted whether or not it is still valid."""
        if not ticket or len(ticket) > 200:
            raise TokenInvalid()
        now = self._clock.now_ms()
        async with self._storage.write() as tx:
            taken = await tx.tickets.take(token_digest(ticket))
        if taken is None:
            raise TokenInvalid()
        record, session_live = taken
        if record.expires_at <= now or not session_live:
            raise TokenInvalid()
        return Principal(record.user_id, record.device_id, record.session_id)
