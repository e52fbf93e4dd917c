"""Accounts and sessions over HTTP (thin routes over AccountService).

Browsers keep the refresh token in a `__Host-` HttpOnly Secure SameSite=Strict cookie; bots and
the SDK may ask for it in the body instead (`return_refresh_token`) and send it back as JSON.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StrictBool, StrictInt
from starlette.datastructures import MutableHeaders

from hushroom.api.abuse import AddressDep, Limit, LimitUser
from hushroom.api.b64 import B64Url, decode_b64url
from hushroom.api.deps import ContainerDep, PrincipalDep, SameOrigin
from hushroom.api.schemas import Strict
from hushroom.errors import Unauthenticated
from hushroom.principal import Principal
from hushroom.services.accounts import Registration
from hushroom.services.key_material import KeyUpload, NewIdentity
from hushroom.services.keys import AccountReset, NewPassword
from hushroom.services.sessions import SessionTokens
from hushroom.services.views import b64url
from hushroom.storage.accounts import VaultRecord

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
# Session-scoped endpoints that live outside /auth.
ticket_router = APIRouter(prefix="/api/v1", tags=["auth"])

REFRESH_COOKIE = "__Host-hushroom_refresh"

# Hard caps on the wire; the configured limits (max_vault_bytes, …) are enforced by the service.
_MAX_BLOB_B64 = 4 * 1024 * 1024
_MAX_SECRET_B64 = 64
_MAX_KEY_B64 = 8192
_MAX_TOKEN = 200

Email = Annotated[str, Field(min_length=1, max_length=320)]


class Kdf(Strict):
    """The Argon2id parameters and salt in the JSON form of docs/crypto.md §5.1; the server checks
    them with the crypto core's parser (`KdfParams.from_json`)."""

    v: StrictInt
    alg: str = Field(max_length=16)
    m: StrictInt
    t: StrictInt
    p: StrictInt
    salt: B64Url = Field(max_length=_MAX_SECRET_B64)


class PreloginIn(Strict):
    email: Email


class PreloginOut(BaseModel):
    kdf: Kdf


class VaultIn(Strict):
    sealed: B64Url = Field(max_length=_MAX_BLOB_B64)
    password_wrapping: B64Url = Field(max_length=_MAX_KEY_B64)
    recovery_wrapping: B64Url = Field(max_length=_MAX_KEY_B64)

    def upload(self) -> VaultRecord:
        return VaultRecord(
            decode_b64url(self.sealed),
            decode_b64url(self.password_wrapping),
            decode_b64url(self.recovery_wrapping),
        )


class KeysIn(Strict):
    """An account's first keys (registration, or the set-up of an account without keys)."""

    identity_key: B64Url = Field(max_length=_MAX_SECRET_B64)
    puk_certificate: B64Url = Field(max_length=_MAX_KEY_B64)
    vault: VaultIn
    recovery_auth: B64Url = Field(max_length=_MAX_SECRET_B64)

    def upload(self, device_certificate: str) -> KeyUpload:
        return KeyUpload(
            identity_key=decode_b64url(self.identity_key),
            puk_certificate=decode_b64url(self.puk_certificate),
            device_certificate=decode_b64url(device_certificate),
            vault=self.vault.upload(),
            recovery_auth=decode_b64url(self.recovery_auth),
        )


class DeviceIn(Strict):
    device_id: uuid.UUID
    name: str | None = Field(default=None, max_length=100)
    certificate: B64Url = Field(max_length=_MAX_KEY_B64)


class NewAccountIn(KeysIn):
    """A password and a new identity's keys: registration and account reset."""

    email: Email
    kdf: Kdf
    auth_secret: B64Url = Field(max_length=_MAX_SECRET_B64)
    device: DeviceIn

    def identity(self) -> NewIdentity:
        return NewIdentity(
            email=self.email,
            kdf=self.kdf.model_dump(),
            auth_secret=decode_b64url(self.auth_secret),
            device_id=self.device.device_id,
            device_name=self.device.name,
            keys=self.upload(self.device.certificate),
        )


class RegisterIn(NewAccountIn):
    user_id: uuid.UUID
    display_name: str = Field(min_length=1, max_length=256)


class RegisterOut(BaseModel):
    user_id: str
    device_id: str


class NewPasswordIn(Strict):
    kdf: Kdf
    auth_secret: B64Url = Field(max_length=_MAX_SECRET_B64)
    password_wrapping: B64Url = Field(max_length=_MAX_KEY_B64)

    def new_password(self) -> NewPassword:
        return NewPassword(
            kdf=self.kdf.model_dump(),
            auth_secret=decode_b64url(self.auth_secret),
            password_wrapping=decode_b64url(self.password_wrapping),
        )


class RecoveryIn(Strict):
    email: Email
    recovery_auth: B64Url = Field(max_length=_MAX_SECRET_B64)


class RecoveryResetIn(NewPasswordIn, RecoveryIn):
    recovery_wrapping: B64Url = Field(max_length=_MAX_KEY_B64)
    new_recovery_auth: B64Url = Field(max_length=_MAX_SECRET_B64)
    vault_version: StrictInt


class VaultOut(BaseModel):
    user_id: str
    sealed_vault: str
    password_wrapping: str | None = None
    recovery_wrapping: str
    vault_version: int


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
    keys: Literal["ready", "setup_required"]
    device_certified: bool


class RefreshIn(Strict):
    refresh_token: str = Field(min_length=1, max_length=_MAX_TOKEN)


class TicketOut(BaseModel):
    ticket: str
    expires_in: int


