"""The sign-in providers the operator configured, spoken to through Authlib's Starlette client
(docs/decisions/0007).

Two kinds: `oidc` (any OpenID Connect issuer by discovery, Google included) and `facebook`
(Facebook Login's OAuth 2 dialog and the Graph API's `/me`, version in config.py). Both use the
authorization code flow with PKCE (S256) and a `state`; OIDC adds a `nonce` and a verified ID
token (signature under the issuer's JWKS, `iss`, `aud`, `exp`, `iat`, `nonce`).

This module does the provider's HTTP and nothing else: it returns what the provider vouches for
(`ProviderIdentity`), and every failure as a `SignInFailed` with a stable code. Provider tokens
never leave it, and no error message carries one (a dependency's message may: they are dropped).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import Any

import httpx2
from authlib.integrations.base_client import OAuthError
from authlib.integrations.starlette_client import OAuth, StarletteOAuth2App
from joserfc.errors import JoseError

from hushroom.config import SignInProvider
from hushroom.errors import (
    EmailNotVerified,
    IdTokenInvalid,
    ProviderCancelled,
    ProviderError,
    ProviderUnknown,
    ProviderUnreachable,
    SignInFailed,
)

log = logging.getLogger("hushroom.sign_in")

# Clock skew tolerated on `exp`/`iat` of ID tokens.
ID_TOKEN_LEEWAY_S = 60
_FACEBOOK_FIELDS = "id,name,email"


@dataclass(frozen=True, slots=True)
class ProviderIdentity:
    """What a provider vouches for after a completed sign-in."""

    provider: str
    subject: str
    # None when the provider gave no email (Facebook without one).
    email: str | None
    email_verified: bool
    name: str | None

    def require_verified_email(self) -> str:
        if self.email is None or not self.email_verified:
            raise EmailNotVerified()
        return self.email


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """Where to send the browser, with the secrets the callback needs again."""

    state: str
    nonce: str
    code_verifier: str


class SignInProviders:
    """The configured providers by id, each an Authlib Starlette OAuth 2 client."""

    def __init__(self, providers: list[SignInProvider], *, timeout_s: float) -> None:
        self._config = {p.id: p for p in providers}
        self._oauth = OAuth()
        self._apps: dict[str, StarletteOAuth2App] = {}
        for p in providers:
            self._apps[p.id] = self._register(p, timeout_s)

    def __repr__(self) -> str:
        return f"SignInProviders({sorted(self._config)})"

    def _register(self, p: SignInProvider, timeout_s: float) -> StarletteOAuth2App:
        client_kwargs: dict[str, Any] = {"code_challenge_method": "S256", "timeout": timeout_s}
        secret = p.client_secret.get_secret_value()
        if p.kind == "facebook":
            client_kwargs["scope"] = "email public_profile"
            client_kwargs["token_endpoint_auth_method"] = "client_secret_post"  # noqa: S105
            app = self._oauth.register(
                p.id,
                client_id=p.client_id,
                client_secret=secret,
                authorize_url=p.dialog_url,
                access_token_url=f"{p.graph_url}/oauth/access_token",
                api_base_url=f"{p.graph_url}/",
                client_kwargs=client_kwargs,
            )
        else:
            assert p.issuer is not None  # config.py checks it
            client_kwargs["scope"] = p.scopes
            app = self._oauth.register(
                p.id,
                client_id=p.client_id,
                client_secret=secret,
                server_metadata_url=f"{p.issuer.rstrip('/')}/.well-known/openid-configuration",
                client_kwargs=client_kwargs,
            )
        assert isinstance(app, StarletteOAuth2App)
        return app

    def configured(self) -> list[SignInProvider]:
        return list(self._config.values())

    def get(self, provider_id: str) -> SignInProvider:
        p = self._config.get(provider_id)
        if p is None:
            raise ProviderUnknown()
        return p

    async def authorization_url(
        self, provider_id: str, redirect_uri: str, request: AuthorizationRequest
    ) -> str:
        """The provider's authorization URL for this request (discovery first, for OIDC)."""
        p = self.get(provider_id)
        app = self._apps[provider_id]
        kwargs: dict[str, Any] = {
            "state": request.state,
            "code_verifier": request.code_verifier,
        }
        if p.kind == "oidc":
            kwargs["nonce"] = request.nonce
        async with _provider_calls(provider_id, "discovery"):
            if p.kind == "oidc":
                await self._metadata(p, app)
            rv = await app.create_authorization_url(redirect_uri, **kwargs)
        return str(rv["url"])

    async def complete(
        self,
        provider_id: str,
        redirect_uri: str,
        params: dict[str, str],
        request: AuthorizationRequest,
    ) -> ProviderIdentity:
        """Redeem the callback's code (PKCE) and return who the provider says signed in."""
        p = self.get(provider_id)
        app = self._apps[provider_id]
        if "error" in params:
            if params["error"] in ("access_denied", "user_cancelled_login", "consent_required"):
                raise ProviderCancelled()
            raise ProviderError()
        code = params.get("code")
        if not code:
            raise ProviderError("the provider sent no authorization code")
        async with _provider_calls(provider_id, "token"):
            token = await app.fetch_access_token(
                redirect_uri=redirect_uri, code=code, code_verifier=request.code_verifier
            )
        if not isinstance(token, dict) or not token.get("access_token"):
            raise ProviderError()
        if p.kind == "facebook":
            return await self._facebook_profile(p, app, token)
        return await self._verified_id_token(p, app, token, request.nonce)

    async def _metadata(self, p: SignInProvider, app: StarletteOAuth2App) -> dict[str, Any]:
        metadata: dict[str, Any] = await app.load_server_metadata()
        # OpenID Connect Discovery §4.3: the document's issuer must be the one configured.
        if metadata.get("issuer", "").rstrip("/") != (p.issuer or "").rstrip("/"):
            app.server_metadata.clear()
            raise ProviderError("the provider's discovery document names another issuer")
        # Never an unsigned ID token, whatever the document offers.
        algs = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        metadata["id_token_signing_alg_values_supported"] = [
            a for a in algs if isinstance(a, str) and a.lower() != "none"
        ] or ["RS256"]
        return metadata

    async def _verified_id_token(
        self, p: SignInProvider, app: StarletteOAuth2App, token: dict[str, Any], nonce: str
    ) -> ProviderIdentity:
        if not token.get("id_token"):
            raise IdTokenInvalid("the provider sent no ID token")
        async with _provider_calls(p.id, "id_token"):
            await self._metadata(p, app)
            claims = await app.parse_id_token(token, nonce, leeway=ID_TOKEN_LEEWAY_S)
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject or len(subject) > 255:
            raise IdTokenInvalid("the ID token names no subject")
        email = claims.get("email")
        verified = claims.get("email_verified")
        return ProviderIdentity(
            provider=p.id,
            subject=subject,
            email=email if isinstance(email, str) and email else None,
            email_verified=verified is True or verified == "true" or p.trust_email,
            name=_name(claims.get("name")),
        )

    async def _facebook_profile(
        self, p: SignInProvider, app: StarletteOAuth2App, token: dict[str, Any]
    ) -> ProviderIdentity:
        access_token = str(token["access_token"])
        # Graph API: `appsecret_proof` proves the call comes from the app's server.
        proof = hmac.new(
            p.client_secret.get_secret_value().encode(), access_token.encode(), hashlib.sha256
        ).hexdigest()
        async with _provider_calls(p.id, "profile"):
            resp = await app.get(
                "me", token=token, params={"fields": _FACEBOOK_FIELDS, "appsecret_proof": proof}
            )
            if resp.status_code != 200:
                raise ProviderError()
            profile = resp.json()
        if not isinstance(profile, dict):
            raise ProviderError()
        subject = profile.get("id")
        if not isinstance(subject, str) or not subject or len(subject) > 255:
            raise ProviderError("the provider's profile has no id")
        email = profile.get("email")
        # Facebook returns only a confirmed primary email, or none at all.
        return ProviderIdentity(
            provider=p.id,
            subject=subject,
            email=email if isinstance(email, str) and email else None,
            email_verified=isinstance(email, str) and bool(email),
            name=_name(profile.get("name")),
        )


