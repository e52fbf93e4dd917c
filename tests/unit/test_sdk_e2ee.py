"""The SDK's end-to-end encryption helpers that need no server: the plaintext event format,
persisted identity-key pins, and the decrypted-message view."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from hushroom.client import DecryptedMessage, FileKeyPins, Message
from hushroom.crypto.errors import Malformed
from hushroom.crypto.event import MessageEvent, decode_event, encode_text_event


def test_text_events_round_trip() -> None:
    plaintext = encode_text_event("héllo 🔐")
    assert plaintext == '{"type":"text","body":"héllo 🔐"}'.encode()
    assert decode_event(plaintext) == MessageEvent("text", "héllo 🔐")
    for bad in (b"[]", b'{"body": "x"}', b"\xff", b"not json"):
        with pytest.raises(Malformed):
            decode_event(bad)


def test_file_pins_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "state" / "pins.json"
    pins = FileKeyPins(path)
    assert pins.get("u1") is None
    pins.pin("u1", b"\x01" * 32)
    pins.pin("u2", b"\x02" * 32)
    again = FileKeyPins(path)
    assert (again.get("u1"), again.get("u2"), len(again)) == (b"\x01" * 32, b"\x02" * 32, 2)
    assert "AQEB" in path.read_text()  # base64url, no raw bytes
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="expected a JSON object"):
        FileKeyPins(path)


def test_decrypted_message_repr_hides_the_text() -> None:
    message = Message(
        id=1,
        conversation_id=uuid.uuid4(),
        seq=3,
        sender_id=uuid.uuid4(),
        sender_device_id=uuid.uuid4(),
        client_msg_id="ab" * 16,
        created_at=1,
        generation=1,
        ciphertext=b"x",
    )
    ok = DecryptedMessage(message, "secret words", generation=1, counter=1)
    assert ok.ok and ok.seq == 3 and "secret" not in repr(ok)
    failed = DecryptedMessage(message, None, "no_key")
    assert not failed.ok and failed.error == "no_key"
