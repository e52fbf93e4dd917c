"""Accounts and sessions over HTTP (thin routes over AccountService).

Browsers keep the refresh token in a `__Host-` HttpOnly Secure SameSite=Strict cookie; bots and
the SDK may ask for it in the body instead (`return_refresh_token`) and send it back as JSON.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field, StrictBool, StrictInt
from starlette.datastructures import MutableHeaders

from hushroom.api.b64 import B64Url, decode_b64url
from hushroom.api.deps import ContainerDep, PrincipalDep
from hushroom.api.schemas import Strict
from hushroom.errors import Unauthenticated
from hushroom.services.accounts import SessionTokens
from hushroom.services.views import b64url

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
# Session-scoped endpoints that live outside /auth.
ticket_router = APIRouter(prefix="/api/v1", tags=["auth"])

REFRESH_COOKIE = "__Host-hushroom_refresh"

# Hard caps on the wire; the configured limits (max_vault_bytes, …) are enforced by the service.
_MAX_BLOB_B64 = 4 * 1024 * 1024
_MAX_SECRET_B64 = 64
_MAX_TOKEN = 200

Email = Annotated[str, Field(min_length=1, max_length=320)]


class KdfParamsIn(Strict):
    alg: str = Field(max_length=16)
    version: StrictInt
    m_kib: StrictInt
    t: StrictInt
    p: StrictInt


class PreloginIn(Strict):
    email: Email


class PreloginOut(BaseModel):
    kdf_salt: str
    kdf_params: KdfParamsIn


class RegisterIn(Strict):
    display_name: str = Field(min_length=1, max_length=256)
    email: Email
    kdf_salt: B64Url = Field(max_length=_MAX_SECRET_B64)
    kdf_params: KdfParamsIn
    auth_secret: B64Url = Field(max_length=_MAX_SECRET_B64)
    key_bundle: B64Url = Field(max_length=_MAX_BLOB_B64)
    vault: B64Url = Field(max_length=_MAX_BLOB_B64)


class RegisterOut(BaseModel):
    user_id: str


class LoginIn(Strict):
    email: Email
    auth_secret: B64Url = Field(max_length=_MAX_SECRET_B64)
    device_name: str | None = Field(default=None, max_length=100)
    device_id: uuid.UUID | None = None
    return_refresh_token: StrictBool = False


class TokensOut(BaseModel):
    access_token: str
    token_type: str
    expires_in: int
    user_id: str
    device_id: str
    session_id: str
    refresh_token: str | None = None


class LoginOut(TokensOut):
    vault: str
    vault_version: int
    key_bundle: str
    key_bundle_version: int


class RefreshIn(Strict):
    refresh_token: str = Field(min_length=1, max_length=_MAX_TOKEN)


class TicketOut(BaseModel):
    ticket: str
    expires_in: int


def _tokens_view(t: SessionTokens, *, include_refresh: bool) -> dict[str, Any]:
    view: dict[str, Any] = {
        "access_token": t.access_token,
        "token_type": "bearer",
        "expires_in": t.expires_in,
        "user_id": str(t.principal.user_id),
        "device_id": str(t.principal.device_id),
        "session_id": str(t.principal.session_id),
    }
    if include_refresh:
        view["refresh_token"] = t.refresh_token
    return view


def _no_store(headers: MutableHeaders) -> None:
    headers["Cache-Control"] = "no-store"


def _set_refresh_cookie(response: Response, t: SessionTokens) -> None:
    response.set_cookie(
        REFRESH_COOKIE,
        t.refresh_token,
        max_age=t.refresh_expires_in,
        path="/",
        secure=True,
        httponly=True,
        samesite="strict",
    )
    _no_store(response.headers)


def _clear_refresh_cookie(response: Response) -> None:
    response.delete_cookie(REFRESH_COOKIE, path="/", secure=True, httponly=True, samesite="strict")


@router.post("/prelogin", response_model=PreloginOut)
async def prelogin(c: ContainerDep, body: PreloginIn) -> dict[str, Any]:
    result = await c.accounts.prelogin(body.email)
    return {"kdf_salt": b64url(result.kdf_salt), "kdf_params": result.kdf_params}


@router.post("/register", status_code=201, response_model=RegisterOut)
async def register(c: ContainerDep, body: RegisterIn) -> dict[str, Any]:
    user = await c.accounts.register(
        display_name=body.display_name,
        email=body.email,
        kdf_salt=decode_b64url(body.kdf_salt),
        kdf_params=body.kdf_params.model_dump(),
        auth_secret=decode_b64url(body.auth_secret),
        key_bundle=decode_b64url(body.key_bundle),
        vault=decode_b64url(body.vault),
    )
    return {"user_id": str(user.id)}


@router.post("/login", response_model=LoginOut, response_model_exclude_none=True)
async def login(c: ContainerDep, body: LoginIn, response: Response) -> dict[str, Any]:
    result = await c.accounts.login(
        body.email,
        decode_b64url(body.auth_secret),
        body.device_name,
        body.device_id,
    )
    _set_refresh_cookie(response, result.tokens)
    return {
        **_tokens_view(result.tokens, include_refresh=body.return_refresh_token),
        "vault": b64url(result.user.vault),
        "vault_version": result.user.vault_version,
        "key_bundle": b64url(result.user.key_bundle),
        "key_bundle_version": result.user.key_bundle_version,
    }


@router.post("/refresh", response_model=TokensOut, response_model_exclude_none=True)
async def refresh(
    c: ContainerDep, request: Request, response: Response, body: RefreshIn | None = None
) -> dict[str, Any]:
    token = body.refresh_token if body is not None else request.cookies.get(REFRESH_COOKIE)
    if not token:
        raise Unauthenticated("send the refresh token cookie or {refresh_token}")
    tokens = await c.accounts.refresh(token)
    _set_refresh_cookie(response, tokens)
    return _tokens_view(tokens, include_refresh=body is not None)


@router.post("/logout", status_code=204)
async def logout(c: ContainerDep, p: PrincipalDep) -> Response:
    await c.accounts.logout(p)
    response = Response(status_code=204)
    _clear_refresh_cookie(response)
    return response


@router.post("/logout-all", status_code=204)
async def logout_all(c: ContainerDep, p: PrincipalDep) -> Response:
    await c.accounts.logout_everywhere(p)
    response = Response(status_code=204)
    _clear_refresh_cookie(response)
    return response


@ticket_router.post("/ws-ticket", response_model=TicketOut)
async def ws_ticket(c: ContainerDep, p: PrincipalDep, response: Response) -> dict[str, Any]:
    ticket = await c.accounts.issue_ticket(p)
    _no_store(response.headers)
    return {"ticket": ticket.ticket, "expires_in": ticket.expires_in}
