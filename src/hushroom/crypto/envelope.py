"""Message envelopes (docs/crypto.md §8.4) and the per-device counter tracker (§8.5)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Final

from hushroom.crypto.conversation_key import ConversationKey, KeySetStatement
from hushroom.crypto.device import DeviceCertificate, DeviceKey
from hushroom.crypto.encoding import check_ident, decode, encode
from hushroom.crypto.errors import (
    ContextMismatch,
    Malformed,
    NotAMember,
    ReplayDetected,
    WrongGeneration,
)
from hushroom.crypto.primitives import (
    ED25519_SIGNATURE_SIZE,
    GCM_NONCE_SIZE,
    RandomSource,
    aes_gcm_open,
    aes_gcm_seal,
    hkdf_sha256,
    system_random,
)

HEADER_LABEL: Final = "hushroom/v1/msg-header"
SIGNATURE_LABEL: Final = "hushroom/v1/msg-sig"
ENVELOPE_LABEL: Final = "hushroom/v1/envelope"
INFO_MESSAGE: Final = b"hushroom/v1/msg"
SALT_SIZE: Final = 32
MAX_PLAINTEXT: Final = 65536
MAX_MISSING_TRACKED: Final = 1024


@dataclass(frozen=True, slots=True)
class Header:
    conversation_id: str
    generation: int
    sender_user_id: str
    sender_device_id: str
    client_message_id: str
    timestamp: int
    counter: int
    salt: bytes
    nonce: bytes

    def encode(self) -> bytes:
        return encode(
            HEADER_LABEL,
            1,
            [
                check_ident(self.conversation_id),
                self.generation,
                check_ident(self.sender_user_id),
                check_ident(self.sender_device_id),
                check_ident(self.client_message_id),
                self.timestamp,
                self.counter,
                self.salt,
                self.nonce,
            ],
        )

    @classmethod
    def decode(cls, data: bytes) -> Header:
        record = decode(data, HEADER_LABEL, 1, 9)
        header = cls(
            conversation_id=record.ident(0),
            generation=record.integer(1),
            sender_user_id=record.ident(2),
            sender_device_id=record.ident(3),
            client_message_id=record.ident(4),
            timestamp=record.integer(5),
            counter=record.integer(6),
            salt=record.fixed(7, SALT_SIZE),
            nonce=record.fixed(8, GCM_NONCE_SIZE),
        )
        if header.generation < 1 or header.counter < 1:
            raise Malformed("generation and counter start at 1")
        return header


@dataclass(frozen=True, slots=True)
class Envelope:
    header: bytes
    ciphertext: bytes
    signature: bytes

    def encode(self) -> bytes:
        return encode(ENVELOPE_LABEL, 1, [self.header, self.ciphertext, self.signature])

    @classmethod
    def decode(cls, data: bytes) -> Envelope:
        record = decode(data, ENVELOPE_LABEL, 1, 3)
        return cls(record.raw(0), record.raw(1), record.fixed(2, ED25519_SIGNATURE_SIZE))


@dataclass(frozen=True, slots=True)
class OpenedMessage:
    header: Header
    plaintext: bytes

    def __repr__(self) -> str:
        return f"OpenedMessage(header={self.header!r}, plaintext=<redacted {len(self.plaintext)}>)"


def message_key(key: ConversationKey, salt: bytes) -> bytes:
    """``HKDF(CK, salt, info="hushroom/v1/msg")``."""
    return hkdf_sha256(key.reveal(), salt=salt, info=INFO_MESSAGE)


def signature_input(header: bytes, ciphertext: bytes) -> bytes:
    return encode(SIGNATURE_LABEL, 1, [header, ciphertext])


def seal_envelope(
    key: ConversationKey,
    device: DeviceKey,
    *,
    sender_user_id: str,
    sender_device_id: str,
    client_message_id: str,
    timestamp: int,
    counter: int,
    plaintext: bytes,
    random: RandomSource = system_random,
) -> bytes:
    """Encrypt and sign one message under ``key``; returns the encoded envelope."""
    if len(plaintext) > MAX_PLAINTEXT:
        raise Malformed("plaintext larger than 64 KiB")
    if counter < 1:
        raise Malformed("counter starts at 1")
    salt = random(SALT_SIZE)
    nonce = random(GCM_NONCE_SIZE)
    header = Header(
        conversation_id=key.conversation_id,
        generation=key.generation,
        sender_user_id=sender_user_id,
        sender_device_id=sender_device_id,
        client_message_id=client_message_id,
        timestamp=timestamp,
        counter=counter,
        salt=salt,
        nonce=nonce,
    ).encode()
    ciphertext = aes_gcm_seal(message_key(key, salt), nonce, plaintext, header)
    signature = device.sign(signature_input(header, ciphertext))
    return Envelope(header, ciphertext, signature).encode()


def peek_header(envelope: bytes) -> Header:
    """Decode the (unverified) header, e.g. to look up the generation and sender."""
    return Header.decode(Envelope.decode(envelope).header)


def open_envelope(
    envelope: bytes,
    *,
    conversation_id: str,
    keys: Mapping[int, ConversationKey],
    key_sets: Mapping[int, KeySetStatement],
    sender_certificate: DeviceCertificate,
) -> OpenedMessage:
    """Receiver checks of docs/crypto.md §8.4, in order; the counter check is separate.

    ``keys``/``key_sets`` map generation → opened CK / verified key set of this conversation;
    ``sender_certificate`` is the verified certificate of the header's sender device.
    """
    parsed = Envelope.decode(envelope)
    header = Header.decode(parsed.header)
    if header.conversation_id != conversation_id:
        raise ContextMismatch("envelope is for another conversation")
    key = keys.get(header.generation)
    key_set = key_sets.get(header.generation)
    if key is None or key_set is None or key.conversation_id != conversation_id:
        raise WrongGeneration("no conversation key for this generation")
    if (header.sender_user_id, header.sender_device_id) != (
        sender_certificate.user_id,
        sender_certificate.device_id,
    ):
        raise ContextMismatch("sender device certificate does not match the header")
    if key_set.member(header.sender_user_id) is None:
        raise NotAMember("sender is not a member of this generation")
    sender_certificate.verify(signature_input(parsed.header, parsed.ciphertext), parsed.signature)
    plaintext = aes_gcm_open(
        message_key(key, header.salt), header.nonce, parsed.ciphertext, parsed.header
    )
    return OpenedMessage(header, plaintext)


class CounterVerdict(Enum):
    IN_ORDER = "in_order"
    GAP = "gap"
    LATE = "late"


@dataclass(frozen=True, slots=True)
class CounterResult:
    verdict: CounterVerdict
    missing: range = range(0)
    """For ``GAP``: the counters skipped (dropped or delayed by the server)."""


@dataclass(slots=True)
class _Stream:
    highest: int = 0
    missing: set[int] = field(default_factory=set)


class CounterTracker:
    """Replay/reorder/drop detection per (sender device, conversation); pure, in memory."""

    def __init__(self, max_missing: int = MAX_MISSING_TRACKED) -> None:
        self._streams: dict[tuple[str, str], _Stream] = {}
        self._max_missing = max_missing

    def observe(self, sender_device_id: str, conversation_id: str, counter: int) -> CounterResult:
        """Record a verified envelope's counter; raises :class:`ReplayDetected` on a repeat."""
        if counter < 1:
            raise Malformed("counter starts at 1")
        stream = self._streams.setdefault((sender_device_id, conversation_id), _Stream())
        if counter == stream.highest + 1:
            stream.highest = counter
            return CounterResult(CounterVerdict.IN_ORDER)
        if counter > stream.highest + 1:
            skipped = range(stream.highest + 1, counter)
            stream.missing.update(skipped[-self._max_missing :])
            if len(stream.missing) > self._max_missing:
                for old in sorted(stream.missing)[: len(stream.missing) - self._max_missing]:
                    stream.missing.discard(old)
            stream.highest = counter
            return CounterResult(CounterVerdict.GAP, skipped)
        if counter in stream.missing:
            stream.missing.discard(counter)
            return CounterResult(CounterVerdict.LATE)
        raise ReplayDetected("envelope counter already seen")

    def snapshot(self) -> dict[tuple[str, str], tuple[int, tuple[int, ...]]]:
        """``(device, conversation) -> (highest, missing)`` for the caller to persist."""
        return {k: (v.highest, tuple(sorted(v.missing))) for k, v in self._streams.items()}

    @classmethod
    def restore(
        cls,
        state: Mapping[tuple[str, str], tuple[int, tuple[int, ...]]],
        max_missing: int = MAX_MISSING_TRACKED,
    ) -> CounterTracker:
        tracker = cls(max_missing)
        for key, (highest, missing) in state.items():
            if any(not 1 <= m < highest for m in missing):
                raise Malformed("missing counters must lie below the highest")
            tracker._streams[key] = _Stream(highest, set(missing))
        return tracker

    def observe_header(self, header: Header) -> CounterResult:
        return self.observe(header.sender_device_id, header.conversation_id, header.counter)
