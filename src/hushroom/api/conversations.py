"""Conversations of every kind: list, members, history, send (HTTP fallback), read receipts;
and the private ones: direct messages and groups."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field

from hushroom.api.abuse import LimitUser
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
from hushroom.services.views import b64url, conversation_view, key_set_view, message_view

router = APIRouter(prefix="/api/v1", tags=["conversations"])

MAX_SEQ = 2**63 - 1


class EnvelopeIn(Strict):
    generation: int = Field(ge=0, le=2**31 - 1)
    ciphertext: B64Url = Field(min_length=1)


class MessageIn(Strict):
    client_msg_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    body: str | None = Field(default=None, min_length=1)
    envelope: EnvelopeIn | None = None


# A key-set upload for 1000 members is about 1.2 MB; base64url makes it 4/3 of that.
MAX_KEY_SET_B64 = 1_900_000


class KeySetIn(Strict):
    generation: int = Field(ge=1, le=2**31 - 1)
    upload: B64Url = Field(min_length=1, max_length=MAX_KEY_SET_B64)


class KeySetCreated(BaseModel):
    generation: int


class KeySetOut(BaseModel):
    generation: int
    statement: str
    box: str
    creator_user_id: str
    creator_device_id: str
    membership_index: int | None
    created_at: int


class KeySetPageOut(BaseModel):
    key_sets: list[KeySetOut]
    current_generation: int
    stale: bool


class ReadIn(Strict):
    seq: int = Field(ge=0, le=MAX_SEQ)


class DmIn(Strict):
    user_id: uuid.UUID


# A signed membership entry naming up to 256 changes is ~60 KB; base64url makes it 4/3 of that.
MAX_ENTRY_B64 = 350_000


class GroupIn(Strict):
    conversation_id: uuid.UUID
    name: str = Field(min_length=1, max_length=80)
    entry: B64Url = Field(min_length=1, max_length=MAX_ENTRY_B64)


class MembershipEntryIn(Strict):
    entry: B64Url = Field(min_length=1, max_length=MAX_ENTRY_B64)


class MembershipAppended(BaseModel):
    index: int


class MembershipEntryOut(BaseModel):
    index: int
    entry: str


class MembershipLogOut(BaseModel):
    entries: list[MembershipEntryOut]
    head_index: int


class GroupPatchIn(Strict):
    name: str = Field(min_length=1, max_length=80)


@router.get("/conversations", response_model=list[ConversationSummaryOut])
async def list_conversations(
    c: ContainerDep,
    p: PrincipalDep,
    include_hidden: Annotated[
        bool, Query(description="also the conversations the caller hid")
    ] = False,
) -> list[dict[str, Any]]:
    return [
        {
            **conversation_view(s.conversation),
            "role": s.membership.role,
            "last_read_seq": s.membership.last_read_seq,
            "unread": s.unread,
            "request": s.request,
            "hidden": s.membership.hidden,
        }
        for s in await c.conversations.list_for(p, include_hidden)
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
    dependencies=[LimitUser("send")],
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
    conv = await c.membership.create_group(
        p, body.conversation_id, body.name, decode_b64url(body.entry)
    )
    return conversation_view(conv)


@router.patch("/groups/{conversation_id}", response_model=ConversationOut)
async def rename_group(
    c: ContainerDep, p: PrincipalDep, conversation_id: uuid.UUID, body: GroupPatchIn
) -> dict[str, Any]:
    return conversation_view(await c.membership.rename(p, conversation_id, body.name))


@router.post(
    "/groups/{conversation_id}/membership", response_model=MembershipAppended, status_code=201
)
async def append_membership(
    c: ContainerDep, p: PrincipalDep, conversation_id: uuid.UUID, body: MembershipEntryIn
) -> dict[str, Any]:
    return {"index": await c.membership.append(p, conversation_id, decode_b64url(body.entry))}


@router.get("/conversations/{conversation_id}/membership", response_model=MembershipLogOut)
async def membership_log(
    c: ContainerDep,
    p: PrincipalDep,
    conversation_id: uuid.UUID,
    after: Annotated[int, Query(ge=-1, le=2**31 - 1, description="entries after this index")] = -1,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
) -> dict[str, Any]:
    page = await c.membership.log(p, conversation_id, after, limit)
    return {
        "entries": [{"index": e.index, "entry": b64url(e.entry)} for e in page.entries],
        "head_index": page.head_index,
    }


@router.post(
    "/conversations/{conversation_id}/key-sets", response_model=KeySetCreated, status_code=201
)
async def upload_key_set(
    c: ContainerDep, p: PrincipalDep, conversation_id: uuid.UUID, body: KeySetIn
) -> dict[str, Any]:
    generation = await c.key_sets.upload(
        p, conversation_id, body.generation, decode_b64url(body.upload)
    )
    return {"generation": generation}


@router.get("/conversations/{conversation_id}/key-sets", response_model=KeySetPageOut)
async def list_key_sets(
    c: ContainerDep,
    p: PrincipalDep,
    conversation_id: uuid.UUID,
    after: Annotated[int, Query(ge=0, le=2**31 - 1, description="generations after this")] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
) -> dict[str, Any]:
    page = await c.key_sets.page(p, conversation_id, after, limit)
    return {
        "key_sets": [key_set_view(record, box) for record, box in page.key_sets],
        "current_generation": page.current_generation,
        "stale": page.stale,
    }


@router.get("/conversations/{conversation_id}/key-sets/{generation}", response_model=KeySetOut)
async def get_key_set(
    c: ContainerDep,
    p: PrincipalDep,
    conversation_id: uuid.UUID,
    generation: Annotated[int, Path(ge=1, le=2**31 - 1)],
) -> dict[str, Any]:
    record, box = await c.key_sets.get(p, conversation_id, generation)
    return key_set_view(record, box)
