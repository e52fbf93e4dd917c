"""Signing in, signing up and linking accounts through sign-in providers (docs/decisions/0007).

A flow starts with `start` (the browser is sent to the provider with a `state`, PKCE and, for
OpenID Connect, a `nonce`) and ends with `callback`, which takes the flow exactly once and ends in
one of three outcomes, or in a `SignInFailed` that leaves nothing behind:

- `SignedIn`: the provider identity is linked to an account; a session like a password login's.
- `SignupPending`: a first sign-in. No account exists yet: the browser creates the keys, asks for
  a chat passphrase and shows the recovery code, then `complete_signup` creates the account, the
  link and the session in one transaction (decision 0003: an account exists fully keyed or not).
- `Linked`: the identity now signs in to the signed-in account that asked (from its settings,
  with its password or passphrase confirmed).

Accounts are never matched by email: a first sign-in whose email already has an account is
refused (`account_exists`) and the user links the provider from that account's settings.

The nonce and the PKCE verifier are derived from the `state` under a server key, so the database
keeps only hashes: a copy of it completes no flow. The browser-binding cookie ties the callback to
the browser that started the flow (login CSRF).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass, field, replace

from hushroom import access
from hushroom.clock import Clock
from hushroom.config import SignInProvider
from hushroom.errors import (
    AccountExists,
    IdentityLinkedElsewhere,
    LastSignInMethod,
    NotFound,
    SignInStateInvalid,
    SignupExpired,
)
from hushroom.principal import Principal
from hushroom.services.account_input import clean_device_name, normalize_email
from hushroom.services.accounts import AccountService, Registration
from hushroom.services.key_material import NewIdentity
from hushroom.services.keys import KeyService
from hushroom.services.sessions import LoginResult, SessionService, live_session, token_digest
from hushroom.services.sign_in_providers import (
    AuthorizationRequest,
    ProviderIdentity,
    SignInProviders,
)
from hushroom.storage.identities import (
    IdentityLinkRecord,
    Intent,
    PendingSignupRecord,
    SignInFlowRecord,
)
from hushroom.storage.unit import Repos, Storage

_FLOW_LABEL = b"hushroom/v1/sign-in-flow"


@dataclass(frozen=True, slots=True)
class Started:
    authorization_url: str
    # The browser-binding cookie's value: a secret, never logged.
    binding: str = field(repr=False)
    expires_in: int


@dataclass(frozen=True, slots=True)
class SignedIn:
    login: LoginResult


@dataclass(frozen=True, slots=True)
class SignupPending:
    # The sign-up cookie's value: a secret, never logged.
    token: str = field(repr=False)
    expires_in: int


@dataclass(frozen=True, slots=True)
class Linked:
    provider: str


Outcome = SignedIn | SignupPending | Linked


@dataclass(frozen=True, slots=True)
class SignInMethods:
    password: bool
    identities: list[IdentityLinkRecord]


class SocialLoginService:
    def __init__(
        self,
        storage: Storage,
        providers: SignInProviders,
        accounts: AccountService,
        sessions: SessionService,
        keys: KeyService,
        clock: Clock,
        *,
        secret: str,
        flow_ttl_s: int,
        signup_ttl_s: int,
    ) -> None:
        self._storage = storage
        self._providers = providers
        self._accounts = accounts
        self._sessions = sessions
        self._keys = keys
        self._clock = clock
        self._flow_key = hmac.new(secret.encode("utf-8"), _FLOW_LABEL, hashlib.sha256).digest()
        self._flow_ttl_s = flow_ttl_s
        self._signup_ttl_s = signup_ttl_s

    def __repr__(self) -> str:
        return "SocialLoginService()"

    def providers(self) -> list[SignInProvider]:
        return self._providers.configured()

    def provider_name(self, provider_id: str) -> str:
        """The configured display name; the id of a provider no longer configured."""
        for p in self._providers.configured():
            if p.id == provider_id:
                return p.name
        return provider_id

    def _request(self, state: str) -> AuthorizationRequest:
        def derived(label: bytes) -> str:
            mac = hmac.new(self._flow_key, label + state.encode("utf-8"), hashlib.sha256)
            return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")

        # 43 characters each: a valid PKCE verifier (RFC 7636 §4.1) and a 256-bit nonce.
        return AuthorizationRequest(state, derived(b"nonce"), derived(b"pkce"))

    # -- the flow --

    async def start(
        self,
        provider_id: str,
        intent: Intent,
        redirect_uri: str,
        *,
        principal: Principal | None = None,
        auth_secret: bytes | None = None,
        device_id: uuid.UUID | None = None,
        device_name: str | None = None,
        address: str,
    ) -> Started:
        """A `link` needs the signed-in account's session and its password (or passphrase), so
        a stolen session alone cannot attach an attacker's provider account."""
        self._providers.get(provider_id)
        user_id = None
        if intent == "link":
            if principal is None or auth_secret is None:
                raise SignInStateInvalid("linking needs a session and the password")
            await self._keys.confirm_secret(principal, auth_secret, address=address)
            user_id = principal.user_id
        state = secrets.token_urlsafe(32)
        binding = secrets.token_urlsafe(32)
        url = await self._providers.authorization_url(
            provider_id, redirect_uri, self._request(state)
        )
        now = self._clock.now_ms()
        async with self._storage.write() as tx:
            await tx.sign_in_flows.delete_expired(now)
            await tx.sign_in_flows.create(
                SignInFlowRecord(
                    state_hash=token_digest(state),
                    provider=provider_id,
                    intent=intent,
                    binding_hash=token_digest(binding),
                    user_id=user_id,
                    device_id=device_id,
                    device_name=clean_device_name(device_name) if device_name else None,
                    created_at=now,
                    expires_at=now + self._flow_ttl_s * 1000,
                )
            )
        return Started(url, binding, self._flow_ttl_s)

    async def callback(
        self,
        provider_id: str,
        params: dict[str, str],
        binding: str | None,
        redirect_uri: str,
    ) -> Outcome:
        """The provider sent the browser back. The flow is taken first (whatever happens next,
        its state cannot be redeemed again), then checked against this browser's cookie."""
        state = params.get("state") or ""
        now = self._clock.now_ms()
        async with self._storage.write() as tx:
            flow = await tx.sign_in_flows.take(token_digest(state)) if state else None
        if (
            flow is None
            or flow.provider != provider_id
            or flow.expires_at <= now
            or binding is None
            or not hmac.compare_digest(flow.binding_hash, token_digest(binding))
        ):
            raise SignInStateInvalid()
        identity = await self._providers.complete(
            provider_id, redirect_uri, params, self._request(state)
        )
        if flow.intent == "link":
            assert flow.user_id is not None
            return await self._link(flow.user_id, identity)
        return await self._sign_in(flow, identity)

    async def _sign_in(self, flow: SignInFlowRecord, identity: ProviderIdentity) -> Outcome:
        now = self._clock.now_ms()
        async with self._storage.write() as tx:
            link = await tx.identities.get(identity.provider, identity.subject)
            if link is not None:
                user = await tx.users.get(link.user_id)
                if user is None:
                    raise NotFound("no such user")
                access.require_enabled(user)
                await tx.identities.touch(identity.provider, identity.subject, now)
                login = await self._sessions.open_session(
                    tx, user, flow.device_id, flow.device_name, now, provider=identity.provider
                )
                return SignedIn(login)
            email = normalize_email(identity.require_verified_email())
            if await tx.users.get_by_email(email) is not None:
                raise AccountExists()
            token = secrets.token_urlsafe(32)
            await tx.pending_signups.delete_expired(now)
            await tx.pending_signups.create(
                PendingSignupRecord(
                    token_hash=token_digest(token),
                    provider=identity.provider,
                    subject=identity.subject,
                    email=email,
                    display_name=identity.name or email.split("@", 1)[0],
                    device_name=flow.device_name,
                    created_at=now,
                    expires_at=now + self._signup_ttl_s * 1000,
                )
            )
        return SignupPending(token, self._signup_ttl_s)

    async def _link(self, user_id: uuid.UUID, identity: ProviderIdentity) -> Outcome:
        now = self._clock.now_ms()
        async with self._storage.write() as tx:
            user = await tx.users.get(user_id)
            if user is None:
                raise NotFound("no such user")
            access.require_enabled(user)
            existing = await tx.identities.get(identity.provider, identity.subject)
            if existing is not None:
                if existing.user_id != user_id:
                    raise IdentityLinkedElsewhere()
                return Linked(identity.provider)
            added = await tx.identities.add(
                IdentityLinkRecord(
                    identity.provider, identity.subject, user_id, identity.email, now
                )
            )
            if not added:  # linked concurrently, to whom we cannot tell: refuse
                raise IdentityLinkedElsewhere()
        return Linked(identity.provider)

    # -- first sign-in: the account's keys --

    async def pending_signup(self, token: str | None) -> PendingSignupRecord:
        async with self._storage.read() as tx:
            pending = await tx.pending_signups.get(token_digest(token)) if token else None
        if pending is None or pending.expires_at <= self._clock.now_ms():
            raise SignupExpired()
        return pending

    async def complete_signup(self, token: str | None, r: Registration) -> LoginResult:
        """The account (under the chat passphrase), its link and a session, all at once. The
        email is the provider's, verified; whatever the browser sent is ignored."""
        pending = await self.pending_signup(token)
        registration = Registration(
            user_id=r.user_id,
            display_name=r.display_name,
            identity=_with_email(r, pending.email),
        )
        new = await self._accounts.prepare(registration, password_login=False)
        now = self._clock.now_ms()
        async with self._storage.write() as tx:
            taken = await tx.pending_signups.take(pending.token_hash)
            if taken is None or taken.expires_at <= now:
                raise SignupExpired()
            await self._accounts.insert(tx, new)
            if not await tx.identities.add(
                IdentityLinkRecord(
                    taken.provider, taken.subject, new.user.id, taken.email, now, now
                )
            ):
                raise IdentityLinkedElsewhere()
            return await self._sessions.open_session(
                tx, new.user, new.device.id, None, now, provider=taken.provider
            )

    # -- the account's sign-in methods --

    async def sign_in_methods(self, principal: Principal) -> SignInMethods:
        async with self._storage.read() as tx:
            return await _methods(tx, principal)

    async def unlink(self, principal: Principal, provider_id: str) -> None:
        """Refused when it would leave the account no way to sign in."""
        async with self._storage.write() as tx:
            methods = await _methods(tx, principal)
            mine = [link for link in methods.identities if link.provider == provider_id]
            if not mine:
                raise NotFound("this provider is not linked to the account")
            if not methods.password and len(mine) == len(methods.identities):
                raise LastSignInMethod()
            await tx.identities.remove(principal.user_id, provider_id)


async def _methods(tx: Repos, principal: Principal) -> SignInMethods:
    await live_session(tx, principal)
    user = await tx.users.get(principal.user_id)
    if user is None:
        raise NotFound("no such user")
    return SignInMethods(user.password_login, await tx.identities.for_user(principal.user_id))


def _with_email(r: Registration, email: str) -> NewIdentity:
    return replace(r.identity, email=email)
