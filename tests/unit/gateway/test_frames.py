"""Client frame parsing: every frame type, every rejection, in memory."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from hushroom.gateway.frames import (
    CLIENT_FRAME_TYPES,
    AuthFrame,
    Envelope,
    FrameError,
    PingFrame,
    PresenceSetFrame,
    ReadFrame,
    ResumeFrame,
    SendMessageFrame,
    TypingFrame,
    parse_client_frame,
)


@dataclass(frozen=True)
class Limits:
    max_text_chars: int = 20
    max_ciphertext_bytes: int = 16


LIMITS = Limits()
CONV = uuid.UUID("123e4567-e89b-12d3-a456-426614174000")
CMID = "0123456789abcdef0123456789abcdef"


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def parse(obj: Any) -> Any:
    return parse_client_frame(orjson.dumps(obj).decode(), LIMITS)


def reject(obj: Any) -> FrameError:
    with pytest.raises(FrameError) as info:
        parse_client_frame(obj if isinstance(obj, str | bytes) else orjson.dumps(obj), LIMITS)
    return info.value


def send(**fields: Any) -> dict[str, Any]:
    return {
        "type": "message.send",
        "ref": "r1",
        "conversation_id": str(CONV),
        "client_msg_id": CMID,
        **fields,
    }


# --- accepted frames -------------------------------------------------------------------------


def test_auth_frame_parses_and_hides_ticket_from_repr() -> None:
    frame = parse({"type": "auth", "ticket": "s3cret-ticket"})
    assert isinstance(frame, AuthFrame)
    assert frame.ticket == "s3cret-ticket"
    assert "s3cret" not in repr(frame)


def test_bytes_holding_utf8_json_are_accepted() -> None:
    frame = parse_client_frame(b'{"type":"ping","ref":"\xc3\xa9"}', LIMITS)
    assert frame == PingFrame(type="ping", ref="é")


def test_resume_positions_parse_to_uuid_keys() -> None:
    frame = parse({"type": "resume", "positions": {str(CONV): 7}})
    assert isinstance(frame, ResumeFrame)
    assert frame.positions == {CONV: 7}


def test_resume_accepts_empty_positions_and_uppercase_uuids() -> None:
    assert parse({"type": "resume", "positions": {}}).positions == {}
    assert parse({"type": "resume", "positions": {str(CONV).upper(): 0}}).positions == {CONV: 0}


def test_send_with_body() -> None:
    frame = parse(send(body="hello"))
    assert isinstance(frame, SendMessageFrame)
    assert (frame.ref, frame.conversation_id, frame.client_msg_id) == ("r1", CONV, CMID)
    assert (frame.body, frame.envelope) == ("hello", None)


def test_send_with_envelope_decodes_ciphertext() -> None:
    frame = parse(send(envelope={"generation": 3, "ciphertext": b64(b"\x00\xffsecret")}))
    assert isinstance(frame, SendMessageFrame)
    assert frame.body is None
    assert frame.envelope is not None
    assert (frame.envelope.generation, frame.envelope.ciphertext) == (3, b"\x00\xffsecret")


def test_send_ref_is_optional() -> None:
    obj = send(body="x")
    del obj["ref"]
    assert parse(obj).ref is None
    assert parse({**obj, "ref": None}).ref is None


def test_body_at_exact_limit_accepted() -> None:
    assert parse(send(body="é" * LIMITS.max_text_chars)).body == "é" * 20


def test_ciphertext_at_exact_limit_accepted() -> None:
    raw = bytes(range(16))
    frame = parse(send(envelope={"generation": 0, "ciphertext": b64(raw)}))
    assert frame.envelope.ciphertext == raw


def test_typing_read_presence_ping() -> None:
    assert parse({"type": "typing", "conversation_id": str(CONV)}) == TypingFrame(
        type="typing", conversation_id=CONV
    )
    assert parse({"type": "read", "conversation_id": str(CONV), "seq": 0}) == ReadFrame(
        type="read", conversation_id=CONV, seq=0
    )
    assert parse({"type": "presence.set", "status": "away"}) == PresenceSetFrame(
        type="presence.set", status="away"
    )
    assert parse({"type": "ping"}) == PingFrame(type="ping", ref=None)


def test_every_documented_type_is_known() -> None:
    assert {
        "auth",
        "resume",
        "message.send",
        "typing",
        "read",
        "presence.set",
        "presence.watch",
        "ping",
    } == CLIENT_FRAME_TYPES


# --- malformed / unknown ---------------------------------------------------------------------


@pytest.mark.parametrize("data", ["", "{", "nope", b"\xff\xfe", '{"a":1}x', "\ud800"])
def test_junk_is_malformed_json(data: str | bytes) -> None:
    err = reject(data)
    assert (err.code, err.field, err.ref) == ("malformed_json", None, None)


@pytest.mark.parametrize("data", ["[]", "1", '"auth"', "null"])
def test_non_object_is_malformed_json(data: str) -> None:
    assert reject(data).code == "malformed_json"


@pytest.mark.parametrize("obj", [{}, {"type": "nope"}, {"type": 5}, {"type": None}])
def test_unknown_type(obj: dict[str, Any]) -> None:
    err = reject(obj)
    assert (err.code, err.field) == ("unknown_type", "type")


def test_error_carries_usable_ref_only() -> None:
    assert reject({"type": "nope", "ref": "abc"}).ref == "abc"
    assert reject({"type": "nope", "ref": "x" * 65}).ref is None
    assert reject({"type": "nope", "ref": 5}).ref is None
    assert reject(send(body="")).ref == "r1"


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "field"),
    [
        ({"type": "auth"}, "ticket"),
        ({"type": "auth", "ticket": ""}, "ticket"),
        ({"type": "auth", "ticket": 5}, "ticket"),
        ({"type": "auth", "ticket": "x" * 513}, "ticket"),
        ({"type": "auth", "ticket": "t", "extra": 1}, "extra"),
        ({"type": "resume"}, "positions"),
        ({"type": "resume", "positions": []}, "positions"),
        ({"type": "resume", "positions": {"not-a-uuid": 1}}, "positions"),
        ({"type": "resume", "positions": {str(CONV): -1}}, "positions"),
        ({"type": "resume", "positions": {str(CONV): True}}, "positions"),
        ({"type": "resume", "positions": {str(CONV): 1.0}}, "positions"),
        ({"type": "resume", "positions": {str(CONV): "1"}}, "positions"),
        ({"type": "resume", "positions": {str(CONV): 2**63}}, "positions"),
        ({"type": "typing"}, "conversation_id"),
        ({"type": "typing", "conversation_id": 5}, "conversation_id"),
        ({"type": "typing", "conversation_id": CONV.hex}, "conversation_id"),
        ({"type": "typing", "conversation_id": "{" + str(CONV) + "}"}, "conversation_id"),
        ({"type": "read", "conversation_id": str(CONV), "seq": -1}, "seq"),
        ({"type": "read", "conversation_id": str(CONV), "seq": "3"}, "seq"),
        ({"type": "read", "conversation_id": str(CONV)}, "seq"),
        ({"type": "presence.set", "status": "busy"}, "status"),
        ({"type": "presence.set", "status": "online", "x": 1}, "x"),
        ({"type": "ping", "ref": ""}, "ref"),
        ({"type": "ping", "ref": "x" * 65}, "ref"),
        (send(body="x", client_msg_id="A" * 32), "client_msg_id"),
        (send(body="x", client_msg_id="a" * 31), "client_msg_id"),
        (send(body="x", client_msg_id=None), "client_msg_id"),
        (send(body=5), "body"),
        (send(envelope={"generation": -1, "ciphertext": "AA"}), "envelope.generation"),
        (send(envelope={"generation": 2**31, "ciphertext": "AA"}), "envelope.generation"),
        (send(envelope={"ciphertext": "AA"}), "envelope.generation"),
        (send(envelope={"generation": 0, "ciphertext": "AA", "k": 1}), "envelope.k"),
        (send(envelope={"generation": 0, "ciphertext": ""}), "envelope.ciphertext"),
        (send(envelope={"generation": 0, "ciphertext": "AA=="}), "envelope.ciphertext"),
        (send(envelope={"generation": 0, "ciphertext": "A+/A"}), "envelope.ciphertext"),
        (send(envelope={"generation": 0, "ciphertext": "AAAAA"}), "envelope.ciphertext"),
        (send(envelope={"generation": 0, "ciphertext": "AB"}), "envelope.ciphertext"),
        (send(envelope={"generation": 0, "ciphertext": 5}), "envelope.ciphertext"),
        (send(envelope="AA"), "envelope"),
    ],
)
def test_validation_failed_names_the_field(obj: dict[str, Any], field: str) -> None:
    err = reject(obj)
    assert err.code == "validation_failed"
    assert err.field == field
    assert err.message
    assert not err.message.startswith("Value error")


def test_error_field_never_echoes_client_keys() -> None:
    err = reject({"type": "resume", "positions": {"<script>": 1}})
    assert err.field == "positions"
    assert "<script>" not in err.message
    assert reject({"type": "ping", "Weird-Key": 1}).field is None


def test_resume_over_1000_entries_rejected() -> None:
    positions = {str(uuid.UUID(int=i)): 0 for i in range(1001)}
    err = reject({"type": "resume", "positions": positions})
    assert (err.code, err.field) == ("validation_failed", "positions")
    assert (
        len(parse({"type": "resume", "positions": dict(list(positions.items())[:1000])}).positions)
        == 1000
    )


def test_body_and_envelope_both_rejected() -> None:
    err = reject(send(body="hi", envelope={"generation": 0, "ciphertext": "AA"}))
    assert (err.code, err.field, err.ref) == ("validation_failed", "body", "r1")


def test_neither_body_nor_envelope_rejected() -> None:
    err = reject(send())
    assert (err.code, err.field) == ("validation_failed", "body")


@pytest.mark.parametrize("body", ["", "   ", "\n\t", "a\x00b"])
def test_blank_or_nul_body_rejected(body: str) -> None:
    err = reject(send(body=body))
    assert (err.code, err.field) == ("validation_failed", "body")


def test_body_over_limit_rejected() -> None:
    err = reject(send(body="x" * (LIMITS.max_text_chars + 1)))
    assert (err.code, err.field) == ("payload_too_large", "body")  # as over HTTP
    assert "20" in err.message


def test_ciphertext_over_limit_rejected() -> None:
    err = reject(send(envelope={"generation": 0, "ciphertext": b64(bytes(17))}))
    assert (err.code, err.field, err.ref) == ("payload_too_large", "envelope.ciphertext", "r1")
    assert "16" in err.message


def test_models_can_be_built_in_python_with_uuid_and_bytes() -> None:
    env = Envelope(generation=1, ciphertext=b"\x01")
    frame = SendMessageFrame(
        type="message.send", conversation_id=CONV, client_msg_id=CMID, envelope=env
    )
    assert (frame.conversation_id, frame.envelope) == (CONV, env)
    assert "\\x01" not in repr(env)
