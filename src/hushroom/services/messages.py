"""Sending, history, resume and read receipts for every kind of conversation.

Delivery invariants (BRIEF §2): the ack is returned only after the storing transaction committed;
a retry with the same (device, client_msg_id) returns the original and stores nothing; `seq` is
assigned inside that transaction; fan-out happens after commit and is only a fast path.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError

from hushroom import access
from hushroom.clock import Clock
from hushroom.errors import ClientMessageIdReused, PayloadTooLarge, ValidationFailed
from hushroom.events.event import Event
from hushroom.events.publisher import EventPublisher
from hushroom.metrics import Metrics
from hushroom.principal import Principal
from hushroom.services.views import message_view
from hushroom.storage.conversations import MessageRecord, NewMessage
from hushroom.storage.unit import Storage

MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class SendCommand:
    conversation_id: uuid.UUID
    client_msg_id: str
    body: str | None = None
    generation: int | None = None
    ciphertext: bytes | None = None


@dataclass(frozen=True, slots=True)
class SendResult:
    message: MessageRecord
    duplicate: bool


@dataclass(slots=True)
class ResumePlan:
    """What a reconnecting client missed: messages to send now, and gaps to page over HTTP."""

    batches: list[tuple[uuid.UUID, list[MessageRecord], int]] = field(default_factory=list)
    gaps: list[tuple[uuid.UUID, int, int]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class MessageLimits:
    max_text_chars: int
    max_ciphertext_bytes: int


def validate_client_msg_id(value: str) -> None:
    if len(value) != 32 or any(c not in "0123456789abcdef" for c in value):
        raise ValidationFailed(
            "client_msg_id must be 32 lowercase hex characters", field="client_msg_id"
        )


class MessageService:
    def __init__(
        self,
        storage: Storage,
        events: EventPublisher,
        clock: Clock,
        limits: MessageLimits,
        metrics: Metrics | None = None,
    ) -> None:
        self._storage = storage
        self._events = events
        self._clock = clock
        self._limits = limits
        self._metrics = metrics or Metrics()

    def _validate(self, cmd: SendCommand) -> None:
        validate_client_msg_id(cmd.client_msg_id)
        if (cmd.body is None) == (cmd.ciphertext is None):
            raise ValidationFailed("send exactly one of body or envelope", field="body")
        if cmd.body is not None:
            if not cmd.body.strip():
                raise ValidationFailed("the message is empty", field="body")
            if len(cmd.body) > self._limits.max_text_chars:
                raise PayloadTooLarge(
                    f"messages are limited to {self._limits.max_text_chars} characters",
                    field="body",
                )
            if "\x00" in cmd.body:
                raise ValidationFailed("the message contains a NUL character", field="body")
        if cmd.ciphertext is not None:
            if cmd.generation is None or cmd.generation < 0:
                raise ValidationFailed("envelope generation must be >= 0", field="generation")
            if not cmd.ciphertext:
                raise ValidationFailed("the ciphertext is empty", field="ciphertext")
            if len(cmd.ciphertext) > self._limits.max_ciphertext_bytes:
                raise PayloadTooLarge("the ciphertext is too large", field="ciphertext")

    async def send(self, principal: Principal, cmd: SendCommand) -> SendResult:
        self._validate(cmd)
        started = time.perf_counter()
        # A concurrent retry of the same client_msg_id can lose the unique-index race; the
        # second attempt then finds the winner and returns it as a duplicate.
        for attempt in range(2):
            try:
                result = await self._send_once(principal, cmd)
            except IntegrityError:
                if attempt == 1:
                    raise
                continue
            self._metrics.send_latency.observe(time.perf_counter() - started)
            if not result.duplicate:
                kind = "envelope" if cmd.ciphertext is not None else "text"
                self._metrics.messages_sent.labels(kind).inc()
            return result
        raise AssertionError("unreachable")

    async def _send_once(self, principal: Principal, cmd: SendCommand) -> SendResult:
        async with self._storage.write() as tx:
            existing = await tx.messages.by_client_id(principal.device_id, cmd.client_msg_id)
            if existing is not None:
                if existing.conversation_id != cmd.conversation_id:
                    raise ClientMessageIdReused(field="client_msg_id")
                return SendResult(existing, duplicate=True)
            conv, _member = await access.access_member(tx, principal.user_id, cmd.conversation_id)
            access.check_payload_kind(
                conv, has_body=cmd.body is not None, has_envelope=cmd.ciphertext is not None
            )
            seq = await tx.conversations.next_seq(conv.id)
            record = await tx.messages.insert(
                NewMessage(
                    conversation_id=conv.id,
                    sender_id=principal.user_id,
                    sender_device_id=principal.device_id,
                    client_msg_id=cmd.client_msg_id,
                    created_at=self._clock.now_ms(),
                    body=cmd.body,
                    generation=cmd.generation,
                    ciphertext=cmd.ciphertext,
                ),
                seq,
            )
            # Your own message is read by you: it never counts as unread.
            await tx.members.set_read(conv.id, principal.user_id, seq)
            recipients = await tx.members.user_ids(conv.id)
        # Committed: now the fast path.
        await self._events.publish(
            Event(
                type="message.new",
                payload={"message": message_view(record)},
                recipients=frozenset(recipients),
                conversation_id=conv.id,
                seq=seq,
            )
        )
        return SendResult(record, duplicate=False)

    async def history(
        self,
        principal: Principal,
        conversation_id: uuid.UUID,
        *,
        before_seq: int | None = None,
        after_seq: int | None = None,
        limit: int = 50,
    ) -> list[MessageRecord]:
        limit = max(1, min(limit, MAX_PAGE))
        async with self._storage.read() as tx:
            await access.access_read(tx, principal.user_id, conversation_id)
            return await tx.messages.page(
                conversation_id, before_seq=before_seq, after_seq=after_seq, limit=limit
            )

    async def missed(
        self, principal: Principal, positions: dict[uuid.UUID, int], max_messages: int
    ) -> ResumePlan:
        """Messages after each position, for conversations the user is (still) a member of.

        Conversations where more than `max_messages` were missed are reported as gaps, to page
        over HTTP, so a reconnect never floods one socket.
        """
        plan = ResumePlan()
        async with self._storage.read() as tx:
            mine = {
                conv.id: conv for conv, _m in await tx.conversations.for_user(principal.user_id)
            }
            for conv_id, after in positions.items():
                conv = mine.get(conv_id)
                if conv is None or conv.last_seq <= after:
                    continue
                if conv.last_seq - after > max_messages:
                    plan.gaps.append((conv_id, after, conv.last_seq))
                    continue
                msgs = await tx.messages.page(conv_id, after_seq=after, limit=max_messages)
                plan.batches.append((conv_id, msgs, msgs[-1].seq if msgs else after))
        return plan

    async def mark_read(self, principal: Principal, conversation_id: uuid.UUID, seq: int) -> bool:
        if seq < 0:
            raise ValidationFailed("seq must be >= 0", field="seq")
        async with self._storage.write() as tx:
            conv, _member = await access.access_member(tx, principal.user_id, conversation_id)
            seq = min(seq, conv.last_seq)
            moved = await tx.members.set_read(conversation_id, principal.user_id, seq)
            recipients = await tx.members.user_ids(conversation_id) if moved else []
        if moved:
            await self._events.publish(
                Event(
                    type="receipt",
                    payload={
                        "conversation_id": str(conversation_id),
                        "user_id": str(principal.user_id),
                        "seq": seq,
                    },
                    recipients=frozenset(recipients),
                    conversation_id=conversation_id,
                )
            )
        return moved
