"""The send batch over the portable repositories (SQLite; storage/send_batch.py)."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING

from hushroom.storage.conversations import LockedConversation, MessageRecord, NewMessage

if TYPE_CHECKING:
    from hushroom.storage.unit import Repos


class SqlSendBatch:
    def __init__(self, repos: Repos) -> None:
        self._repos = repos

    async def by_client_ids(
        self, keys: Collection[tuple[uuid.UUID, str]]
    ) -> dict[tuple[uuid.UUID, str], MessageRecord]:
        return await self._repos.messages.by_client_ids(keys)

    async def lock_with_member_ids(
        self, conversation_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, LockedConversation]:
        return await self._repos.conversations.lock_with_member_ids(conversation_ids)

    async def certified_ids(self, device_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        return await self._repos.devices.certified_ids(device_ids)

    async def insert_many(
        self, rows: Sequence[tuple[NewMessage, int]], last_seqs: Mapping[uuid.UUID, int]
    ) -> list[MessageRecord]:
        await self._repos.conversations.set_last_seqs(dict(last_seqs))
        records = await self._repos.messages.insert_many(rows)
        await self._repos.members.set_read_many(
            [(r.conversation_id, r.sender_id, r.seq) for r in records]
        )
        return records

    async def unhide_for_senders(self, pairs: Collection[tuple[uuid.UUID, uuid.UUID]]) -> None:
        await self._repos.members.unhide_for_senders(pairs)
