"""Public rooms: thin routes over RoomService."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import Field

from hushroom.api.abuse import LimitUser
from hushroom.api.deps import ContainerDep, PrincipalDep
from hushroom.api.schemas import ConversationOut, Strict
from hushroom.services.views import conversation_view

router = APIRouter(prefix="/api/v1/rooms", tags=["rooms"])


class RoomCreate(Strict):
    name: str = Field(min_length=1, max_length=80)
    topic: str | None = Field(default=None, max_length=300)


@router.get("", response_model=list[ConversationOut])
async def search_rooms(
    c: ContainerDep,
    _p: PrincipalDep,
    q: Annotated[str | None, Query(max_length=80)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    after: Annotated[
        uuid.UUID | None, Query(description="id of the last room of the previous page")
    ] = None,
) -> list[dict[str, object]]:
    """Rooms whose name contains `q` (ignoring case), ordered by name, then id."""
    return [conversation_view(r) for r in await c.rooms.search(q, limit, after)]


@router.post(
    "", status_code=201, response_model=ConversationOut, dependencies=[LimitUser("room_create")]
)
async def create_room(c: ContainerDep, p: PrincipalDep, body: RoomCreate) -> dict[str, object]:
    return conversation_view(await c.rooms.create(p, body.name, body.topic))


@router.get("/{room_id}", response_model=ConversationOut)
async def get_room(c: ContainerDep, p: PrincipalDep, room_id: uuid.UUID) -> dict[str, object]:
    return conversation_view(await c.rooms.get(p, room_id))


@router.post("/{room_id}/join", response_model=ConversationOut)
async def join_room(c: ContainerDep, p: PrincipalDep, room_id: uuid.UUID) -> dict[str, object]:
    return conversation_view(await c.rooms.join(p, room_id))


@router.post("/{room_id}/leave", status_code=204)
async def leave_room(c: ContainerDep, p: PrincipalDep, room_id: uuid.UUID) -> Response:
    await c.rooms.leave(p, room_id)
    return Response(status_code=204)
