"""Sign-in providers over HTTP (thin routes over SocialLoginService; docs/decisions/0007).

The browser starts a flow with a POST (so a `link` can carry the access token and the password's
auth secret), goes to the provider, and comes back to the callback, which answers with a redirect
to the web app's `/auth/provider` page. That redirect carries only an outcome and, on failure, a
stable error code: never a token. Secrets travel in HttpOnly cookies:

- `__Host-hushroom_signin`: binds the callback to the browser that started the flow. SameSite=Lax,
  because the provider's redirect back is a cross-site top-level navigation.
- `__Host-hushroom_signup`: a first sign-in waiting for the browser's keys (SameSite=Strict; only
  the web app's own requests read it).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field, StrictBool

from hushroom.api.abuse import AddressDep, Limit
from hushroom.api.auth import (
    DeviceIn,
    Kdf,
    KeysIn,
    LoginOut,
    set_refresh_cookie,
    tokens_view,
)
from hushroom.api.b64 import B64Url, decode_b64url
from hushroom.api.deps import ContainerDep, OptionalPrincipalDep, PrincipalDep, SameOrigin
from hushroom.api.schemas import Strict
from hushroom.errors import HushroomError
from hushroom.services.accounts import Registration
from hushroom.services.key_material import NewIdentity
from hushroom.services.social_login import Linked, SignedIn, SignupPending

router = APIRouter(prefix="/api/v1", tags=["sign-in providers"])

BINDING_COOKIE = "__Host-hushroom_signin"
SIGNUP_COOKIE = "__Host-hushroom_signup"
# The web app's page that shows the outcome (web/src/features/auth/provider-return-page.tsx).
RETURN_PAGE = "/auth/provider"

ProviderId = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z0-9-]+$")]


class ProviderOut(BaseModel):
    id: str
    name: str
    kind: Literal["oidc", "facebook"]


class ProvidersOut(BaseModel):
    providers: list[ProviderOut]


class StartIn(Strict):
    intent: Literal["sign_in", "link"]
    # This browser's device, if it has one (a sign-in then reuses it).
    device_id: uuid.UUID | None = None
    device_name: str | None = Field(default=None, max_length=100)
    # `link` only: the account's password (or chat passphrase) auth secret.
    auth_secret: B64Url | None = Field(default=None, max_length=64)


class StartOut(BaseModel):
    authorization_url: str
    expires_in: int


class SignupOut(BaseModel):
    provider: str
    provider_name: str
    email: str
    display_name: str
    expires_in: int


class SignupIn(KeysIn):
    """A first sign-in's account: the keys as at registration, wrapped by the chat passphrase
    (its Argon2id parameters and auth secret), and this browser's certified device. The email
    is the provider's."""

    user_id: uuid.UUID
    display_name: str = Field(min_length=1, max_length=256)
    kdf: Kdf
    auth_secret: B64Url = Field(max_length=64)
    device: DeviceIn
    return_refresh_token: StrictBool = False


class IdentityOut(BaseModel):
    provider: str
    provider_name: str
    email: str | None
    linked_at: int
    last_used_at: int | None


class SignInMethodsOut(BaseModel):
    password: bool
    identities: list[IdentityOut]


def redirect_uri(request: Request, public_url: str | None, provider_id: str) -> str:
    base = public_url.rstrip("/") if public_url else str(request.base_url).rstrip("/")
    return f"{base}/api/v1/auth/providers/{provider_id}/callback"


def _return_to(query: dict[str, str]) -> RedirectResponse:
    response = RedirectResponse(f"{RETURN_PAGE}?{urlencode(query)}", status_code=303)
    response.headers["Cache-Control"] = "no-store"
    # The provider's pages must not learn where the user goes next.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _cookie(
    response: Response, name: str, value: str, max_age: int, samesite: Literal["lax", "strict"]
) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path="/", secure=True, httponly=True, samesite=samesite
    )


@router.get("/auth/providers", response_model=ProvidersOut)
async def providers(c: ContainerDep) -> dict[str, Any]:
    return {
        "providers": [
            {"id": p.id, "name": p.name, "kind": p.kind} for p in c.social_login.providers()
        ]
    }


