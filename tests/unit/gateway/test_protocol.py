"""GatewayProtocol scenarios: frames in, effects out; no sockets, no event loop, no clock."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hushroom.config import Settings
from hushroom.errors import ClientMessageIdReused, NotAMember, ServiceUnavailable
from hushroom.events.event import Event
from hushroom.gateway.protocol import (
    Authenticate,
    Close,
    Effect,
    GatewayProtocol,
    MarkRead,
    ProtocolLimits,
    Resume,
    SendFrame,
    SendMessage,
    SetPresence,
    State,
    Typing,
    reconnect_spread_ms,
)
from hushroom.principal import Principal

T0 = 1000.0
LIMITS = ProtocolLimits(
    max_ws_frame_bytes=1024,
    frames_per_second=10.0,
    frame_burst=5,
    max_errors=3,
    error_window_s=60.0,
    auth_timeout_s=10.0,
    ping_interval_s=20,
    max_text_chars=100,
    max_ciphertext_bytes=32,
)
ME = Principal(user_id=uuid.uuid4(), device_id=uuid.uuid4(), session_id=uuid.uuid4())
OTHER_USER = uuid.uuid4()
OTHER_DEVICE = uuid.uuid4()
CONV = uuid.uuid4()
CONV2 = uuid.uuid4()
CMID = "ab" * 16


def dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def frames(effects: list[Effect]) -> list[dict[str, Any]]:
    return [e.frame for e in effects if isinstance(e, SendFrame)]


def closes(effects: list[Effect]) -> list[Close]:
    return [e for e in effects if isinstance(e, Close)]


def new_protocol(limits: ProtocolLimits = LIMITS) -> GatewayProtocol:
    return GatewayProtocol(limits, now=T0)


def ready_protocol(limits: ProtocolLimits = LIMITS) -> GatewayProtocol:
    proto = new_protocol(limits)
    assert proto.receive(dumps({"type": "auth", "ticket": "t"}), T0) == [Authenticate("t")]
    proto.authenticated(ME, T0)
    return proto


def message_event(seq: int, conv: uuid.UUID = CONV, **kw: Any) -> Event:
    return Event(
        type="message.new",
        payload={"message": {"conversation_id": str(conv), "seq": seq, "body": f"m{seq}"}},
        recipients=frozenset({ME.user_id, OTHER_USER}),
        conversation_id=conv,
        seq=seq,
        **kw,
    )


def message_frame(seq: int, conv: uuid.UUID = CONV) -> dict[str, Any]:
    return message_event(seq, conv).frame()


def send_frame(**fields: Any) -> str:
    return dumps(
        {
            "type": "message.send",
            "ref": "r1",
            "conversation_id": str(CONV),
            "client_msg_id": CMID,
            **fields,
        }
    )


# --- limits ----------------------------------------------------------------------------------


def test_limits_from_settings() -> None:
    s = Settings(
        max_ws_frame_bytes=2048,
        ws_frames_per_second=3.0,
        ws_frame_burst=7,
        ws_max_errors=4,
        ws_ping_interval_s=15,
        max_text_chars=50,
        max_ciphertext_bytes=99,
    )
    limits = ProtocolLimits.from_settings(s)
    assert limits == ProtocolLimits(
        max_ws_frame_bytes=2048,
        frames_per_second=3.0,
        frame_burst=7,
        max_errors=4,
        ping_interval_s=15,
        max_text_chars=50,
        max_ciphertext_bytes=99,
    )
    assert (limits.auth_timeout_s, limits.error_window_s) == (10.0, 60.0)


# --- authentication --------------------------------------------------------------------------


def test_auth_then_ready() -> None:
    proto = new_protocol()
    effects = proto.receive(dumps({"type": "auth", "ticket": "tick"}), T0)
    assert effects == [Authenticate("tick")]
    assert "tick" not in repr(effects)
    assert proto.deadline == T0 + 10
    ready = proto.authenticated(ME, T0 + 1)
    assert ready == [
        SendFrame(
            {
                "type": "ready",
                "user_id": str(ME.user_id),
                "device_id": str(ME.device_id),
                "heartbeat_s": 20,
                "protocol": 2,
            }
        )
    ]
    # An integer on the wire ("20", never "20.0"), like every other number of the protocol.
    [frame] = ready
    assert isinstance(frame, SendFrame)
    assert b'"heartbeat_s":20,' in orjson.dumps(frame.frame)
    assert proto.state is State.READY
    assert proto.principal == ME
    assert proto.deadline is None


def test_frame_before_auth_closes_1008() -> None:
    proto = new_protocol()
    effects = proto.receive(dumps({"type": "ping"}), T0)
    assert frames(effects)[0]["code"] == "auth_required"
    assert effects[-1] == Close(1008, "authentication required")
    assert proto.state is State.CLOSED
    assert proto.receive(dumps({"type": "auth", "ticket": "t"}), T0) == []


@pytest.mark.parametrize("data", ["junk", '{"type":"nope"}', '{"type":"auth","ticket":5}'])
def test_invalid_first_frame_closes_1008(data: str) -> None:
    effects = new_protocol().receive(data, T0)
    assert [f["code"] for f in frames(effects)] == ["auth_required"]
    assert closes(effects) == [Close(1008, "authentication required")]


def test_invalid_auth_frame_names_the_field() -> None:
    effects = new_protocol().receive('{"type":"auth","ticket":5}', T0)
    assert frames(effects)[0]["field"] == "ticket"


def test_frame_while_authenticating_closes_1008() -> None:
    proto = new_protocol()
    proto.receive(dumps({"type": "auth", "ticket": "t"}), T0)
    effects = proto.receive(dumps({"type": "ping"}), T0)
    assert frames(effects)[0]["code"] == "auth_required"
    assert closes(effects) == [Close(1008, "authentication required")]
    # A late result from the socket layer changes nothing.
    assert proto.authenticated(ME, T0) == []


def test_authentication_failed_closes_1008() -> None:
    proto = new_protocol()
    proto.receive(dumps({"type": "auth", "ticket": "t"}), T0)
    effects = proto.authentication_failed(T0)
    assert [f["code"] for f in frames(effects)] == ["auth_failed"]
    assert closes(effects) == [Close(1008, "authentication failed")]
    assert proto.state is State.CLOSED


def test_auth_results_ignored_unless_authenticating() -> None:
    proto = new_protocol()
    assert proto.authenticated(ME, T0) == []
    assert proto.authentication_failed(T0) == []
    assert proto.state is State.AWAIT_AUTH
    ready = ready_protocol()
    assert ready.authentication_failed(T0) == []
    assert ready.state is State.READY


def test_auth_timeout_closes_1008() -> None:
    proto = new_protocol()
    assert proto.deadline == T0 + 10
    assert proto.tick(T0 + 9.9) == []
    effects = proto.tick(T0 + 10)
    assert frames(effects)[0]["code"] == "auth_required"
    assert closes(effects) == [Close(1008, "authentication timeout")]
    assert proto.tick(T0 + 20) == []


def test_auth_timeout_applies_while_authenticating() -> None:
    proto = new_protocol()
    proto.receive(dumps({"type": "auth", "ticket": "t"}), T0)
    assert proto.deadline == T0 + 10
    assert closes(proto.tick(T0 + 11)) == [Close(1008, "authentication timeout")]


def test_tick_after_ready_does_nothing() -> None:
    proto = ready_protocol()
    assert proto.tick(T0 + 1000) == []
    assert proto.state is State.READY


def test_second_auth_is_an_error() -> None:
    proto = ready_protocol()
    effects = proto.receive(dumps({"type": "auth", "ticket": "t"}), T0)
    assert frames(effects) == [
        {
            "type": "error",
            "code": "validation_failed",
            "message": "already authenticated",
            "field": "type",
        }
    ]
    assert proto.state is State.READY


# --- frame errors, size, abuse, rate ---------------------------------------------------------


def test_junk_json_gets_error_frame_and_stays_open() -> None:
    proto = ready_protocol()
    effects = proto.receive("{not json", T0)
    assert effects == [
        SendFrame(
            {"type": "error", "code": "malformed_json", "message": "frame is not valid UTF-8 JSON"}
        )
    ]
    assert proto.state is State.READY
    assert frames(proto.receive(dumps({"type": "ping", "ref": "p"}), T0)) == [
        {"type": "pong", "ref": "p"}
    ]


def test_unknown_type_gets_error_frame() -> None:
    proto = ready_protocol()
    effects = proto.receive(dumps({"type": "launch.missiles", "ref": "x1"}), T0)
    assert frames(effects) == [
        {
            "type": "error",
            "code": "unknown_type",
            "message": "missing or unknown frame type",
            "ref": "x1",
            "field": "type",
        }
    ]
    assert proto.state is State.READY


def test_validation_error_frame_has_field_and_ref() -> None:
    proto = ready_protocol()
    (frame,) = frames(proto.receive(send_frame(body="  "), T0))
    assert (frame["code"], frame["field"], frame["ref"]) == ("validation_failed", "body", "r1")


def test_oversize_frame_closes_1009() -> None:
    proto = ready_protocol()
    effects = proto.receive(dumps({"type": "ping", "ref": "x"}) + " " * 1024, T0)
    assert effects == [Close(1009, "frame too big")]
    assert proto.state is State.CLOSED


def test_oversize_is_measured_in_utf8_bytes() -> None:
    proto = ready_protocol()
    # 400 characters, 1200 bytes.
    assert proto.receive(send_frame(body="€" * 400), T0) == [Close(1009, "frame too big")]


def test_oversize_str_with_lone_surrogates_closes_1009() -> None:
    proto = ready_protocol()
    assert proto.receive("\ud800" * 400, T0) == [Close(1009, "frame too big")]


def test_lone_surrogates_are_malformed_json() -> None:
    proto = ready_protocol()
    assert frames(proto.receive('{"type":"ping","ref":"\ud800"}', T0))[0]["code"] == (
        "malformed_json"
    )


def test_oversize_bytes_frame_closes_1009_before_auth() -> None:
    proto = new_protocol()
    assert proto.receive(b"x" * 1025, T0) == [Close(1009, "frame too big")]


def test_frame_at_exact_size_limit_is_accepted() -> None:
    proto = ready_protocol()
    data = dumps({"type": "ping"})
    data += " " * (1024 - len(data))
    assert frames(proto.receive(data, T0)) == [{"type": "pong", "ref": None}]


def test_repeated_abuse_closes_1008() -> None:
    proto = ready_protocol()  # max_errors=3
    for i in range(3):
        effects = proto.receive("junk", T0 + i)
        assert closes(effects) == []
    effects = proto.receive("junk", T0 + 3)
    assert frames(effects)[0]["code"] == "malformed_json"
    assert closes(effects) == [Close(1008, "too many errors")]
    assert proto.state is State.CLOSED


def test_errors_outside_window_are_forgotten() -> None:
    proto = ready_protocol()
    for i in range(3):
        proto.receive("junk", T0 + i)
    # 60 s after the first error, only two remain in the window.
    assert closes(proto.receive("junk", T0 + 60)) == []
    assert closes(proto.receive("junk", T0 + 60.5)) == [Close(1008, "too many errors")]


def test_rate_limit_errors_then_recovers_after_refill() -> None:
    limits = ProtocolLimits(frames_per_second=10.0, frame_burst=5, max_errors=100)
    proto = ready_protocol(limits)  # auth used one token
    ping = dumps({"type": "ping"})
    for _ in range(4):
        assert frames(proto.receive(ping, T0)) == [{"type": "pong", "ref": None}]
    effects = proto.receive(ping, T0)
    assert frames(effects) == [
        {"type": "error", "code": "rate_limited", "message": "too many frames; slow down"}
    ]
    assert proto.state is State.READY
    # 0.1 s refills one token (10/s), not two.
    assert frames(proto.receive(ping, T0 + 0.1))[0]["type"] == "pong"
    assert frames(proto.receive(ping, T0 + 0.1))[0]["code"] == "rate_limited"
    # A long pause refills at most the burst.
    for _ in range(5):
        assert frames(proto.receive(ping, T0 + 100))[0]["type"] == "pong"
    assert frames(proto.receive(ping, T0 + 100))[0]["code"] == "rate_limited"


def test_rate_limited_frames_count_toward_abuse() -> None:
    limits = ProtocolLimits(frames_per_second=1.0, frame_burst=2, max_errors=2)
    proto = ready_protocol(limits)
    ping = dumps({"type": "ping"})
    proto.receive(ping, T0)
    assert closes(proto.receive(ping, T0)) == []
    assert closes(proto.receive(ping, T0)) == []
    assert closes(proto.receive(ping, T0)) == [Close(1008, "too many errors")]


def test_clock_going_backwards_does_not_mint_tokens() -> None:
    limits = ProtocolLimits(frames_per_second=10.0, frame_burst=1, max_errors=100)
    proto = ready_protocol(limits)
    assert frames(proto.receive(dumps({"type": "ping"}), T0 - 50))[0]["code"] == "rate_limited"


# --- commands --------------------------------------------------------------------------------


def test_send_body_becomes_send_message_command() -> None:
    proto = ready_protocol()
    assert proto.receive(send_frame(body="hello"), T0) == [
        SendMessage(
            ref="r1",
            conversation_id=CONV,
            client_msg_id=CMID,
            body="hello",
            generation=None,
            ciphertext=None,
        )
    ]


def test_send_envelope_becomes_send_message_command() -> None:
    proto = ready_protocol()
    ct = base64.urlsafe_b64encode(b"opaque").rstrip(b"=").decode()
    (cmd,) = proto.receive(send_frame(envelope={"generation": 2, "ciphertext": ct}), T0)
    assert cmd == SendMessage(
        ref="r1",
        conversation_id=CONV,
        client_msg_id=CMID,
        body=None,
        generation=2,
        ciphertext=b"opaque",
    )
    assert "opaque" not in repr(cmd)


def test_body_and_envelope_both_rejected() -> None:
    proto = ready_protocol()
    effects = proto.receive(
        send_frame(body="x", envelope={"generation": 0, "ciphertext": "AA"}), T0
    )
    assert [(f["code"], f["field"]) for f in frames(effects)] == [("validation_failed", "body")]
    assert not any(isinstance(e, SendMessage) for e in effects)


def test_ciphertext_over_limit_rejected() -> None:
    proto = ready_protocol()  # max_ciphertext_bytes=32
    ct = base64.urlsafe_b64encode(bytes(33)).rstrip(b"=").decode()
    effects = proto.receive(send_frame(envelope={"generation": 0, "ciphertext": ct}), T0)
    assert [(f["code"], f["field"]) for f in frames(effects)] == [
        ("payload_too_large", "envelope.ciphertext")
    ]


def test_body_over_max_text_chars_rejected() -> None:
    proto = ready_protocol()  # max_text_chars=100
    effects = proto.receive(send_frame(body="x" * 101), T0)
    assert frames(effects)[0]["field"] == "body"


def test_typing_read_presence_commands() -> None:
    proto = ready_protocol()
    assert proto.receive(dumps({"type": "typing", "conversation_id": str(CONV)}), T0) == [
        Typing(CONV)
    ]
    assert proto.receive(dumps({"type": "read", "conversation_id": str(CONV), "seq": 9}), T0) == [
        MarkRead(CONV, 9)
    ]
    assert proto.receive(dumps({"type": "presence.set", "status": "away"}), T0) == [
        SetPresence("away")
    ]


def test_ping_gets_pong_with_ref() -> None:
    proto = ready_protocol()
    assert proto.receive(dumps({"type": "ping", "ref": "abc"}), T0) == [
        SendFrame({"type": "pong", "ref": "abc"})
    ]


def test_message_sent_acks() -> None:
    proto = ready_protocol()
    mid = uuid.uuid4()
    effects = proto.message_sent(
        ref="r1",
        conversation_id=CONV,
        client_msg_id=CMID,
        seq=42,
        message_id=mid,
        created_at=1_800_000_000_000,
        duplicate=True,
    )
    assert effects == [
        SendFrame(
            {
                "type": "message.ack",
                "ref": "r1",
                "conversation_id": str(CONV),
                "client_msg_id": CMID,
                "seq": 42,
                "message_id": str(mid),
                "created_at": 1_800_000_000_000,
                "duplicate": True,
            }
        )
    ]


def test_message_sent_with_integer_message_id() -> None:
    proto = ready_protocol()
    (frame,) = frames(
        proto.message_sent(
            ref=None,
            conversation_id=CONV,
            client_msg_id=CMID,
            seq=1,
            message_id=77,
            created_at=5,
            duplicate=False,
        )
    )
    assert (frame["ref"], frame["message_id"], frame["duplicate"]) == (None, 77, False)


def test_command_failed_sends_error_with_code_ref_field() -> None:
    proto = ready_protocol()
    effects = proto.command_failed("r1", ClientMessageIdReused(field="client_msg_id"), T0)
    assert frames(effects) == [
        {
            "type": "error",
            "code": "client_msg_id_reused",
            "message": ClientMessageIdReused.title,
            "ref": "r1",
            "field": "client_msg_id",
        }
    ]


def test_client_errors_from_commands_count_toward_abuse() -> None:
    proto = ready_protocol()  # max_errors=3
    for _ in range(3):
        assert closes(proto.command_failed("r", NotAMember(), T0)) == []
    assert closes(proto.command_failed("r", NotAMember(), T0)) == [Close(1008, "too many errors")]


def test_server_errors_from_commands_do_not_count_toward_abuse() -> None:
    proto = ready_protocol()
    for _ in range(10):
        effects = proto.command_failed(None, ServiceUnavailable(), T0)
        assert frames(effects) == [
            {
                "type": "error",
                "code": "service_unavailable",
                "message": ServiceUnavailable.title,
            }
        ]
    assert proto.state is State.READY


def test_results_ignored_when_not_ready() -> None:
    proto = new_protocol()
    assert (
        proto.message_sent(
            ref=None,
            conversation_id=CONV,
            client_msg_id=CMID,
            seq=1,
            message_id=uuid.uuid4(),
            created_at=0,
            duplicate=False,
        )
        == []
    )
    assert proto.command_failed(None, NotAMember(), T0) == []
    assert proto.resume_batch(CONV, [message_frame(1)], 1) == []
    assert proto.resume_gap(CONV, 0, 10) == []
    assert proto.resume_done() == []


# --- resume and live events ------------------------------------------------------------------


def test_resume_becomes_command() -> None:
    proto = ready_protocol()
    effects = proto.receive(dumps({"type": "resume", "positions": {str(CONV): 3}}), T0)
    assert effects == [Resume({CONV: 3})]


def test_resume_backfill_suppresses_duplicate_live_message() -> None:
    proto = ready_protocol()
    proto.receive(dumps({"type": "resume", "positions": {str(CONV): 3}}), T0)
    # Live message 5 is published while the backfill query (4..5) is running...
    backfill = proto.resume_batch(CONV, [message_frame(4), message_frame(5)], high_seq=5)
    assert frames(backfill) == [message_frame(4), message_frame(5)]
    # ...and reaches this socket after the backfill: dropped, not sent twice.
    assert proto.event(message_event(5)) == []
    assert proto.event(message_event(4)) == []
    assert proto.resume_done() == [SendFrame({"type": "sync.done"})]
    assert frames(proto.event(message_event(6))) == [message_frame(6)]


def test_messages_the_client_already_has_are_not_sent_live() -> None:
    proto = ready_protocol()
    proto.receive(dumps({"type": "resume", "positions": {str(CONV): 3}}), T0)
    assert proto.event(message_event(3)) == []
    assert frames(proto.event(message_event(4))) == [message_frame(4)]


def test_live_messages_after_backfill_pass_even_out_of_order() -> None:
    proto = ready_protocol()
    proto.receive(dumps({"type": "resume", "positions": {str(CONV): 0}}), T0)
    proto.resume_batch(CONV, [message_frame(1)], high_seq=1)
    proto.resume_done()
    assert frames(proto.event(message_event(3))) == [message_frame(3)]
    assert frames(proto.event(message_event(2))) == [message_frame(2)]
    # Other conversations are unaffected by CONV's mark.
    assert frames(proto.event(message_event(1, CONV2))) == [message_frame(1, CONV2)]


def test_high_water_mark_only_rises() -> None:
    proto = ready_protocol()
    proto.resume_batch(CONV, [], high_seq=10)
    proto.resume_batch(CONV, [], high_seq=4)
    assert proto.event(message_event(10)) == []
    assert frames(proto.event(message_event(11))) == [message_frame(11)]


def test_resume_gap_sends_sync_gap_and_suppresses_paged_range() -> None:
    proto = ready_protocol()
    proto.receive(dumps({"type": "resume", "positions": {str(CONV): 2}}), T0)
    assert frames(proto.resume_gap(CONV, after_seq=2, last_seq=900)) == [
        {"type": "sync.gap", "conversation_id": str(CONV), "after_seq": 2, "last_seq": 900}
    ]
    assert proto.event(message_event(900)) == []
    assert frames(proto.event(message_event(901))) == [message_frame(901)]


def test_new_resume_replaces_old_marks() -> None:
    proto = ready_protocol()
    proto.receive(dumps({"type": "resume", "positions": {str(CONV): 50}}), T0)
    proto.receive(dumps({"type": "resume", "positions": {str(CONV2): 1}}), T0)
    assert frames(proto.event(message_event(10))) == [message_frame(10)]
    assert proto.event(message_event(1, CONV2)) == []


# --- outbound events -------------------------------------------------------------------------


def test_events_before_ready_are_dropped() -> None:
    proto = new_protocol()
    assert proto.event(message_event(1)) == []
    proto.receive(dumps({"type": "auth", "ticket": "t"}), T0)
    assert proto.event(message_event(1)) == []


def test_events_after_close_are_dropped() -> None:
    proto = ready_protocol()
    proto.connection_closed()
    assert proto.state is State.CLOSED
    assert proto.event(message_event(1)) == []


def test_own_typing_not_echoed() -> None:
    proto = ready_protocol()
    mine = Event(
        type="typing",
        payload={"conversation_id": str(CONV), "user_id": str(ME.user_id)},
        recipients=frozenset({ME.user_id, OTHER_USER}),
        conversation_id=CONV,
        exclude_device=ME.device_id,
    )
    assert proto.event(mine) == []


def test_own_send_is_not_echoed_to_the_sending_socket() -> None:
    proto = ready_protocol()
    ev = Event(
        type="message.new",
        payload={"message": {"seq": 1}},
        recipients=frozenset({ME.user_id, OTHER_USER}),
        conversation_id=CONV,
        seq=1,
        exclude_connection="sock-a",
    )
    assert proto.event(ev, "sock-a") == []


def test_own_send_reaches_my_other_sockets() -> None:
    proto = ready_protocol()
    ev = Event(
        type="message.new",
        payload={"message": {"seq": 1}},
        recipients=frozenset({ME.user_id}),
        conversation_id=CONV,
        seq=1,
        exclude_connection="sock-a",
    )
    assert frames(proto.event(ev, "sock-b")) == [{"type": "message.new", "message": {"seq": 1}}]


def test_typing_from_my_other_device_is_delivered() -> None:
    proto = ready_protocol()
    ev = Event(
        type="typing",
        payload={"conversation_id": str(CONV), "user_id": str(ME.user_id)},
        recipients=frozenset({ME.user_id}),
        conversation_id=CONV,
        exclude_device=OTHER_DEVICE,
    )
    assert frames(proto.event(ev)) == [
        {"type": "typing", "conversation_id": str(CONV), "user_id": str(ME.user_id)}
    ]


def test_event_for_other_users_is_never_delivered() -> None:
    proto = ready_protocol()
    ev = Event(
        type="member.joined",
        payload={"conversation_id": str(CONV), "user_id": str(OTHER_USER)},
        recipients=frozenset({OTHER_USER}),
        conversation_id=CONV,
    )
    assert proto.event(ev) == []


def test_other_events_pass_through_as_frames() -> None:
    proto = ready_protocol()
    ev = Event(
        type="presence",
        payload={"user_id": str(OTHER_USER), "status": "away", "last_seen": 123},
        recipients=frozenset({ME.user_id}),
    )
    frame = {"type": "presence", "user_id": str(OTHER_USER), "status": "away", "last_seen": 123}
    assert proto.event(ev) == [SendFrame(frame, orjson.dumps(frame).decode())]


def test_event_is_serialised_once_for_every_recipient() -> None:
    """A 1,000-member room costs one JSON encoding per message, not one per member."""
    sockets = [ready_protocol() for _ in range(3)]
    ev = message_event(1)
    sent = [proto.event(ev) for proto in sockets]
    texts = [effects[0].text for effects in sent if isinstance(effects[0], SendFrame)]
    assert len(texts) == 3
    assert texts[0] is texts[1] is texts[2]
    assert texts[0] is not None
    assert orjson.loads(texts[0]) == ev.frame()


def test_session_revoked_for_this_session_sends_and_closes() -> None:
    proto = ready_protocol()
    ev = Event(
        type="session.revoked",
        payload={"session_id": str(ME.session_id)},
        recipients=frozenset({ME.user_id}),
    )
    effects = proto.event(ev)
    assert effects == [
        SendFrame({"type": "session.revoked", "session_id": str(ME.session_id)}),
        Close(1008, "session revoked"),
    ]
    assert proto.state is State.CLOSED


def test_session_revoked_for_all_sessions_closes() -> None:
    proto = ready_protocol()
    ev = Event(type="session.revoked", payload={}, recipients=frozenset({ME.user_id}))
    assert closes(proto.event(ev)) == [Close(1008, "session revoked")]


@pytest.mark.parametrize(
    ("payload", "closes_me"),
    [
        ({"user_id": "u", "session_ids": [str(ME.session_id)], "all": False}, True),
        ({"user_id": "u", "session_ids": [str(uuid.uuid4())], "all": False}, False),
        ({"user_id": "u", "session_ids": [], "all": True}, True),
        ({"session_id": str(ME.session_id)}, True),
        ({"device_id": str(ME.device_id)}, True),
        ({"device_id": str(uuid.uuid4())}, False),
        ({"user_id": "u"}, True),
    ],
)
def test_session_revoked_selectors(payload: dict[str, Any], closes_me: bool) -> None:
    proto = ready_protocol()
    ev = Event(type="session.revoked", payload=payload, recipients=frozenset({ME.user_id}))
    effects = proto.event(ev)
    if closes_me:
        assert effects == [SendFrame(ev.frame()), Close(1008, "session revoked")]
    else:
        assert effects == []
        assert proto.state is State.READY


@pytest.mark.parametrize("key", ["session_id", "device_id"])
def test_session_revoked_for_another_session_is_ignored(key: str) -> None:
    proto = ready_protocol()
    ev = Event(
        type="session.revoked",
        payload={key: str(uuid.uuid4())},
        recipients=frozenset({ME.user_id}),
    )
    assert proto.event(ev) == []
    assert proto.state is State.READY


# --- lifecycle -------------------------------------------------------------------------------


def test_shutdown_closes_1012_with_a_reconnect_hint() -> None:
    proto = ready_protocol()
    assert proto.shutdown(4_000) == [Close(1012, "server restarting; reconnect_within_ms=4000")]
    assert proto.state is State.CLOSED
    assert proto.shutdown(4_000) == []


def test_reconnect_spread_grows_with_the_sockets_closed_between_a_floor_and_a_cap() -> None:
    assert reconnect_spread_ms(0) == reconnect_spread_ms(1) == 500
    assert reconnect_spread_ms(10_000) == 5_000
    assert reconnect_spread_ms(19_500) == 9_750
    assert reconnect_spread_ms(1_000_000) == 30_000


def test_overflow_closes_1013() -> None:
    proto = ready_protocol()
    assert proto.overflow() == [Close(1013, "too slow; resync on reconnect")]
    assert proto.receive(dumps({"type": "ping"}), T0) == []


def test_internal_error_closes_1011() -> None:
    proto = ready_protocol()
    assert proto.internal_error() == [Close(1011, "internal error")]


def test_close_reasons_fit_a_close_frame() -> None:
    # RFC 6455: the reason is at most 123 bytes of UTF-8.
    effects = ready_protocol().shutdown(30_000) + ready_protocol().overflow()
    effects += ready_protocol().internal_error() + new_protocol().tick(T0 + 60)
    reasons = [c.reason for c in closes(effects)]
    assert len(reasons) == 4
    assert all(len(r.encode()) <= 123 for r in reasons)


# --- properties ------------------------------------------------------------------------------

EFFECT_TYPES = (SendFrame, Close, Authenticate, SendMessage, Resume, Typing, MarkRead, SetPresence)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=10,
)
frame_like = st.fixed_dictionaries(
    {
        "type": st.sampled_from(
            ["auth", "resume", "message.send", "typing", "read", "presence.set", "ping", "x"]
        )
    },
    optional={
        "ticket": json_values,
        "ref": json_values,
        "positions": json_values,
        "conversation_id": st.just(str(CONV)) | json_values,
        "client_msg_id": st.just(CMID) | json_values,
        "body": json_values,
        "envelope": json_values,
        "seq": json_values,
        "status": json_values,
    },
).map(json.dumps)
inputs = st.binary(max_size=300) | st.text(max_size=300) | frame_like


@settings(max_examples=200, deadline=None)
@given(first=st.booleans(), data=st.lists(st.tuples(inputs, st.floats(0, 5)), max_size=12))
def test_arbitrary_input_never_raises(first: bool, data: list[tuple[str | bytes, float]]) -> None:
    proto = new_protocol() if first else ready_protocol()
    now = T0
    for item, dt in data:
        now += dt
        effects = proto.receive(item, now)
        assert all(isinstance(e, EFFECT_TYPES) for e in effects)
        for e in effects:
            if isinstance(e, SendFrame):
                orjson.dumps(e.frame)  # every frame is serialisable
        if closes(effects):
            assert effects[-1] == closes(effects)[0]
            assert proto.state is State.CLOSED