def _name(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return value.strip()[:64] or None


def _kind(exc: BaseException) -> str:
    # The exception's class only: messages of HTTP and JOSE errors may quote tokens or URLs.
    return type(exc).__name__


class _provider_calls:
    """Maps what can go wrong talking to a provider onto stable sign-in errors."""

    def __init__(self, provider_id: str, step: str) -> None:
        self._provider = provider_id
        self._step = step

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: Any, tb: Any) -> bool:
        if exc is None or isinstance(exc, SignInFailed):
            return False
        fields = {"provider": self._provider, "step": self._step, "why": _kind(exc)}
        if self._step == "id_token" and isinstance(
            exc, JoseError | ValueError | KeyError | TypeError
        ):
            log.info("sign-in ID token refused: %(why)s", fields)
            raise IdTokenInvalid() from None
        if isinstance(exc, httpx2.TransportError):
            log.warning("sign-in provider %(provider)s unreachable (%(step)s): %(why)s", fields)
            raise ProviderUnreachable() from None
        if isinstance(exc, httpx2.HTTPStatusError):
            log.warning("sign-in provider %(provider)s answered an HTTP error (%(step)s)", fields)
            if self._step in ("discovery", "id_token"):
                raise ProviderUnreachable() from None
            raise ProviderError() from None
        if isinstance(exc, OAuthError | JoseError):
            log.info("sign-in provider %(provider)s refused (%(step)s): %(why)s", fields)
            if isinstance(exc, JoseError):
                raise IdTokenInvalid() from None
            raise ProviderError() from None
        if isinstance(exc, ValueError | KeyError | TypeError | RuntimeError):
            # Malformed JSON or a document without a required field.
            log.warning(
                "sign-in provider %(provider)s sent a malformed answer (%(step)s): %(why)s", fields
            )
            raise ProviderError() from None
        return False