def tokens_view(t: SessionTokens, *, include_refresh: bool) -> dict[str, Any]:
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


def set_refresh_cookie(response: Response, t: SessionTokens) -> None:
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


# Abuse limits (api/abuse.py): counted before the route runs, so before any Argon2 hash.
@router.post("/prelogin", response_model=PreloginOut, dependencies=[Limit("prelogin")])
async def prelogin(c: ContainerDep, body: PreloginIn) -> dict[str, Any]:
    result = await c.accounts.prelogin(body.email)
    return {"kdf": result.kdf}


@router.post(
    "/register", status_code=201, response_model=RegisterOut, dependencies=[Limit("register")]
)
async def register(c: ContainerDep, body: RegisterIn) -> dict[str, Any]:
    user, device = await c.accounts.register(
        Registration(user_id=body.user_id, display_name=body.display_name, identity=body.identity())
    )
    return {"user_id": str(user.id), "device_id": str(device.id)}


# The routes that set or read the refresh cookie refuse pages of other origins (SameOrigin).
@router.post(
    "/login", response_model=LoginOut, response_model_exclude_none=True, dependencies=[SameOrigin]
)
async def login(
    c: ContainerDep, body: LoginIn, response: Response, addr: AddressDep
) -> dict[str, Any]:
    result = await c.sessions.login(
        body.email,
        decode_b64url(body.auth_secret),
        body.device_name,
        body.device_id,
        address=addr,
    )
    set_refresh_cookie(response, result.tokens)
    return {
        **tokens_view(result.tokens, include_refresh=body.return_refresh_token),
        "keys": "ready" if result.user.keys_ready else "setup_required",
        "device_certified": result.device.certificate is not None,
    }


@router.post(
    "/refresh",
    response_model=TokensOut,
    response_model_exclude_none=True,
    dependencies=[SameOrigin, Limit("refresh")],
)
async def refresh(
    c: ContainerDep, request: Request, response: Response, body: RefreshIn | None = None
) -> dict[str, Any]:
    token = body.refresh_token if body is not None else request.cookies.get(REFRESH_COOKIE)
    if not token:
        raise Unauthenticated("send the refresh token cookie or {refresh_token}")
    tokens = await c.sessions.refresh(token)
    set_refresh_cookie(response, tokens)
    return tokens_view(tokens, include_refresh=body is not None)


@router.post("/logout", status_code=204)
async def logout(c: ContainerDep, p: PrincipalDep) -> Response:
    await c.sessions.logout(p)
    response = Response(status_code=204)
    _clear_refresh_cookie(response)
    return response


@router.post("/logout-all", status_code=204)
async def logout_all(c: ContainerDep, p: PrincipalDep) -> Response:
    await c.sessions.logout_everywhere(p)
    response = Response(status_code=204)
    _clear_refresh_cookie(response)
    return response


@router.post("/recovery/vault", response_model=VaultOut, response_model_exclude_none=True)
async def recovery_vault(
    c: ContainerDep, body: RecoveryIn, response: Response, addr: AddressDep
) -> dict[str, Any]:
    """Forgot password: the sealed vault and its recovery wrapping, only for the recovery
    authenticator (never the password wrapping: it would allow offline guessing)."""
    v = await c.keys.recovery_vault(body.email, decode_b64url(body.recovery_auth), address=addr)
    _no_store(response.headers)
    return {
        "user_id": str(v.user_id),
        "sealed_vault": b64url(v.vault.sealed),
        "recovery_wrapping": b64url(v.vault.recovery_wrapping),
        "vault_version": v.vault_version,
    }


@router.post("/recovery/reset-password", status_code=204)
async def recovery_reset(c: ContainerDep, body: RecoveryResetIn, addr: AddressDep) -> Response:
    await c.keys.recover(
        body.email,
        decode_b64url(body.recovery_auth),
        body.new_password(),
        decode_b64url(body.recovery_wrapping),
        decode_b64url(body.new_recovery_auth),
        body.vault_version,
        address=addr,
    )
    response = Response(status_code=204)
    _clear_refresh_cookie(response)
    return response


class ResetStartIn(Strict):
    email: Email
    reset_code: str = Field(min_length=1, max_length=100)


class ResetStartOut(BaseModel):
    user_id: str


class ResetIn(NewAccountIn):
    reset_code: str = Field(min_length=1, max_length=100)


@router.post("/reset-account/start", response_model=ResetStartOut)
async def reset_account_start(
    c: ContainerDep, body: ResetStartIn, addr: AddressDep
) -> dict[str, Any]:
    user_id = await c.keys.reset_start(body.email, body.reset_code, address=addr)
    return {"user_id": str(user_id)}


@router.post("/reset-account", response_model=RegisterOut)
async def reset_account(c: ContainerDep, body: ResetIn, addr: AddressDep) -> Response:
    user_id, device_id = await c.keys.reset_account(
        AccountReset(reset_code=body.reset_code, identity=body.identity()), address=addr
    )
    response = JSONResponse({"user_id": str(user_id), "device_id": str(device_id)})
    _clear_refresh_cookie(response)
    return response


@ticket_router.post("/ws-ticket", response_model=TicketOut)
async def ws_ticket(
    c: ContainerDep, p: Annotated[Principal, LimitUser("ws_ticket")], response: Response
) -> dict[str, Any]:
    ticket = await c.sessions.issue_ticket(p)
    _no_store(response.headers)
    return {"ticket": ticket.ticket, "expires_in": ticket.expires_in}