@router.post(
    "/auth/providers/{provider_id}/start",
    response_model=StartOut,
    dependencies=[SameOrigin, Limit("provider_sign_in")],
)
async def start(
    c: ContainerDep,
    request: Request,
    provider_id: ProviderId,
    body: StartIn,
    response: Response,
    addr: AddressDep,
    principal: OptionalPrincipalDep,
) -> dict[str, Any]:
    started = await c.social_login.start(
        provider_id,
        body.intent,
        redirect_uri(request, c.settings.public_url, provider_id),
        principal=principal,
        auth_secret=decode_b64url(body.auth_secret) if body.auth_secret else None,
        device_id=body.device_id,
        device_name=body.device_name,
        address=addr,
    )
    _cookie(response, BINDING_COOKIE, started.binding, started.expires_in, "lax")
    response.headers["Cache-Control"] = "no-store"
    return {"authorization_url": started.authorization_url, "expires_in": started.expires_in}


@router.get(
    "/auth/providers/{provider_id}/callback",
    status_code=303,
    response_class=RedirectResponse,
    dependencies=[Limit("provider_sign_in")],
)
async def callback(c: ContainerDep, request: Request, provider_id: ProviderId) -> Response:
    """The provider's redirect back. Always a redirect to the web app: an outcome, or an error
    code it explains in plain words. The binding cookie is spent either way."""
    params = {k: v[:2048] for k, v in request.query_params.items()}
    try:
        outcome = await c.social_login.callback(
            provider_id,
            params,
            request.cookies.get(BINDING_COOKIE),
            redirect_uri(request, c.settings.public_url, provider_id),
        )
    except HushroomError as exc:
        response = _return_to({"outcome": "error", "code": exc.code, "provider": provider_id})
    else:
        if isinstance(outcome, SignedIn):
            response = _return_to({"outcome": "signed_in", "provider": provider_id})
            set_refresh_cookie(response, outcome.login.tokens)
        elif isinstance(outcome, SignupPending):
            response = _return_to({"outcome": "signup", "provider": provider_id})
            _cookie(response, SIGNUP_COOKIE, outcome.token, outcome.expires_in, "strict")
        else:
            assert isinstance(outcome, Linked)
            response = _return_to({"outcome": "linked", "provider": provider_id})
    response.delete_cookie(BINDING_COOKIE, path="/", secure=True, httponly=True, samesite="lax")
    return response


@router.get("/auth/signup", response_model=SignupOut)
async def pending_signup(c: ContainerDep, request: Request, response: Response) -> dict[str, Any]:
    """The first sign-in waiting for its keys: who the provider said signed in."""
    pending = await c.social_login.pending_signup(request.cookies.get(SIGNUP_COOKIE))
    response.headers["Cache-Control"] = "no-store"
    return {
        "provider": pending.provider,
        "provider_name": c.social_login.provider_name(pending.provider),
        "email": pending.email,
        "display_name": pending.display_name,
        "expires_in": max(0, (pending.expires_at - c.clock.now_ms()) // 1000),
    }


@router.post(
    "/auth/signup",
    status_code=201,
    response_model=LoginOut,
    response_model_exclude_none=True,
    dependencies=[SameOrigin, Limit("register")],
)
async def complete_signup(
    c: ContainerDep, request: Request, body: SignupIn, response: Response
) -> dict[str, Any]:
    registration = Registration(
        user_id=body.user_id,
        display_name=body.display_name,
        identity=NewIdentity(
            email="",  # the provider's verified email replaces it
            kdf=body.kdf.model_dump(),
            auth_secret=decode_b64url(body.auth_secret),
            device_id=body.device.device_id,
            device_name=body.device.name,
            keys=body.upload(body.device.certificate),
        ),
    )
    login = await c.social_login.complete_signup(request.cookies.get(SIGNUP_COOKIE), registration)
    set_refresh_cookie(response, login.tokens)
    response.delete_cookie(SIGNUP_COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return {
        **tokens_view(login.tokens, include_refresh=body.return_refresh_token),
        "keys": "ready",
        "device_certified": login.device.certificate is not None,
    }


@router.get("/account/sign-in-methods", response_model=SignInMethodsOut)
async def sign_in_methods(c: ContainerDep, p: PrincipalDep) -> dict[str, Any]:
    methods = await c.social_login.sign_in_methods(p)
    return {
        "password": methods.password,
        "identities": [
            {
                "provider": link.provider,
                "provider_name": c.social_login.provider_name(link.provider),
                "email": link.email,
                "linked_at": link.created_at,
                "last_used_at": link.last_used_at,
            }
            for link in methods.identities
        ],
    }


@router.delete("/account/identities/{provider_id}", status_code=204)
async def unlink(c: ContainerDep, p: PrincipalDep, provider_id: ProviderId) -> Response:
    await c.social_login.unlink(p, provider_id)
    return Response(status_code=204)
