"""Moderation by server admins: thin routes over ModerationService. Non-admins get 403
`forbidden` on every route."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel

from hushroom.api.deps import ContainerDep, PrincipalDep
from hushroom.storage.moderation import AuditEntry

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])

MAX_ID = 2**63 - 1


class AuditEntryOut(BaseModel):
    id: int
    # null: the operator, at the command line.
    actor_user_id: str | None
    action: str
    target_kind: str
    target_id: str
    detail: dict[str, Any] | None
    created_at: int


class AuditLogPage(BaseModel):
    entries: list[AuditEntryOut]


def audit_entry_view(e: AuditEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "actor_user_id": str(e.actor_user_id) if e.actor_user_id is not None else None,
        "action": e.action,
        "target_kind": e.target_kind,
        "target_id": e.target_id,
        "detail": e.detail,
        "created_at": e.created_at,
    }


@router.delete("/messages/{message_id}", status_code=204)
async def remove_message(
    c: ContainerDep,
    p: PrincipalDep,
    message_id: Annotated[int, Path(ge=1, le=MAX_ID)],
) -> Response:
    """Remove a public-room message: its body is gone, its seq stays; members get
    `message.removed`. Private conversations are refused (`forbidden`)."""
    await c.moderation.remove_message(p, message_id)
    return Response(status_code=204)


@router.delete("/rooms/{room_id}", status_code=204)
async def delete_room(c: ContainerDep, p: PrincipalDep, room_id: uuid.UUID) -> Response:
    """Delete a public room with its history; members get `conversation.removed`."""
    await c.moderation.delete_room(p, room_id)
    return Response(status_code=204)


@router.post("/users/{user_id}/disable", status_code=204)
async def disable_account(c: ContainerDep, p: PrincipalDep, user_id: uuid.UUID) -> Response:
    """Every session of the account ends at once; login answers `account_disabled`."""
    await c.moderation.disable_account(p, user_id)
    return Response(status_code=204)


@router.post("/users/{user_id}/enable", status_code=204)
async def enable_account(c: ContainerDep, p: PrincipalDep, user_id: uuid.UUID) -> Response:
    await c.moderation.enable_account(p, user_id)
    return Response(status_code=204)


@router.get("/audit-log", response_model=AuditLogPage)
async def audit_log(
    c: ContainerDep,
    p: PrincipalDep,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="id of the last entry of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """Moderation actions, newest first."""
    entries = await c.moderation.audit_log(p, before, limit)
    return {"entries": [audit_entry_view(e) for e in entries]}
