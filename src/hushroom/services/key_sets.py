"""Key sets of private conversations: one signed statement and one sealed box per member for each
generation (docs/crypto.md §8.1–§8.2, docs/decisions/0005).

The server cannot open a box; it checks what it can before storing an upload: it decodes, the
statement is signed by the caller's own certified device and names this conversation and
generation, its members are exactly the current members at their latest PUK generation, and
there is one box per member. The generation is the current one + 1; of two racing uploads the
primary key lets one win and the other gets `key_generation_taken`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from hushroom import access
from hushroom.clock import Clock
from hushroom.crypto.conversation_key import KeySetStatement, KeySetUpload, verify_key_set
from hushroom.crypto.device import DeviceCertificate, verify_device_certificate
from hushroom.crypto.errors import CryptoError, NotAMember, WrongGeneration
from hushroom.crypto.identity import IdentityPublicKey
from hushroom.errors import (
    InvalidKeyMaterial,
    KeyGenerationTaken,
    KeySetOutdated,
    NotFound,
    PayloadTooLarge,
    ValidationFailed,
    WriteConflict,
)
from hushroom.principal import Principal
from hushroom.storage.conversations import ConversationRecord, KeySetRecord
from hushroom.storage.unit import Repos, Storage

# 1000 members × (1168-byte HPKE box + framing) plus the statement, with room to spare.
MAX_UPLOAD_BYTES = 1_400_000
MAX_PAGE = 100


@dataclass(frozen=True, slots=True)
class KeySetPage:
    key_sets: list[tuple[KeySetRecord, bytes]]
    current_generation: int
    stale: bool


async def device_certificate(
    tx: Repos, user_id: uuid.UUID, device_id: uuid.UUID
) -> DeviceCertificate | None:
    """The device's certificate, verified under the user's stored identity key; None when the
    device is unknown, someone else's, revoked or uncertified, or its certificate fails."""
    device = await tx.devices.get(device_id)
    if device is None or device.user_id != user_id or device.revoked_at is not None:
        return None
    if device.certificate is None:
        return None
    user = await tx.users.get(user_id)
    if user is None or user.keys is None:
        return None
    try:
        return verify_device_certificate(
            device.certificate,
            IdentityPublicKey(user.keys.identity_key),
            str(user_id),
            str(device_id),
        )
    except CryptoError:
        return None


def _verified(
    upload: KeySetUpload,
    certificate: DeviceCertificate,
    conv: ConversationRecord,
    generation: int,
    member_ids: list[uuid.UUID],
) -> KeySetStatement:
    try:
        statement = verify_key_set(
            upload.statement,
            certificate,
            str(conv.id),
            generation,
            expected_members={str(m) for m in member_ids},
        )
    except NotAMember:
        # The caller is a member (checked before), so the list differs from today's members:
        # someone joined or left since the client read them.
        raise KeySetOutdated(
            "the key set's members are not the conversation's members", field="upload"
        ) from None
    except WrongGeneration:
        raise ValidationFailed(
            "the statement is for another generation than the request", field="generation"
        ) from None
    except CryptoError as exc:
        raise InvalidKeyMaterial(f"upload: {exc}", field="upload") from None
    if set(upload.boxes) != set(statement.member_ids):
        raise InvalidKeyMaterial("upload: one box per member is required", field="upload")
    return statement


class KeySetService:
    def __init__(self, storage: Storage, clock: Clock) -> None:
        self._storage = storage
        self._clock = clock

    async def upload(
        self, principal: Principal, conversation_id: uuid.UUID, generation: int, data: bytes
    ) -> int:
        if len(data) > MAX_UPLOAD_BYTES:
            raise PayloadTooLarge("the key set upload is too large", field="upload")
        try:
            upload = KeySetUpload.decode(data)
        except CryptoError as exc:
            raise InvalidKeyMaterial(f"upload: {exc}", field="upload") from None
        now = self._clock.now_ms()
        try:
            async with self._storage.write() as tx:
                await access.access_key_sets(tx, principal.user_id, conversation_id)
                # Locked: two uploads for one conversation queue here (PostgreSQL), so the
                # second sees the first's generation; the primary key backs this up.
                conv = await tx.conversations.lock(conversation_id)
                assert conv is not None  # checked by access_key_sets in this transaction
                if generation <= conv.key_generation:
                    raise KeyGenerationTaken(
                        field="generation", extra={"current_generation": conv.key_generation}
                    )
                if generation != conv.key_generation + 1:
                    raise ValidationFailed(
                        f"the next generation is {conv.key_generation + 1}", field="generation"
                    )
                certificate = access.require_certificate(
                    await device_certificate(tx, principal.user_id, principal.device_id)
                )
                member_ids = await tx.members.user_ids(conv.id)
                statement = _verified(upload, certificate, conv, generation, member_ids)
                latest = await tx.puks.latest_generations(member_ids)
                if any(
                    latest.get(uuid.UUID(m.user_id)) != m.puk_generation for m in statement.members
                ):
                    raise KeySetOutdated(
                        "a member's PUK generation is not their latest", field="upload"
                    )
                record = KeySetRecord(
                    conversation_id=conv.id,
                    generation=generation,
                    creator_user_id=principal.user_id,
                    creator_device_id=principal.device_id,
                    statement=upload.statement,
                    membership_index=conv.log_index if conv.kind == "group" else None,
                    created_at=now,
                )
                await tx.key_sets.add(
                    record, {uuid.UUID(uid): box for uid, box in upload.boxes.items()}
                )
                if not await tx.conversations.set_key_generation(conv.id, generation):
                    raise KeyGenerationTaken(field="generation")
        except WriteConflict:
            # The primary key (conversation, generation) refused a racing upload.
            raise KeyGenerationTaken(field="generation") from None
        return generation

    async def page(
        self, principal: Principal, conversation_id: uuid.UUID, after: int, limit: int
    ) -> KeySetPage:
        """Generations after `after` that hold a box for the caller, with the caller's box."""
        async with self._storage.read() as tx:
            conv, _m = await access.access_key_sets(tx, principal.user_id, conversation_id)
            rows = await tx.key_sets.for_member(
                conv.id, principal.user_id, max(0, after), max(1, min(limit, MAX_PAGE))
            )
        return KeySetPage(rows, conv.key_generation, conv.keys_stale)

    async def get(
        self, principal: Principal, conversation_id: uuid.UUID, generation: int
    ) -> tuple[KeySetRecord, bytes]:
        async with self._storage.read() as tx:
            await access.access_key_sets(tx, principal.user_id, conversation_id)
            found = await tx.key_sets.get_for_member(conversation_id, generation, principal.user_id)
        if found is None:
            raise NotFound("no key set of this generation for you", field="generation")
        return found
