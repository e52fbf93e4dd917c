"""Conversations of every kind: list, members, history, send (HTTP fallback), read receipts;
and the private ones: direct messages and groups."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import Field

from hushroom.api.b64 import B64Url, decode_b64url
from hushroom.api.deps import ContainerDep, PrincipalDep
from hushroom.api.schemas import (
    ConversationOut,
    ConversationSummaryOut,
    MemberPage,
    MessagePage,
    SendAck,
    Strict,
)
from hushroom.services.messages import SendCommand
from hushroom.services.views import conversation_view, message_view

router = APIRouter(prefix="/api/v1", tags=["conversations"])

MAX_SEQ = 2**63 - 1


class EnvelopeIn(Strict):
    generation: int = Field(ge=0, le=2**31 - 1)
    ciphertext: B64Url = Field(min_length=1)


class MessageIn(Strict):
    client_msg_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    body: str | None = Field(default=None, min_length=1)
    envelope: EnvelopeIn | None = None


class ReadIn(Strict):
    seq: int = Field(ge=0, le=MAX_SEQ)


class DmIn(Strict):
    user_id: uuid.UUID


class GroupIn(Strict):
    name: str = Field(min_length=1, max_length=80)
    member_ids: list[uuid.UUID] = Field(default_factory=list, max_length=255)


class MemberIn(Strict):
    user_id: uuid.UUID


@router.get("/conversations", response_model=list[ConversationSummaryOut])
async def list_conversations(c: ContainerDep, p: PrincipalDep) -> list[dict[str, Any]]:
    return [
        {
            **conversation_view(s.conversation),
            "role": s.membership.role,
            "last_read_seq": s.membership.last_read_seq,
            "unread": s.unread,
        }
        for s in await c.conversations.list_for(p)
    ]


@router.get("/conversations/{conversation_id}", response_model=ConversationOut)
async def get_conversation(
    c: ContainerDep, p: PrincipalDep, conversation_id: uuid.UUID
) -> dict[str, Any]:
    return conversation_view(await c.conversations.get(p, conversation_id))


@router.get("/conversations/{conversation_id}/members", response_model=MemberPage)
async def list_members(
    c: ContainerDep,
    p: PrincipalDep,
    conversation_id: uuid.UUID,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    after: uuid.UUID | None = None,
) -> dict[str, Any]:
    page = await c.conversations.members(p, conversation_id, limit, after)
    return {
        "members": [
            {
                "user_id": str(m.user_id),
                "role": m.role,
                "joined_at": m.joined_at,
                "last_read_seq": m.last_read_seq,
            }
            for m in page
        ],
        "next_after": str(page[-1].user_id) if len(page) == limit else None,
    }


@router.get("/conversations/{conversation_id}/messages", response_model=MessagePage)
async def history(
    c: ContainerDep,
    p: PrincipalDep,
    conversation_id: uuid.UUID,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_SEQ, description="page backwards from this seq")
    ] = None,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_SEQ, description="page forwards after this seq")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    page = await c.messages.history(
        p, conversation_id, before_seq=before, after_seq=after, limit=limit
    )
    return {
        "messages": [message_view(m) for m in page.messages],
        "has_more_before": page.has_more_before,
        "last_seq": page.last_seq,
    }


@router.post(
    "/conversations/{conversation_id}/messages",
    response_model=SendAck,
    status_code=201,
    responses={200: {"model": SendAck, "description": "a retry: the original ack"}},
)
async def send_message(
    c: ContainerDep,
    p: PrincipalDep,
    conversation_id: uuid.UUID,
    body: MessageIn,
    response: Response,
) -> dict[str, Any]:
    cmd = SendCommand(
        conversation_id=conversation_id,
        client_msg_id=body.client_msg_id,
        body=body.body,
        generation=body.envelope.generation if body.envelope else None,
        ciphertext=decode_b64url(body.envelope.ciphertext) if body.envelope else None,
    )
    result = await c.messages.send(p, cmd)
    if result.duplicate:
        response.status_code = 200
    m = result.message
    return {
        "conversation_id": str(m.conversation_id),
        "client_msg_id": m.client_msg_id,
        "seq": m.seq,
        "message_id": m.id,
        "created_at": m.created_at,
        "duplicate": result.duplicate,
    }


@router.post("/conversations/{conversation_id}/read", status_code=204)
async def mark_read(
    c: ContainerDep, p: PrincipalDep, conversation_id: uuid.UUID, body: ReadIn
) -> Response:
    await c.messages.mark_read(p, conversation_id, body.seq)
    return Response(status_code=204)


@router.post("/dms", response_model=ConversationOut, status_code=201)
async def open_dm(
    c: ContainerDep, p: PrincipalDep, body: DmIn, response: Response
) -> dict[str, Any]:
    conv, created = await c.conversations.open_dm(p, body.user_id)
    if not created:
        response.status_code = 200
    return conversation_view(conv)


@router.post("/groups", response_model=ConversationOut, status_code=201)
async def create_group(c: ContainerDep, p: PrincipalDep, body: GroupIn) -> dict[str, Any]:
    return conversation_view(await c.conversations.create_group(p, body.name, body.member_ids))


@router.post("/groups/{conversation_id}/members", status_code=204)
async def add_member(
    c: ContainerDep, p: PrincipalDep, conversation_id: uuid.UUID, body: MemberIn
) -> Response:
    await c.conversations.add_member(p, conversation_id, body.user_id)
    return Response(status_code=204)


@router.delete("/groups/{conversation_id}/members/{user_id}", status_code=204)
async def remove_member(
    c: ContainerDep, p: PrincipalDep, conversation_id: uuid.UUID, user_id: uuid.UUID
) -> Response:
    await c.conversations.remove_member(p, conversation_id, user_id)
    return Response(status_code=204)
