"""The send batch: one transaction storing a group-commit batch of messages (services/messages.py).

Exactly the operations the send path needs, so each database can run them its cheapest way:
SQLite through the portable repositories, PostgreSQL as prepared statements on the asyncpg
connection (storage/sql/pg_send_batch.py). Both commit when the block exits cleanly, so an ack
sent after the block is an ack after commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from typing import Protocol

from hushroom.storage.conversations import LockedConversation, MessageRecord, NewMessage


class SendBatch(Protocol):
    async def by_client_ids(
        self, keys: Collection[tuple[uuid.UUID, str]]
    ) -> dict[tuple[uuid.UUID, str], MessageRecord]:
        """Stored messages by (sender_device_id, client_msg_id), for the keys that exist."""
        ...

    async def lock_with_member_ids(
        self, conversation_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, LockedConversation]:
        """The conversations that exist, locked in id order until the transaction ends (two
        batches touching the same conversations queue instead of deadlocking), with their
        members. Only what a send needs is read: `name`, `topic` and `log_head` may be None."""
        ...

    async def certified_ids(self, device_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        """Those of the devices that have a certificate and are not revoked."""
        ...

    async def insert_many(
        self, rows: Sequence[tuple[NewMessage, int]], last_seqs: Mapping[uuid.UUID, int]
    ) -> list[MessageRecord]:
        """Insert (message, seq) pairs, public bodies sealed at rest; store the new sequence
        highs of the conversations (locked by `lock_with_member_ids`); and mark each message read
        by its sender (your own message never counts as unread). Records in the rows' order. A
        (device, client_msg_id) stored meanwhile by another transaction raises WriteConflict
        (once the block exits)."""
        ...

    async def unhide_for_senders(self, pairs: Collection[tuple[uuid.UUID, uuid.UUID]]) -> None:
        """For each (conversation, sender): accepted members who hid the conversation and do not
        block the sender see it again."""
        ...
