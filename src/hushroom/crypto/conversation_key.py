"""Conversation keys: key-set generations sealed to members' PUKs and signed by the creating
device (docs/crypto.md §8.1–§8.3)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Final

from hushroom.crypto.device import DeviceCertificate, DeviceKey
from hushroom.crypto.encoding import (
    check_ident,
    decode,
    decode_signed,
    encode,
    encode_signed,
)
from hushroom.crypto.errors import (
    ContextMismatch,
    KeyCommitmentMismatch,
    Malformed,
    NotAMember,
    WrongGeneration,
)
from hushroom.crypto.primitives import (
    KEY_SIZE,
    RandomSource,
    Secret,
    constant_time_equal,
    hmac_sha256,
    hpke_seal,
    system_random,
)
from hushroom.crypto.puk import PukCertificate, PukKeyPair

KEY_SET_LABEL: Final = "hushroom/v1/key-set"
MEMBER_LABEL: Final = "hushroom/v1/key-set-member"
SEAL_INFO_LABEL: Final = "hushroom/v1/ck-seal"
BOX_LABEL: Final = "hushroom/v1/key-set-box"
UPLOAD_LABEL: Final = "hushroom/v1/key-set-upload"
COMMIT_LABEL: Final = b"hushroom/v1/ck-commit"
MAX_MEMBERS: Final = 1000


class ConversationKey(Secret):
    """CK of one (conversation, generation)."""

    __slots__ = ("conversation_id", "generation")

    def __init__(self, conversation_id: str, generation: int, key: bytes) -> None:
        if len(key) != KEY_SIZE:
            raise Malformed("conversation key must be 32 bytes")
        super().__init__(key)
        self.conversation_id = conversation_id
        self.generation = generation

    def commitment(self) -> bytes:
        return key_commitment(self.reveal())

    def __repr__(self) -> str:
        return (
            f"ConversationKey(conversation_id={self.conversation_id!r}, "
            f"generation={self.generation}, key=<redacted>)"
        )

    __str__ = __repr__


def key_commitment(key: bytes) -> bytes:
    """``HMAC-SHA256(CK, "hushroom/v1/ck-commit")``."""
    return hmac_sha256(key, COMMIT_LABEL)


@dataclass(frozen=True, slots=True, order=True)
class KeySetMember:
    user_id: str
    puk_generation: int

    def encode(self) -> bytes:
        return encode(MEMBER_LABEL, 1, [check_ident(self.user_id), self.puk_generation])


@dataclass(frozen=True, slots=True)
class KeySetStatement:
    """A decoded key-set statement (verified if it came from :func:`verify_key_set`)."""

    conversation_id: str
    generation: int
    creator_user_id: str
    creator_device_id: str
    created_at: int
    members: tuple[KeySetMember, ...]
    commitment: bytes
    encoded: bytes

    def member(self, user_id: str) -> KeySetMember | None:
        for member in self.members:
            if member.user_id == user_id:
                return member
        return None

    @property
    def member_ids(self) -> frozenset[str]:
        return frozenset(m.user_id for m in self.members)


@dataclass(frozen=True, slots=True)
class KeySetUpload:
    """The signed statement and one HPKE box per member (keyed by user id, member order)."""

    statement: bytes
    boxes: dict[str, bytes]

    def encode(self) -> bytes:
        return encode(UPLOAD_LABEL, 1, [self.statement, list(self.boxes.values())])

    @classmethod
    def decode(cls, data: bytes) -> KeySetUpload:
        record = decode(data, UPLOAD_LABEL, 1, 2)
        boxes: dict[str, bytes] = {}
        for box in record.items(1):
            recipient, _ = decode_box(box)
            if recipient in boxes:
                raise Malformed("two boxes for one member")
            boxes[recipient] = box
        return cls(record.raw(0), boxes)


def _check_members(members: Sequence[KeySetMember], creator_user_id: str) -> None:
    keys = [m.user_id.encode("utf-8") for m in members]
    if not 1 <= len(members) <= MAX_MEMBERS:
        raise Malformed("a key set has 1..1000 members")
    if any(a >= b for a, b in pairwise(keys)):
        raise Malformed("members must be sorted by user id and unique")
    if any(m.puk_generation < 1 for m in members):
        raise Malformed("PUK generations must be >= 1")
    if creator_user_id not in {m.user_id for m in members}:
        raise NotAMember("the creator is not a member")


def seal_info(
    conversation_id: str,
    generation: int,
    recipient: KeySetMember,
    commitment: bytes,
    creator_user_id: str,
    creator_device_id: str,
) -> bytes:
    """HPKE ``info`` binding every piece of context of one box."""
    return encode(
        SEAL_INFO_LABEL,
        1,
        [
            conversation_id,
            generation,
            recipient.user_id,
            recipient.puk_generation,
            commitment,
            creator_user_id,
            creator_device_id,
        ],
    )


def encode_box(recipient_user_id: str, sealed: bytes) -> bytes:
    return encode(BOX_LABEL, 1, [check_ident(recipient_user_id), sealed])


def decode_box(box: bytes) -> tuple[str, bytes]:
    record = decode(box, BOX_LABEL, 1, 2)
    return record.ident(0), record.raw(1)


def create_key_set(
    conversation_id: str,
    generation: int,
    creator_device: DeviceKey,
    creator_certificate: DeviceCertificate,
    members: Sequence[PukCertificate],
    created_at: int,
    random: RandomSource = system_random,
) -> tuple[ConversationKey, KeySetUpload]:
    """Create generation ``generation`` for ``members`` (verified PUK certificates, one each).

    Raises :class:`NotAMember` if the creator is not among ``members``.
    """
    if generation < 1:
        raise Malformed("generation must be >= 1")
    if creator_device.public_key != creator_certificate.public_key:
        raise ContextMismatch("device key does not match its certificate")
    ordered = sorted(members, key=lambda c: c.user_id.encode("utf-8"))
    entries = [KeySetMember(c.user_id, c.generation) for c in ordered]
    creator_user_id = creator_certificate.user_id
    creator_device_id = creator_certificate.device_id
    _check_members(entries, creator_user_id)
    key = ConversationKey(check_ident(conversation_id), generation, random(KEY_SIZE))
    commitment = key.commitment()
    tbs = encode(
        KEY_SET_LABEL,
        1,
        [
            conversation_id,
            generation,
            creator_user_id,
            creator_device_id,
            created_at,
            [e.encode() for e in entries],
            commitment,
        ],
    )
    statement = encode_signed(tbs, creator_device.sign(tbs))
    boxes = {}
    for entry, certificate in zip(entries, ordered, strict=True):
        info = seal_info(
            conversation_id, generation, entry, commitment, creator_user_id, creator_device_id
        )
        sealed = hpke_seal(certificate.public_key, info, key.reveal())
        boxes[entry.user_id] = encode_box(entry.user_id, sealed)
    return key, KeySetUpload(statement, boxes)


def verify_key_set(
    statement: bytes,
    creator_certificate: DeviceCertificate,
    conversation_id: str,
    generation: int,
    expected_members: Collection[str],
) -> KeySetStatement:
    """Receiver checks of docs/crypto.md §8.3 (everything but opening a box).

    ``creator_certificate`` must already be verified under the creator's pinned identity key;
    ``expected_members`` comes from the verified membership log.
    """
    tbs, signature = decode_signed(statement)
    creator_certificate.verify(tbs, signature)
    record = decode(tbs, KEY_SET_LABEL, 1, 7)
    members: list[KeySetMember] = []
    for item in record.items(5):
        entry = decode(item, MEMBER_LABEL, 1, 2)
        members.append(KeySetMember(entry.ident(0), entry.integer(1)))
    parsed = KeySetStatement(
        conversation_id=record.ident(0),
        generation=record.integer(1),
        creator_user_id=record.ident(2),
        creator_device_id=record.ident(3),
        created_at=record.integer(4),
        members=tuple(members),
        commitment=record.fixed(6, 32),
        encoded=bytes(statement),
    )
    if (parsed.creator_user_id, parsed.creator_device_id) != (
        creator_certificate.user_id,
        creator_certificate.device_id,
    ):
        raise ContextMismatch("key set was signed by another device")
    if parsed.conversation_id != conversation_id:
        raise ContextMismatch("key set is for another conversation")
    if parsed.generation != generation:
        raise WrongGeneration("key set is for another generation")
    _check_members(parsed.members, parsed.creator_user_id)
    if parsed.member_ids != frozenset(expected_members):
        raise NotAMember("key set members differ from the membership log")
    return parsed


def open_key_set(
    statement: KeySetStatement,
    box: bytes,
    user_id: str,
    puks: Mapping[int, PukKeyPair],
) -> ConversationKey:
    """Open the receiver's box of a verified key set and check the key commitment."""
    member = statement.member(user_id)
    if member is None:
        raise NotAMember("not a member of this key set")
    puk = puks.get(member.puk_generation)
    if puk is None:
        raise WrongGeneration("sealed to a PUK generation this user does not hold")
    recipient, sealed = decode_box(box)
    if recipient != user_id:
        raise Malformed("box is for another member")
    info = seal_info(
        statement.conversation_id,
        statement.generation,
        member,
        statement.commitment,
        statement.creator_user_id,
        statement.creator_device_id,
    )
    key = puk.open(sealed, info)
    if len(key) != KEY_SIZE:
        raise Malformed("sealed conversation key must be 32 bytes")
    if not constant_time_equal(key_commitment(key), statement.commitment):
        raise KeyCommitmentMismatch("conversation key does not match the signed commitment")
    return ConversationKey(statement.conversation_id, statement.generation, key)
