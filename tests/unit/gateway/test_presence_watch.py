"""`presence.watch`: parsing, its limit, the command it becomes and its snapshot answer."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest

from hushroom.gateway.frames import MAX_WATCHED_USERS, PresenceWatchFrame
from hushroom.gateway.protocol import (
    Authenticate,
    GatewayProtocol,
    ProtocolLimits,
    SendFrame,
    WatchPresence,
)
from hushroom.principal import Principal

T0 = 1000.0
ME = Principal(user_id=uuid.uuid4(), device_id=uuid.uuid4(), session_id=uuid.uuid4())
A, B = uuid.uuid4(), uuid.uuid4()


def ready() -> GatewayProtocol:
    proto = GatewayProtocol(ProtocolLimits(), now=T0)
    assert proto.receive(dumps({"type": "auth", "ticket": "t"}), T0) == [Authenticate("t")]
    proto.authenticated(ME, T0)
    return proto


def dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def watch(user_ids: list[Any], **extra: Any) -> str:
    return dumps({"type": "presence.watch", "user_ids": user_ids, **extra})


def test_a_watch_becomes_a_command_without_duplicates() -> None:
    proto = ready()
    assert proto.receive(watch([str(A), str(B), str(A).upper()], ref="w1"), T0) == [
        WatchPresence("w1", (A, B))
    ]
    assert proto.receive(watch([]), T0) == [WatchPresence(None, ())]


def test_the_watch_limit_is_an_error_frame_with_its_field() -> None:
    proto = ready()
    at_limit = [str(uuid.uuid4()) for _ in range(MAX_WATCHED_USERS)]
    [command] = proto.receive(watch(at_limit), T0)
    assert isinstance(command, WatchPresence) and len(command.user_ids) == MAX_WATCHED_USERS
    [error] = proto.receive(watch([*at_limit, str(uuid.uuid4())], ref="w2"), T0)
    assert isinstance(error, SendFrame)
    assert error.frame["type"] == "error"
    assert (error.frame["code"], error.frame["field"], error.frame["ref"]) == (
        "validation_failed",
        "user_ids",
        "w2",
    )
    assert str(MAX_WATCHED_USERS) in error.frame["message"]


@pytest.mark.parametrize(
    ("frame", "field"),
    [
        ({"type": "presence.watch"}, "user_ids"),
        ({"type": "presence.watch", "user_ids": "x"}, "user_ids"),
        ({"type": "presence.watch", "user_ids": ["not-a-uuid"]}, "user_ids"),
        ({"type": "presence.watch", "user_ids": [5]}, "user_ids"),
        ({"type": "presence.watch", "user_ids": [], "extra": 1}, "extra"),
        ({"type": "presence.watch", "user_ids": [], "ref": ""}, "ref"),
    ],
)
def test_a_bad_watch_is_refused(frame: dict[str, Any], field: str) -> None:
    [error] = ready().receive(dumps(frame), T0)
    assert isinstance(error, SendFrame)
    assert (error.frame["code"], error.frame["field"]) == ("validation_failed", field)


def test_a_watch_before_ready_is_auth_required() -> None:
    proto = GatewayProtocol(ProtocolLimits(), now=T0)
    effects = proto.receive(watch([str(A)]), T0)
    assert isinstance(effects[0], SendFrame) and effects[0].frame["code"] == "auth_required"


def test_the_snapshot_answers_with_the_ref() -> None:
    proto = ready()
    presences = [{"user_id": str(A), "status": "online", "last_seen": 5}]
    assert proto.presence_snapshot("w1", presences) == [
        SendFrame({"type": "presence.snapshot", "ref": "w1", "presences": presences})
    ]
    proto.connection_closed()
    assert proto.presence_snapshot("w1", presences) == []


def test_the_frame_model() -> None:
    assert PresenceWatchFrame(type="presence.watch", user_ids=[A]).ref is None
