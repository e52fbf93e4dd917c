"""Shared helpers of the crypto tests: vector loading, error lookup, small fixtures."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from hushroom.crypto.conversation_key import KeySetMember, KeySetStatement
from hushroom.crypto.device import DeviceCertificate, DeviceKey, certify_device
from hushroom.crypto.errors import ERROR_TYPES, CryptoError
from hushroom.crypto.identity import IdentityKey
from hushroom.crypto.primitives import SeededRandom
from hushroom.crypto.puk import PukCertificate, PukKeyPair, certify_puk

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "spec" / "vectors"
EXTERNAL = VECTORS / "external"


@cache
def load(name: str) -> dict[str, Any]:
    return json.loads((VECTORS / f"{name}.json").read_text())  # type: ignore[no-any-return]


@cache
def load_external(path: str) -> Any:
    return json.loads((EXTERNAL / path).read_text())


def x(value: str) -> bytes:
    return bytes.fromhex(value)


def ids(vectors: list[dict[str, Any]]) -> list[str]:
    return [v["name"] for v in vectors]


@contextlib.contextmanager
def expect(error: str | None) -> Iterator[None]:
    """Expect the typed error named ``error`` (exactly that class), or none."""
    if error is None:
        yield
        return
    with pytest.raises(CryptoError) as info:
        yield
    assert type(info.value) is ERROR_TYPES[error], f"{type(info.value).__name__} != {error}"


class User:
    """A test user with an identity key, a device and a PUK, all certified."""

    def __init__(self, user_id: str, random: SeededRandom, puk_generation: int = 1) -> None:
        self.user_id = user_id
        self.identity = IdentityKey.generate(random)
        self.device = DeviceKey.generate(random)
        self.device_id = f"{user_id}-dev"
        self.puks = {puk_generation: PukKeyPair.generate(puk_generation, random)}
        self.device_cert: DeviceCertificate = certify_device(
            self.identity, user_id, self.device_id, self.device.public_key, 1
        )
        self.puk_certs: dict[int, PukCertificate] = {
            puk_generation: certify_puk(self.identity, user_id, self.puks[puk_generation], 1)
        }

    @property
    def puk_cert(self) -> PukCertificate:
        return self.puk_certs[max(self.puk_certs)]

    def rotate_puk(self, random: SeededRandom) -> None:
        generation = max(self.puks) + 1
        self.puks[generation] = PukKeyPair.generate(generation, random)
        self.puk_certs[generation] = certify_puk(
            self.identity, self.user_id, self.puks[generation], 2
        )


def members_statement(conversation_id: str, generation: int, members: list[str]) -> KeySetStatement:
    """A stand-in verified key set listing ``members`` (for envelope tests)."""
    return KeySetStatement(
        conversation_id=conversation_id,
        generation=generation,
        creator_user_id=members[0],
        creator_device_id="d",
        created_at=0,
        members=tuple(KeySetMember(m, 1) for m in sorted(members)),
        commitment=bytes(32),
        encoded=b"",
    )
