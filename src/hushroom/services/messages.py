"""Sending, history, resume and read receipts for every kind of conversation.

Delivery invariants (docs/architecture.md): the ack is returned only after the storing transaction
committed; a retry with the same (device, client_msg_id) returns the original and stores nothing;
`seq` is assigned inside that transaction; fan-out happens after commit and is only a fast path.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field

from hushroom import access
from hushroom.clock import Clock
from hushroom.crypto.envelope import peek_header
from hushroom.crypto.errors import CryptoError
from hushroom.errors import (
    ClientMessageIdReused,
    EnvelopeMismatch,
    HushroomError,
    InvalidEnvelope,
    PayloadTooLarge,
    ServiceUnavailable,
    StaleKeyGeneration,
    ValidationFailed,
    WriteConflict,
)
from hushroom.events.event import Event
from hushroom.events.publisher import EventPublisher
from hushroom.metrics import Metrics
from hushroom.principal import Principal
from hushroom.services.group_commit import GroupCommit
from hushroom.services.seen_recently import SeenRecently
from hushroom.services.views import message_view
from hushroom.storage.conversations import ConversationRecord, MessageRecord, NewMessage
from hushroom.storage.unit import Storage

MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class HistoryPage:
    messages: list[MessageRecord]
    has_more_before: bool
    last_seq: int


@dataclass(frozen=True, slots=True)
class SendCommand:
    conversation_id: uuid.UUID
    client_msg_id: str
    body: str | None = None
    generation: int | None = None
    ciphertext: bytes | None = None
    # The gateway connection id of the socket it came from (None over HTTP). That socket gets
    # the ack and no "message.new" echo; its sends are stored in the order it sent them.
    origin: str | None = None


# One send as the batch sees it: who, what, and the envelope's verdict from before the batch
# (decoding happens outside the transaction; the verdict is reported only once the send is known
# to be for a private conversation, so a room still answers "send a body").
_Send = tuple[Principal, SendCommand, HushroomError | None]


@dataclass(frozen=True, slots=True)
class SendResult:
    message: MessageRecord
    duplicate: bool


# Resumes whose "anything new?" query is shared (one read transaction for many sockets: a
# reconnect storm is thousands at once), and the positions a resume may have to join a batch.
RESUME_BATCH_MAX = 64
RESUME_BATCHED_POSITIONS_MAX = 64
# Read-only batches, safe side by side: under a herd one batch at a time left the node at 45 %
# CPU while resumes waited seconds for their turn (docs/performance.md, storm_redis).
RESUME_BATCH_WORKERS = 4
RESUME_BATCH_SPILL = 8

_Pairs = list[tuple[uuid.UUID, uuid.UUID]]


@dataclass(slots=True)
class ResumePlan:
    """What a reconnecting client missed: messages to send now, and gaps to page over HTTP."""

    batches: list[tuple[uuid.UUID, list[MessageRecord], int]] = field(default_factory=list)
    gaps: list[tuple[uuid.UUID, int, int]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class MessageLimits:
    max_text_chars: int
    max_ciphertext_bytes: int
    # Most sends stored in one transaction (group commit).
    send_batch_max: int = 256
    # Batches in flight at once (rows are locked in id order, so two never deadlock).
    send_batch_workers: int = 1
    # Sends waiting before a batch beyond the first starts.
    send_batch_spill: int = 1


def check_envelope(principal: Principal, cmd: SendCommand) -> HushroomError | None:
    """The envelope decodes and its header names this send: the conversation, the caller's user
    and device, the client message id and the generation (docs/decisions/0005 §3). The server
    never verifies the signature or opens anything; recipients do."""
    assert cmd.ciphertext is not None
    try:
        header = peek_header(cmd.ciphertext)
    except CryptoError:
        return InvalidEnvelope(field="envelope.ciphertext")
    if header.conversation_id != str(cmd.conversation_id):
        return EnvelopeMismatch("the envelope is for another conversation", field="envelope")
    if header.sender_user_id != str(principal.user_id):
        return EnvelopeMismatch("the envelope names another sender", field="envelope")
    if header.sender_device_id != str(principal.device_id):
        return EnvelopeMismatch("the envelope names another device", field="envelope")
    if header.client_message_id != cmd.client_msg_id:
        return EnvelopeMismatch("the envelope names another client_msg_id", field="envelope")
    if header.generation != cmd.generation:
        return EnvelopeMismatch(
            "envelope.generation differs from the envelope's header", field="envelope.generation"
        )
    return None


def check_generation(conv: ConversationRecord, generation: int | None) -> None:
    """An envelope is sealed under the conversation's current key set, and nobody joined, left
    or rotated their PUK since it was made; else the client makes or fetches the next one."""
    if generation != conv.key_generation or conv.keys_stale:
        raise StaleKeyGeneration(conv.key_generation, conv.keys_stale)


def _follow(leader: SendResult | Exception | None, cmd: SendCommand) -> SendResult | Exception:
    """The outcome of a send that repeats a stored one, or an earlier send of the same batch:
    the original ack; the same id for another conversation is a client bug."""
    if not isinstance(leader, SendResult):
        return leader if isinstance(leader, Exception) else AssertionError("no leader outcome")
    if leader.message.conversation_id != cmd.conversation_id:
        return ClientMessageIdReused(field="client_msg_id")
    return SendResult(leader.message, duplicate=True)


_CLIENT_MSG_ID = re.compile(r"[0-9a-f]{32}")


def validate_client_msg_id(value: str) -> None:
    if _CLIENT_MSG_ID.fullmatch(value) is None:
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
        # The devices-table read was most of an envelope's extra cost (docs/performance.md).
        self._certified = SeenRecently[uuid.UUID](clock, ttl_s=30.0, max_size=100_000)
        self._batches: GroupCommit[_Send, SendResult] = GroupCommit(
            self._store_batch,
            max_batch=limits.send_batch_max,
            workers=limits.send_batch_workers,
            spill_at=limits.send_batch_spill,
        )
        self._resume_checks: GroupCommit[_Pairs, dict[tuple[uuid.UUID, uuid.UUID], int]] = (
            GroupCommit(
                self._last_seqs,
                max_batch=RESUME_BATCH_MAX,
                workers=RESUME_BATCH_WORKERS,
                spill_at=RESUME_BATCH_SPILL,
            )
        )

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
                raise ValidationFailed(
                    "envelope generation must be >= 0", field="envelope.generation"
                )
            if not cmd.ciphertext:
                raise ValidationFailed("the ciphertext is empty", field="envelope.ciphertext")
            if len(cmd.ciphertext) > self._limits.max_ciphertext_bytes:
                # Field names are the wire's (HTTP and WebSocket send `envelope.ciphertext`).
                raise PayloadTooLarge("the ciphertext is too large", field="envelope.ciphertext")

    async def send(self, principal: Principal, cmd: SendCommand) -> SendResult:
        self._validate(cmd)
        verdict = check_envelope(principal, cmd) if cmd.ciphertext is not None else None
        started = time.perf_counter()
        # Keyed by socket: a socket's pipelined sends never sit in two batches in flight at
        # once, so a later one cannot commit before an earlier one (seq follows send order).
        result = await self._batches.submit((principal, cmd, verdict), key=cmd.origin)
        self._metrics.send_latency.observe(time.perf_counter() - started)
        if not result.duplicate:
            kind = "envelope" if cmd.ciphertext is not None else "text"
            self._metrics.messages_sent.labels(kind).inc()
        return result

    async def _store_batch(self, sends: list[_Send]) -> list[SendResult | Exception]:
        """Store validated sends in one transaction, then publish what was stored.

        Per-send refusals (not a member, wrong payload kind, reused id) fail only that send. A
        failing transaction (say a concurrent retry won the unique index on another node, or a
        value the database refuses) is retried send by send, so one bad send fails alone.
        """
        self._metrics.send_batch_size.observe(len(sends))
        try:
            outcomes, stored = await self._store_together(sends)
        except ServiceUnavailable as exc:
            return [exc] * len(sends)
        except HushroomError:
            outcomes, stored = [], []
            for send in sends:
                one, one_stored = await self._store_alone(send)
                outcomes += one
                stored += one_stored
        # The sending socket had the ack: no echo to it (the first socket, when a retry from
        # another socket shared the batch; that one gets its duplicate ack and the echo).
        origins: dict[tuple[uuid.UUID, str], str] = {}
        for principal, cmd, _verdict in sends:
            if cmd.origin is not None:
                origins.setdefault((principal.device_id, cmd.client_msg_id), cmd.origin)
        # Committed: now the fast path.
        await self._events.publish_many(
            [
                Event(
                    type="message.new",
                    payload={"message": message_view(record)},
                    recipients=frozenset(recipients),
                    conversation_id=record.conversation_id,
                    seq=record.seq,
                    exclude_connection=(
                        origins.get((record.sender_device_id, record.client_msg_id))
                        if origins
                        else None
                    ),
                )
                for record, recipients in stored
            ]
        )
        return outcomes

    async def _store_together(
        self, sends: list[_Send]
    ) -> tuple[list[SendResult | Exception], list[tuple[MessageRecord, list[uuid.UUID]]]]:
        now = self._clock.now_ms()
        outcomes: list[SendResult | Exception | None] = [None] * len(sends)
        # The same (device, client_msg_id) twice in one batch: the later ones follow the first.
        first: dict[tuple[uuid.UUID, str], int] = {}
        followers: list[tuple[int, int]] = []
        stored: list[tuple[MessageRecord, list[uuid.UUID]]] = []
        # On PostgreSQL prepared statements on the driver connection (storage/send_batch.py).
        async with self._storage.send_batch() as tx:
            keys = [(p.device_id, cmd.client_msg_id) for p, cmd, _v in sends]
            existing = await tx.by_client_ids(keys)
            fresh: list[int] = []
            for i, key in enumerate(keys):
                if key in first:
                    followers.append((i, first[key]))
                    continue
                first[key] = i
                found = existing.get(key)
                if found is None:
                    fresh.append(i)
                else:
                    outcomes[i] = _follow(SendResult(found, duplicate=True), sends[i][1])
            conv_ids = {sends[i][1].conversation_id for i in fresh}
            locked = await tx.lock_with_member_ids(conv_ids)
            convs = {cid: lock.conversation for cid, lock in locked.items()}
            member_ids = {cid: set(lock.member_ids) for cid, lock in locked.items()}
            last_seqs = {cid: conv.last_seq for cid, conv in convs.items()}
            # Envelopes come from certified devices only: at most one query for the batch's
            # devices, none when they were all seen certified moments ago.
            envelope_devices = {sends[i][0].device_id for i in fresh if sends[i][1].ciphertext}
            certified = await self._certified.which(envelope_devices, tx.certified_ids)
            rows: list[tuple[NewMessage, int]] = []
            accepted: list[int] = []
            for i in fresh:
                principal, cmd, verdict = sends[i]
                try:
                    conv = access.require_member(
                        convs.get(cmd.conversation_id),
                        principal.user_id in member_ids.get(cmd.conversation_id, ()),
                    )
                    access.check_payload_kind(
                        conv,
                        has_body=cmd.body is not None,
                        has_envelope=cmd.ciphertext is not None,
                    )
                    if cmd.ciphertext is not None:
                        if verdict is not None:
                            raise verdict
                        access.require_certified(principal.device_id in certified)
                        check_generation(conv, cmd.generation)
                except HushroomError as exc:
                    outcomes[i] = exc
                    continue
                last_seqs[conv.id] += 1
                rows.append((self._new_message(principal, cmd, now), last_seqs[conv.id]))
                accepted.append(i)
            if rows:
                # Also marks each message read by its sender (your own message is never unread).
                records = await tx.insert_many(
                    rows,
                    {cid: seq for cid, seq in last_seqs.items() if seq != convs[cid].last_seq},
                )
                # A message brings back a conversation its members hid (not an ignored
                # request); the lock told whether anyone hid it, so usually nothing runs here.
                await tx.unhide_for_senders(
                    {
                        (r.conversation_id, r.sender_id)
                        for r in records
                        if locked[r.conversation_id].has_hidden
                    }
                )
                for i, record in zip(accepted, records, strict=True):
                    outcomes[i] = SendResult(record, duplicate=False)
                    lock = locked[record.conversation_id]
                    # Silent members (ignored requests, docs/decisions/0006) are not pushed to.
                    stored.append(
                        (record, [m for m in lock.member_ids if m not in lock.silent_ids])
                    )
        for i, leader in followers:
            outcomes[i] = _follow(outcomes[leader], sends[i][1])
        return [o if o is not None else AssertionError("send left unsorted") for o in outcomes], (
            stored
        )

    async def _store_alone(
        self, send: _Send
    ) -> tuple[list[SendResult | Exception], list[tuple[MessageRecord, list[uuid.UUID]]]]:
        """One send as a batch of its own. A concurrent retry of the same client_msg_id can lose
        the unique-index race; the second attempt then finds the winner as a duplicate."""
        for attempt in range(2):
            try:
                return await self._store_together([send])
            except WriteConflict as exc:
                if attempt == 1:
                    return [exc], []
            except HushroomError as exc:
                return [exc], []
        raise AssertionError("unreachable")

    @staticmethod
    def _new_message(principal: Principal, cmd: SendCommand, now_ms: int) -> NewMessage:
        return NewMessage(
            conversation_id=cmd.conversation_id,
            sender_id=principal.user_id,
            sender_device_id=principal.device_id,
            client_msg_id=cmd.client_msg_id,
            created_at=now_ms,
            body=cmd.body,
            generation=cmd.generation,
            ciphertext=cmd.ciphertext,
        )

    async def history(
        self,
        principal: Principal,
        conversation_id: uuid.UUID,
        *,
        before_seq: int | None = None,
        after_seq: int | None = None,
        limit: int = 50,
    ) -> HistoryPage:
        """A page of messages in ascending seq: without a position the latest page."""
        limit = max(1, min(limit, MAX_PAGE))
        async with self._storage.read() as tx:
            conv, _member = await access.access_read(tx, principal.user_id, conversation_id)
            if before_seq is None and after_seq is None:
                before_seq = conv.last_seq + 1
            messages = await tx.messages.page(
                conversation_id, before_seq=before_seq, after_seq=after_seq, limit=limit
            )
        return HistoryPage(
            messages=messages,
            has_more_before=bool(messages) and messages[0].seq > 1,
            last_seq=conv.last_seq,
        )

    async def missed(
        self, principal: Principal, positions: dict[uuid.UUID, int], max_messages: int
    ) -> ResumePlan:
        """Messages after each position, for conversations the user is (still) a member of.

        Conversations where more than `max_messages` were missed are reported as gaps, to page
        over HTTP, so a reconnect never floods one socket.
        """
        plan = ResumePlan()
        pairs = [(principal.user_id, conv_id) for conv_id in positions]
        if not pairs:
            return plan
        if len(pairs) <= RESUME_BATCHED_POSITIONS_MAX:
            last = await self._resume_checks.submit(pairs)
        else:
            last = await self._read_last_seqs(pairs)
        behind = [
            (conv_id, after, last[(principal.user_id, conv_id)])
            for conv_id, after in positions.items()
            if last.get((principal.user_id, conv_id), after) > after
        ]
        if not behind:
            return plan
        async with self._storage.read() as tx:
            for conv_id, after, last_seq in behind:
                if last_seq - after > max_messages:
                    plan.gaps.append((conv_id, after, last_seq))
                    continue
                msgs = await tx.messages.page(conv_id, after_seq=after, limit=max_messages)
                plan.batches.append((conv_id, msgs, msgs[-1].seq if msgs else after))
        return plan

    async def _last_seqs(
        self, batch: list[_Pairs]
    ) -> list[dict[tuple[uuid.UUID, uuid.UUID], int] | Exception]:
        """Resume checks: each (user, conversation) pair's last seq, for many resumes at once."""
        found = await self._read_last_seqs({pair for pairs in batch for pair in pairs})
        return [{pair: found[pair] for pair in pairs if pair in found} for pairs in batch]

    async def _read_last_seqs(
        self, pairs: Collection[tuple[uuid.UUID, uuid.UUID]]
    ) -> dict[tuple[uuid.UUID, uuid.UUID], int]:
        async with self._storage.read() as tx:
            return await tx.conversations.last_seqs_of_members(pairs)

    async def mark_read(self, principal: Principal, conversation_id: uuid.UUID, seq: int) -> bool:
        if seq < 0:
            raise ValidationFailed("seq must be >= 0", field="seq")
        async with self._storage.write() as tx:
            conv, member = await access.access_member(tx, principal.user_id, conversation_id)
            seq = min(seq, conv.last_seq)
            moved = await tx.members.set_read(conversation_id, principal.user_id, seq)
            # Until the reader accepts the conversation only their own devices learn the
            # position; after that everyone but users on either side of a block (decision 0006).
            recipients: list[uuid.UUID] = []
            if moved and not member.accepted:
                recipients = [principal.user_id]
            elif moved:
                recipients = await tx.members.audience(conversation_id, principal.user_id)
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
