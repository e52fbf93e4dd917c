"""Requests and blocking (docs/decisions/0006): accept, decline, hide and show conversations,
leave a DM, and block users. Thin routes over ConsentService."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel

from hushroom.api.deps import ContainerDep, PrincipalDep

router = APIRouter(prefix="/api/v1", tags=["consent"])


class BlockOut(BaseModel):
    user_id: str
    created_at: int


class BlockList(BaseModel):
    blocks: list[BlockOut]


@router.post("/conversations/{conversation_id}/accept", status_code=204)
async def accept(c: ContainerDep, p: PrincipalDep, conversation_id: uuid.UUID) -> Response:
    await c.consent.accept(p, conversation_id)
    return Response(status_code=204)


@router.post("/conversations/{conversation_id}/decline", status_code=204)
async def decline(c: ContainerDep, p: PrincipalDep, conversation_id: uuid.UUID) -> Response:
    await c.consent.decline(p, conversation_id)
    return Response(status_code=204)


@router.post("/conversations/{conversation_id}/hide", status_code=204)
async def hide(c: ContainerDep, p: PrincipalDep, conversation_id: uuid.UUID) -> Response:
    await c.consent.set_hidden(p, conversation_id, True)
    return Response(status_code=204)


@router.post("/conversations/{conversation_id}/unhide", status_code=204)
async def unhide(c: ContainerDep, p: PrincipalDep, conversation_id: uuid.UUID) -> Response:
    await c.consent.set_hidden(p, conversation_id, False)
    return Response(status_code=204)


@router.post("/dms/{conversation_id}/leave", status_code=204)
async def leave_dm(c: ContainerDep, p: PrincipalDep, conversation_id: uuid.UUID) -> Response:
    await c.consent.leave_dm(p, conversation_id)
    return Response(status_code=204)


@router.get("/blocks", response_model=BlockList)
async def list_blocks(c: ContainerDep, p: PrincipalDep) -> dict[str, Any]:
    return {
        "blocks": [
            {"user_id": str(b.blocked_user_id), "created_at": b.created_at}
            for b in await c.consent.blocks(p)
        ]
    }


@router.put("/blocks/{user_id}", status_code=204)
async def block(c: ContainerDep, p: PrincipalDep, user_id: uuid.UUID) -> Response:
    await c.consent.block(p, user_id)
    return Response(status_code=204)


@router.delete("/blocks/{user_id}", status_code=204)
async def unblock(c: ContainerDep, p: PrincipalDep, user_id: uuid.UUID) -> Response:
    await c.consent.unblock(p, user_id)
    return Response(status_code=204)
