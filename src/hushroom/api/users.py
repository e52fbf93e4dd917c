"""Users: the caller's own account and public profiles of others (thin routes over
AccountService). Public views never carry another user's email or vault."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from hushroom.api.abuse import LimitUser
from hushroom.api.auth import Kdf
from hushroom.api.deps import ContainerDep, PrincipalDep
from hushroom.principal import Principal
from hushroom.services.account_input import kdf_json
from hushroom.storage.accounts import UserRecord

router = APIRouter(prefix="/api/v1", tags=["users"])


class PublicUserOut(BaseModel):
    user_id: str
    display_name: str
    keys_version: int


class MeOut(PublicUserOut):
    email: str
    device_id: str
    session_id: str
    kdf: Kdf
    keys: Literal["ready", "setup_required"]
    vault_version: int
    created_at: int
    # A server admin (`hushroom create-admin`): may use /api/v1/admin (moderation).
    is_admin: bool


def public_user_view(u: UserRecord) -> dict[str, Any]:
    return {
        "user_id": str(u.id),
        "display_name": u.display_name,
        "keys_version": u.keys_version,
    }


def me_view(u: UserRecord, p: Principal) -> dict[str, Any]:
    return {
        **public_user_view(u),
        "email": u.email,
        "device_id": str(p.device_id),
        "session_id": str(p.session_id),
        "kdf": kdf_json(u.kdf_salt, u.kdf_params),
        "keys": "ready" if u.keys_ready else "setup_required",
        "vault_version": u.vault_version,
        "created_at": u.created_at,
        "is_admin": u.is_admin,
    }


@router.get("/me", response_model=MeOut)
async def me(c: ContainerDep, p: PrincipalDep) -> dict[str, Any]:
    return me_view(await c.accounts.me(p), p)


# Exact-email lookup finds accounts: limited per user (docs/security.md § Enumeration).
@router.get("/users", response_model=list[PublicUserOut], dependencies=[LimitUser("user_search")])
async def search_users(
    c: ContainerDep,
    _p: PrincipalDep,
    q: Annotated[str, Query(min_length=1, max_length=320)],
    limit: Annotated[int, Query(ge=1, le=50)] = 50,
) -> list[dict[str, Any]]:
    return [public_user_view(u) for u in await c.accounts.search_users(q, limit)]


@router.get("/users/{user_id}", response_model=PublicUserOut)
async def get_user(c: ContainerDep, _p: PrincipalDep, user_id: uuid.UUID) -> dict[str, Any]:
    return public_user_view(await c.accounts.get_user(user_id))
