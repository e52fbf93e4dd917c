"""WebSocket abuse run (issue 14 item 9; `make bench`, not `make test`): at least `--frames`
(default 100,000) malformed, oversized, fragmented, binary and flood frames over many
connections to a real `hushroom serve`, through a raw-socket client that writes any frame
(websockets' own encoder refuses invalid ones). Writes bench/results/<UTC>-fuzz-ws.json and
prints a summary; exit status 1 on a close code outside 1000/1001/1002/1007/1008/1009/1013, a
connection that ends without a close frame, a crash or a traceback.

    uv run --group bench python -m bench.fuzz_ws [--frames 100000] [--concurrency 32]
        [--database sqlite|postgres] [--seed N] [--max-minutes 14] [--out FILE]

Every connection follows one plan, drawn (seeded) from `KINDS`:

- before authentication: invalid JSON, wrong types, unknown types, binary frames, a valid ping,
  bad `auth` frames (bogus, empty, oversized, mistyped tickets), silence past the 10 s auth
  deadline, a handshake from a foreign Origin (refused, 403);
- after a real `auth` (a ticket per connection): invalid application frames (every field
  mistyped, out of range, unknown, NUL, oversized body, 1,001 resume entries, a second auth,
  deep nesting) interleaved with valid but odd frames until the error budget closes the socket;
  valid frames sent oddly (binary, fragmented into continuation frames with control frames in
  between, exactly at the size limit) ending with a normal close; floods of pings above the
  per-second limit; frames written after our own close;
- at any stage: protocol violations (reserved bits and opcodes, unmasked frames, long or
  fragmented control frames, continuation without a start, a data frame inside a fragmented
  message, close frames with a 1-byte payload or an invalid code), invalid UTF-8 (text frames,
  split across fragments, close reasons), frames and fragmented messages above the 128 KiB
  limit (and a 2^40-byte length header).

Close codes are counted per code: those the server started, and the echoes of our own normal
closes. The server's RSS (before, peak, after) and its log growth are recorded.

Environment defaults: HUSHROOM_FUZZ_WS_FRAMES, HUSHROOM_FUZZ_WS_CONCURRENCY.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import random
import struct
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from websockets.speedups import apply_mask

from bench.fuzz_support import (
    FuzzServer,
    header,
    loadavg,
    metric_delta,
    register_accounts,
    scan_log,
    write_result,
)

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
LIMIT = 128 * 1024  # HUSHROOM_MAX_WS_FRAME_BYTES, default
SERVER_CODES_OK = {1002, 1007, 1008, 1009, 1013}
NORMAL_CODES = {1000, 1001}
CANARY = "fuzz-canary-7f3a"


def encode(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bool = True,
    length: int | None = None,
) -> bytes:
    """One frame, any frame: `rsv` (0–7), unmasked, or a length header that lies."""
    n = len(payload) if length is None else length
    head = bytearray([(0x80 if fin else 0) | (rsv & 7) << 4 | (opcode & 0x0F)])
    m = 0x80 if mask else 0
    if n < 126:
        head.append(m | n)
    elif n < 1 << 16:
        head.append(m | 126)
        head += struct.pack("!H", n)
    else:
        head.append(m | 127)
        head += struct.pack("!Q", n)
    if not mask:
        return bytes(head) + payload
    key = os.urandom(4)
    return bytes(head) + key + apply_mask(payload, key)


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return struct.pack("!H", code) + reason


def j(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


@dataclass
class Frame:
    """One frame to write, and what it counts as."""

    data: bytes
    category: str


@dataclass
class Step:
    frames: list[Frame] = field(default_factory=list)
    wait_ready: bool = False
    sleep: float = 0.0
    wait_close: float = 0.0  # stop writing once the server closed (or after this many s)


@dataclass
class Plan:
    kind: str
    steps: list[Step]
    auth: bool = False
    origin_ok: bool = True
    client_close: bool = False  # end with our own close 1000 (a normal end is expected)
    timeout: float = 20.0
    # The auth frame and the first step's frames go out with the handshake request, before
    # the 101 (gateway/wire.py swaps websockets' parser once the handshake is done).
    pipelined: bool = False


def f(category: str, opcode: int, payload: bytes, **kw: Any) -> Frame:
    return Frame(encode(opcode, payload, **kw), category)


# --- the catalogue --------------------------------------------------------------------------

UUID0 = "00000000-0000-4000-8000-000000000000"


def invalid_app_frames(room: str) -> list[tuple[str, int, bytes]]:
    """Application-level frames the gateway must refuse with an error frame."""
    cmid = uuid.uuid4().hex
    t: list[tuple[str, int, bytes]] = [
        ("invalid_json", TEXT, b"{"),
        ("invalid_json", TEXT, b'{"type": "ping",}'),
        ("invalid_json", TEXT, b"not json " + CANARY.encode()),
        ("invalid_json", TEXT, b""),
        ("invalid_json", TEXT, b"[1,2,3]"),
        ("invalid_json", TEXT, b'"ping"'),
        ("invalid_json", TEXT, b"null"),
        ("invalid_json", TEXT, b"1e999999"),
        ("invalid_json", TEXT, b'{"type":"ping","ref":"' + b"\\ud800" + b'"}'),
        ("invalid_json", TEXT, b"[" * 5000 + b"]" * 5000),
        ("invalid_json", TEXT, b'{"a":' * 2000 + b"1" + b"}" * 2000),
        ("invalid_json", BINARY, os.urandom(64)),
        ("invalid_json", BINARY, b"\xff\xfe" + CANARY.encode()),
        ("unknown_type", TEXT, j({"type": "nope"})),
        ("unknown_type", TEXT, j({"type": None})),
        ("unknown_type", TEXT, j({"type": 7})),
        ("unknown_type", TEXT, j({"ref": "1"})),
        ("unknown_type", TEXT, j({"type": "PING"})),
        ("unknown_type", TEXT, j({"type": "error", "code": "x"})),
        ("unknown_type", TEXT, j({"type": "message.new", "message": {}})),
        ("wrong_types", TEXT, j({"type": "ping", "ref": 5})),
        ("wrong_types", TEXT, j({"type": "ping", "ref": "x" * 65})),
        ("wrong_types", TEXT, j({"type": "ping", "extra": 1})),
        ("wrong_types", TEXT, j({"type": "read", "conversation_id": room, "seq": "3"})),
        ("wrong_types", TEXT, j({"type": "read", "conversation_id": room, "seq": 1.0})),
        ("wrong_types", TEXT, j({"type": "read", "conversation_id": room, "seq": -1})),
        ("wrong_types", TEXT, j({"type": "read", "conversation_id": room, "seq": 2**63})),
        ("wrong_types", TEXT, j({"type": "read", "conversation_id": room, "seq": True})),
        ("wrong_types", TEXT, j({"type": "typing", "conversation_id": "not-a-uuid"})),
        ("wrong_types", TEXT, j({"type": "typing", "conversation_id": UUID0 + "\x00"})),
        ("wrong_types", TEXT, j({"type": "typing"})),
        ("wrong_types", TEXT, j({"type": "presence.set", "status": "busy"})),
        ("wrong_types", TEXT, j({"type": "presence.set", "status": ["online"]})),
        ("wrong_types", TEXT, j({"type": "auth", "ticket": "again"})),
        ("wrong_types", TEXT, j({"type": "resume", "positions": []})),
        ("wrong_types", TEXT, j({"type": "resume", "positions": {"x": 1}})),
        ("wrong_types", TEXT, j({"type": "resume", "positions": {room: -5}})),
        (
            "wrong_types",
            TEXT,
            j({"type": "resume", "positions": {str(uuid.UUID(int=i)): 0 for i in range(1001)}}),
        ),
        ("wrong_types", TEXT, j({"type": "message.send", "conversation_id": room})),
        (
            "wrong_types",
            TEXT,
            j(
                {
                    "type": "message.send",
                    "conversation_id": room,
                    "client_msg_id": cmid.upper(),
                    "body": "x",
                }
            ),
        ),
        (
            "wrong_types",
            TEXT,
            j(
                {
                    "type": "message.send",
                    "conversation_id": room,
                    "client_msg_id": cmid,
                    "body": "x",
                    "envelope": {"generation": 1, "ciphertext": "AA"},
                }
            ),
        ),
        (
            "wrong_types",
            TEXT,
            j(
                {
                    "type": "message.send",
                    "conversation_id": room,
                    "client_msg_id": cmid,
                    "body": CANARY + "\x00",
                }
            ),
        ),
        (
            "wrong_types",
            TEXT,
            j(
                {
                    "type": "message.send",
                    "conversation_id": room,
                    "client_msg_id": cmid,
                    "body": "  ",
                }
            ),
        ),
        (
            "wrong_types",
            TEXT,
            j(
                {
                    "type": "message.send",
                    "conversation_id": room,
                    "client_msg_id": cmid,
                    "body": "é" * 8001,
                }
            ),
        ),
        (
            "wrong_types",
            TEXT,
            j(
                {
                    "type": "message.send",
                    "conversation_id": UUID0,
                    "client_msg_id": cmid,
                    "envelope": {"generation": 2**31, "ciphertext": "AA=="},
                }
            ),
        ),
        (
            "wrong_types",
            TEXT,
            j(
                {
                    "type": "message.send",
                    "conversation_id": UUID0,
                    "client_msg_id": cmid,
                    "envelope": {"generation": 0, "ciphertext": "+/+/"},
                }
            ),
        ),
        (
            "wrong_types",
            TEXT,
            j(
                {
                    "type": "message.send",
                    "conversation_id": UUID0,
                    "client_msg_id": cmid,
                    "body": "not a member",
                }
            ),
        ),
        ("wrong_types", BINARY, j({"type": "read", "conversation_id": room, "seq": "x"})),
    ]
    return t


def valid_frames(room: str) -> list[tuple[str, int, bytes]]:
    """Frames the gateway accepts (no error), for a READY socket."""
    return [
        ("valid", TEXT, j({"type": "ping", "ref": "p"})),
        ("binary", BINARY, j({"type": "ping", "ref": "b"})),
        ("valid", TEXT, j({"type": "typing", "conversation_id": room})),
        ("valid", TEXT, j({"type": "presence.set", "status": "away"})),
        ("valid", TEXT, j({"type": "presence.set", "status": "online"})),
        ("valid", TEXT, j({"type": "read", "conversation_id": room, "seq": 0})),
        ("valid", TEXT, j({"type": "resume", "positions": {room: 0}})),
        ("binary", BINARY, j({"type": "typing", "conversation_id": room})),
        ("valid", TEXT, '  {"type": "ping", "ref": "ü✓"}  '.encode()),
    ]


def fragmented(
    rng: random.Random, opcode: int, payload: bytes, category: str = "fragmented"
) -> list[Frame]:
    """One message split into 2–8 frames (some empty), control frames between them."""
    pieces = rng.randint(2, 8)
    cuts = sorted(rng.randint(0, len(payload)) for _ in range(pieces - 1))
    parts = [payload[a:b] for a, b in zip([0, *cuts], [*cuts, len(payload)], strict=True)]
    out: list[Frame] = []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        out.append(f(category, opcode if i == 0 else CONT, part, fin=last))
        if not last and rng.random() < 0.3:
            out.append(f("control", rng.choice((PING, PONG)), os.urandom(rng.randint(0, 125))))
    return out


def protocol_violations(rng: random.Random) -> list[tuple[str, list[Frame], set[int]]]:
    ping = j({"type": "ping"})
    return [
        ("rsv_bits", [f("protocol", TEXT, ping, rsv=rng.randint(1, 7))], {1002}),
        ("reserved_opcode", [f("protocol", rng.choice((3, 4, 5, 6, 7)), ping)], {1002}),
        (
            "reserved_control_opcode",
            [f("protocol", rng.choice((0xB, 0xC, 0xD, 0xE, 0xF)), b"")],
            {1002},
        ),
        ("unmasked", [f("protocol", TEXT, ping, mask=False)], {1002}),
        ("long_ping", [f("bad_control", PING, os.urandom(126))], {1002}),
        ("fragmented_ping", [f("bad_control", PING, b"x", fin=False)], {1002}),
        ("long_close", [f("bad_control", CLOSE, close_payload(1000, b"r" * 124))], {1002}),
        ("close_one_byte", [f("bad_control", CLOSE, b"\x03")], {1002}),
        (
            "close_bad_code",
            [
                f(
                    "bad_control",
                    CLOSE,
                    close_payload(rng.choice((0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000))),
                )
            ],
            {1002},
        ),
        ("close_bad_utf8", [f("bad_control", CLOSE, close_payload(1000, b"\xff\xfe"))], {1007}),
        ("orphan_continuation", [f("fragmented", CONT, ping)], {1002}),
        (
            "data_inside_fragments",
            [f("fragmented", TEXT, ping[:3], fin=False), f("fragmented", TEXT, ping)],
            {1002},
        ),
        (
            "binary_inside_text_fragments",
            [f("fragmented", TEXT, ping[:3], fin=False), f("fragmented", BINARY, ping[3:])],
            {1002},
        ),
    ]


def utf8_violations(rng: random.Random) -> list[tuple[str, list[Frame], set[int]]]:
    bad = rng.choice(
        (b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82", b"\x80")
    )
    text = b'{"type":"ping","ref":"' + CANARY.encode() + bad + b'"}'
    return [
        ("text_invalid_utf8", [f("invalid_utf8", TEXT, text)], {1007}),
        ("fragmented_invalid_utf8", fragmented(rng, TEXT, text, "invalid_utf8"), {1007}),
        (
            "trailing_partial_char",
            [f("invalid_utf8", TEXT, j({"type": "ping"}) + b"\xe2\x82")],
            {1007},
        ),
    ]


def oversize(rng: random.Random) -> list[tuple[str, list[Frame], set[int]]]:
    def pad(n: int) -> bytes:  # a valid ping, `n` spaces long
        return j({"type": "ping", "ref": "o"})[:-1] + b" " * n + b"}"

    chunk = 60 * 1024
    return [
        ("just_over_limit", [f("oversize", TEXT, pad(LIMIT))], {1009}),
        ("one_mib", [f("oversize", rng.choice((TEXT, BINARY)), os.urandom(1 << 20))], {1009}),
        (
            "fragments_over_limit",
            [
                f("oversize", TEXT, b" " * chunk, fin=False),
                f("oversize", CONT, b" " * chunk, fin=False),
                f("oversize", CONT, b" " * chunk, fin=True),
            ],
            {1009},
        ),
        ("length_header_2_40", [f("oversize", BINARY, b"", length=1 << 40)], {1009}),
        ("length_header_msb", [f("oversize", BINARY, b"", length=1 << 63)], {1002, 1009}),
    ]


KINDS: dict[str, int] = {
    # weights
    "preauth_invalid": 8,
    "bad_auth": 5,
    "auth_timeout": 1,
    "foreign_origin": 1,
    "protocol_violation": 8,
    "invalid_utf8": 5,
    "oversize": 3,
    "app_invalid": 30,
    "valid_odd": 18,
    "flood": 6,
    "during_auth": 3,
    "after_close": 4,
    "postauth_violation": 6,
    "pipelined": 3,
}


def make_plan(kind: str, rng: random.Random, room: str) -> tuple[Plan, set[int]]:
    """A plan and the close codes it should end with."""
    invalid = invalid_app_frames(room)
    valid = valid_frames(room)
    frames: list[Frame]
    if kind == "preauth_invalid":
        frames = [f(c, op, p) for c, op, p in rng.sample(invalid + valid, 4)]
        for fr in frames:
            fr.category = "preauth:" + fr.category
        return Plan(kind, [Step(frames=frames)]), {1008}
    if kind == "bad_auth":
        ticket: Any = rng.choice(
            [
                "bogus",
                "",
                "t" * 513,
                7,
                None,
                ["x"],
                {"t": 1},
                "x\x00y",
                CANARY + "é",
                base64.urlsafe_b64encode(os.urandom(32)).decode(),
            ]
        )
        body = {"type": "auth", "ticket": ticket}
        if rng.random() < 0.2:
            body["extra"] = 1
        op = rng.choice((TEXT, TEXT, BINARY))
        return Plan(kind, [Step(frames=[f("bad_auth", op, j(body))])]), {1008}
    if kind == "auth_timeout":
        partial = encode(TEXT, j({"type": "auth", "ticket": "x"}))[:5]
        steps = [Step(frames=[Frame(partial, "partial_frame")])] if rng.random() < 0.5 else []
        return Plan(kind, steps, timeout=25.0), {1008}
    if kind == "foreign_origin":
        return Plan(kind, [], origin_ok=False), set()
    if kind == "protocol_violation":
        name, frames, codes = rng.choice(protocol_violations(rng))
        return Plan(f"{kind}:{name}", [Step(frames=frames)]), codes
    if kind == "invalid_utf8":
        name, frames, codes = rng.choice(utf8_violations(rng))
        return Plan(f"{kind}:{name}", [Step(frames=frames)]), codes
    if kind == "oversize":
        name, frames, codes = rng.choice(oversize(rng))
        authed = rng.random() < 0.5
        steps = [Step(wait_ready=True)] if authed else []
        return Plan(f"{kind}:{name}", [*steps, Step(frames=frames)], auth=authed), codes
    if kind == "postauth_violation":
        name, frames, codes = rng.choice(
            protocol_violations(rng) + utf8_violations(rng) + oversize(rng)
        )
        lead = [f(c, op, p) for c, op, p in rng.sample(valid, 3)]
        steps = [Step(wait_ready=True), Step(frames=lead), Step(frames=frames)]
        return Plan(f"{kind}:{name}", steps, auth=True), codes
    if kind == "app_invalid":
        frames = []
        errors = 0
        while errors < 11:
            if rng.random() < 0.35:
                c, op, p = rng.choice(valid)
                frames += fragmented(rng, op, p) if rng.random() < 0.5 else [f(c, op, p)]
            else:
                c, op, p = rng.choice(invalid)
                frames += fragmented(rng, op, p, c) if rng.random() < 0.2 else [f(c, op, p)]
                errors += 1
        # Paced so the frame budget (30/s, burst 60) never trips: the errors close it.
        return Plan(kind, [Step(wait_ready=True), Step(frames=frames)], auth=True), {1008}
    if kind == "valid_odd":
        frames = []
        for _ in range(rng.randint(10, 40)):
            c, op, p = rng.choice(valid)
            r = rng.random()
            if r < 0.5:
                frames += fragmented(rng, op, p)
            elif r < 0.6:
                frames.append(
                    f("control", rng.choice((PING, PONG)), os.urandom(rng.randint(0, 125)))
                )
            else:
                frames.append(f(c, op, p))
        if rng.random() < 0.3:  # exactly at the limit: allowed
            big = j({"type": "ping", "ref": "l"})
            frames.append(f("at_limit", TEXT, big[:-1] + b" " * (LIMIT - len(big)) + b"}"))
        return (
            Plan(kind, [Step(wait_ready=True), Step(frames=frames)], auth=True, client_close=True),
            {1000},
        )
    if kind == "flood":
        n = rng.randint(80, 250)
        ping = j({"type": "ping", "ref": "f"})
        frames = [f("flood", rng.choice((TEXT, TEXT, BINARY)), ping) for _ in range(n)]
        return Plan(kind, [Step(wait_ready=True), Step(frames=frames)], auth=True), {1008}
    if kind == "during_auth":
        # auth, then frames at once, before `ready`.
        c, op, p = rng.choice(invalid + valid)
        return (
            Plan(kind, [Step(frames=[f("during_auth", op, p)])], auth=True, client_close=True),
            {1000, 1008},
        )
    if kind == "pipelined":
        frames = [f("pipelined", op, p) for _, op, p in rng.sample(valid, 3)]
        if rng.random() < 0.5:
            frames += fragmented(rng, TEXT, j({"type": "ping", "ref": "early"}), "pipelined")
        if rng.random() < 0.3:
            c, op, p = rng.choice(invalid)
            frames.append(f("pipelined", op, p))
        plan = Plan(kind, [Step(frames=frames)], auth=True, client_close=True, pipelined=True)
        return plan, {1000, 1008}
    if kind == "after_close":
        tail = [f("after_close", op, p) for _, op, p in rng.sample(invalid + valid, 5)]
        tail.append(f("after_close", PING, b"late"))
        steps = [
            Step(wait_ready=True),
            Step(frames=[f("valid", TEXT, j({"type": "ping"}))]),
            Step(frames=[f("client_close", CLOSE, close_payload(1000)), *tail]),
        ]
        return Plan(kind, steps, auth=True), {1000}
    raise ValueError(kind)


# --- the raw client -------------------------------------------------------------------------


@dataclass
class Outcome:
    kind: str
    handshake: int | None = None
    close: str = ""  # "server:<code>", "echo:<code>", "eof", "reset", "timeout"
    frames: Counter[str] = field(default_factory=Counter)
    server_frames: Counter[str] = field(default_factory=Counter)
    expected: set[int] = field(default_factory=set)
    error: str = ""


class Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.ready = asyncio.Event()
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self.end = ""
        self.we_closed = False
        self.server_frames: Counter[str] = Counter()

    async def read_loop(self) -> None:
        r = self.reader
        try:
            while True:
                b0, b1 = await r.readexactly(2)
                n = b1 & 0x7F
                if n == 126:
                    (n,) = struct.unpack("!H", await r.readexactly(2))
                elif n == 127:
                    (n,) = struct.unpack("!Q", await r.readexactly(8))
                payload = await r.readexactly(n) if n else b""
                op = b0 & 0x0F
                if op == TEXT:
                    try:
                        msg = json.loads(payload)
                        label = msg.get("type", "?")
                        if label == "error":
                            label = f"error:{msg.get('code')}"
                    except ValueError:
                        label = "unparsable"
                    self.server_frames[f"text:{label}"] += 1
                    if label == "ready":
                        self.ready.set()
                elif op == PING:
                    self.write(encode(PONG, payload))
                elif op == CLOSE:
                    self.close_code = (
                        struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                    )
                    self.end = ("echo:" if self.we_closed else "server:") + str(self.close_code)
                    if not self.we_closed:
                        self.we_closed = True
                        self.write(encode(CLOSE, payload[:2]))
                    self.closed.set()
                    return
                else:
                    self.server_frames["pong" if op == PONG else f"opcode:{op}"] += 1
        except asyncio.IncompleteReadError:
            self.end = self.end or ("after_our_close:eof" if self.we_closed else "eof")
        except (ConnectionResetError, BrokenPipeError):
            # After our own close, the server may close the socket on frames we wrote after
            # it (the after_close plan): the reset can overtake its echo.
            self.end = self.end or ("after_our_close:reset" if self.we_closed else "reset")
        finally:
            self.ready.set()  # never leave a waiter hanging
            self.closed.set()

    def write(self, data: bytes) -> bool:
        if self.writer.is_closing():
            return False
        try:
            self.writer.write(data)
        except (ConnectionResetError, BrokenPipeError, RuntimeError):
            return False
        return True


async def handshake(
    host: str, port: int, origin: str, early: bytes = b""
) -> tuple[int, asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(host, port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n\r\n"
        ).encode()
        + early
    )
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, reader, writer


class Runner:
    def __init__(self, server: FuzzServer, tokens: list[str], room: str, seed: int) -> None:
        u = urlsplit(server.base_url)
        self.host, self.port = u.hostname or "127.0.0.1", u.port or 80
        self.origin = server.base_url
        self.tokens = tokens
        self.room = room
        self.seed = seed
        self.http = httpx.AsyncClient(base_url=server.base_url, timeout=30)
        self.outcomes: list[Outcome] = []
        self.frames_sent = 0
        self.ticket_failures = 0

    async def ticket(self, i: int) -> str:
        token = self.tokens[i % len(self.tokens)]
        r = await self.http.post("/api/v1/ws-ticket", headers={"Authorization": f"Bearer {token}"})
        if r.status_code != 200:
            self.ticket_failures += 1
            raise RuntimeError(f"ws-ticket {r.status_code}")
        return str(r.json()["ticket"])

    async def one(self, i: int) -> None:
        rng = random.Random(self.seed * 1_000_003 + i)
        kind = rng.choices(list(KINDS), weights=list(KINDS.values()))[0]
        plan, expected = make_plan(kind, rng, self.room)
        out = Outcome(plan.kind, expected=expected)
        try:
            await asyncio.wait_for(self._run(plan, out, i), plan.timeout)
        except TimeoutError:
            out.close = out.close or "timeout"
        except (OSError, asyncio.IncompleteReadError, RuntimeError) as exc:
            out.error = type(exc).__name__ + (f": {exc}" if isinstance(exc, RuntimeError) else "")
        self.frames_sent += sum(out.frames.values())
        self.outcomes.append(out)

    @staticmethod
    async def _send(conn: Conn, writer: asyncio.StreamWriter, data: bytes) -> bool:
        """Write one frame. One over 16 KiB goes out as its header and first 16 KiB, then (unless
        the server closed within 1 s, as it does for a frame over the limit: it refuses it
        from its header) the rest in 64 KiB pieces. The server fails such a connection and
        closes its socket at once (RFC 6455 §7.1.7); bytes written after that would reset
        the connection, and the reset can overtake its close frame."""
        first = 16384
        if len(data) <= first:
            return conn.write(data)
        if not conn.write(data[:first]):
            return False
        try:
            await asyncio.wait_for(writer.drain(), 5)
            await asyncio.wait_for(conn.closed.wait(), 1.0)
            return True  # refused: the rest would never be read
        except TimeoutError:
            pass
        except ConnectionError:
            return True
        for at in range(first, len(data), 65536):
            if conn.closed.is_set() or not conn.write(data[at : at + 65536]):
                return True
            try:
                await asyncio.wait_for(writer.drain(), 5)
            except (TimeoutError, ConnectionError):
                return True
            await asyncio.sleep(0)
        return True

    async def _run(self, plan: Plan, out: Outcome, i: int) -> None:
        ticket = await self.ticket(i) if plan.auth else None
        origin = self.origin if plan.origin_ok else "http://evil.example"
        auth = encode(TEXT, j({"type": "auth", "ticket": ticket})) if ticket is not None else b""
        steps = plan.steps
        early = b""
        if plan.pipelined and auth:
            early = auth + b"".join(fr.data for fr in steps[0].frames)
        status, reader, writer = await handshake(self.host, self.port, origin, early)
        out.handshake = status
        if status != 101:
            writer.close()
            return
        conn = Conn(reader, writer)
        reading = asyncio.create_task(conn.read_loop())
        try:
            if early:
                out.frames["auth"] += 1
                out.frames.update(fr.category for fr in steps[0].frames)
                steps = steps[1:]
            elif auth:
                conn.write(auth)
                out.frames["auth"] += 1
            for step in steps:
                if step.wait_ready:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(conn.ready.wait(), 10)
                for fr in step.frames:
                    if conn.closed.is_set():
                        break  # the server closed: what follows would not be read
                    if not await self._send(conn, writer, fr.data):
                        break
                    out.frames[fr.category] += 1
                    if fr.category == "client_close":
                        conn.we_closed = True
                    # Give the reader a turn (and the kernel buffer a drain) now and then.
                    if out.frames.total() % 16 == 0:
                        try:
                            await asyncio.wait_for(writer.drain(), 5)
                        except (TimeoutError, ConnectionError):
                            break
                if step.sleep:
                    await asyncio.sleep(step.sleep)
            if plan.client_close and not conn.closed.is_set():
                conn.we_closed = True
                if conn.write(encode(CLOSE, close_payload(1000))):
                    out.frames["client_close"] += 1
            with contextlib.suppress(TimeoutError, ConnectionError):
                await asyncio.wait_for(writer.drain(), 5)
            await conn.closed.wait()
        finally:
            out.close = conn.end or "timeout"
            out.server_frames = conn.server_frames
            reading.cancel()
            with contextlib.suppress(BaseException):
                await reading
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 2)

    async def run(
        self, target: int, concurrency: int, deadline: float, tick: Callable[[], None]
    ) -> int:
        started = 0
        running: set[asyncio.Task[None]] = set()
        while True:
            while (
                len(running) < concurrency
                and self.frames_sent + 40 * len(running) < target
                and time.monotonic() < deadline
            ):
                running.add(asyncio.create_task(self.one(started)))
                started += 1
            if not running:
                break
            _done, running = await asyncio.wait(
                running, timeout=1.0, return_when=asyncio.FIRST_COMPLETED
            )
            tick()
        await self.http.aclose()
        return started


def summarize(outcomes: list[Outcome]) -> dict[str, Any]:
    closes: Counter[str] = Counter(o.close for o in outcomes if o.handshake == 101)
    server_codes: Counter[str] = Counter()
    echo_codes: Counter[str] = Counter()
    other: Counter[str] = Counter()
    after_ours: Counter[str] = Counter()
    for end, n in closes.items():
        if end.startswith("server:"):
            server_codes[end.split(":", 1)[1]] += n
        elif end.startswith("echo:"):
            echo_codes[end.split(":", 1)[1]] += n
        elif end.startswith("after_our_close:"):
            after_ours[end.split(":", 1)[1]] += n
        else:
            other[end] += n
    frames: Counter[str] = Counter()
    server_frames: Counter[str] = Counter()
    by_kind: dict[str, Counter[str]] = {}
    errors_by_kind: dict[str, Counter[str]] = {}
    unexpected: Counter[str] = Counter()
    for o in outcomes:
        frames.update(o.frames)
        server_frames.update(o.server_frames)
        kind = o.kind.split(":")[0]
        by_kind.setdefault(kind, Counter())[o.close or f"http:{o.handshake}"] += 1
        errors_by_kind.setdefault(kind, Counter()).update(
            {k[len("text:error:") :]: n for k, n in o.server_frames.items() if "error:" in k}
        )
        code = o.close.split(":", 1)[1] if ":" in o.close else None
        if code is not None and not code.isdigit():
            code = None
        if o.handshake == 101 and o.expected and (code is None or int(code) not in o.expected):
            unexpected[f"{o.kind} → {o.close}"] += 1
    return {
        "connections": len(outcomes),
        "handshakes": dict(Counter(str(o.handshake) for o in outcomes)),
        "frames_sent": frames.total(),
        "frames_by_category": dict(frames.most_common()),
        "server_close_codes": dict(sorted(server_codes.items())),
        "echoed_close_codes": dict(sorted(echo_codes.items())),
        "ends_without_close_frame": dict(other),
        # We closed first (then wrote on, in after_close): the socket ended before the echo.
        "ends_after_our_close_without_echo": dict(after_ours),
        "server_frames_received": dict(server_frames.most_common()),
        "closes_by_kind": {k: dict(v) for k, v in sorted(by_kind.items())},
        "error_frames_by_kind": {k: dict(v) for k, v in sorted(errors_by_kind.items())},
        "unexpected_close_for_plan": dict(unexpected.most_common(30)),
        "client_errors": dict(Counter(o.error for o in outcomes if o.error)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz_ws", description=__doc__)
    parser.add_argument(
        "--frames", type=int, default=int(os.environ.get("HUSHROOM_FUZZ_WS_FRAMES", 100_000))
    )
    parser.add_argument(
        "--concurrency", type=int, default=int(os.environ.get("HUSHROOM_FUZZ_WS_CONCURRENCY", 32))
    )
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--seed", type=int, default=20261203)
    parser.add_argument("--max-minutes", type=float, default=14.0)
    parser.add_argument("--out", type=Path, help="also write the JSON report here")
    args = parser.parse_args(argv)
    if args.frames < 1 or args.concurrency < 1:
        parser.error("--frames and --concurrency must be positive")

    result: dict[str, Any] = {
        **header("ws"),
        "database": args.database,
        "seed": args.seed,
        "target_frames": args.frames,
        "concurrency": args.concurrency,
        "kinds": KINDS,
    }
    problems: list[str] = []
    server = FuzzServer(args.database)
    server.start()
    print(f"fuzz-ws: server {server.ws_url} ({args.database}), load {loadavg()}", flush=True)
    try:
        # Enough accounts that `concurrency` sockets stay under 20 per user.
        n_users = max(2, args.concurrency // 10 + 1)
        accounts = register_accounts(server.base_url, [f"WS Fuzzer {i}" for i in range(n_users)])
        with httpx.Client(base_url=server.base_url, timeout=30) as c:
            room = c.post("/api/v1/rooms", json={"name": "ws fuzz"}, headers=accounts[0].headers)
            room.raise_for_status()
            room_id = room.json()["id"]
            for a in accounts[1:]:
                c.post(f"/api/v1/rooms/{room_id}/join", headers=a.headers).raise_for_status()
        time.sleep(1)
        metrics_before = server.metrics()
        rss_before, log_start = server.rss(), server.log_size()
        cpu_before = server.cpu_s()
        peak = [rss_before or 0]
        t0 = time.monotonic()
        last = [0.0]
        runner = Runner(server, [a.access_token for a in accounts], room_id, args.seed)

        def tick() -> None:
            peak[0] = max(peak[0], server.rss() or 0)
            now = time.monotonic() - t0
            if now - last[0] >= 30:
                last[0] = now
                print(
                    f"fuzz-ws: {now:5.0f}s {runner.frames_sent:8,} frames, "
                    f"{len(runner.outcomes):6,} connections, RSS {peak[0] / 2**20:.0f} MB peak, "
                    f"load {loadavg()}",
                    flush=True,
                )
            if not server.alive():
                raise RuntimeError("server died")

        deadline = t0 + args.max_minutes * 60
        try:
            asyncio.run(runner.run(args.frames, args.concurrency, deadline, tick))
        except RuntimeError as exc:
            problems.append(str(exc))
        duration = time.monotonic() - t0
        time.sleep(3)  # let the server finish its closes
        alive = server.alive()
        with httpx.Client(base_url=server.base_url, timeout=30) as c:
            try:
                ready = c.get("/readyz").status_code
            except httpx.HTTPError:
                ready = 0
        metrics_after = server.metrics() if alive else {}
        log = scan_log(server.process.log_path, log_start)
        summary = summarize(runner.outcomes)
        canary_in_log = CANARY in server.process.log_path.read_text(errors="replace")
        result.update(
            {
                **summary,
                "duration_s": round(duration, 1),
                "frames_per_s": round(summary["frames_sent"] / duration, 1),
                "ticket_failures": runner.ticket_failures,
                "server_metrics": {
                    "ws_closes_by_code": metric_delta(
                        metrics_before, metrics_after, "hushroom_ws_closes_total"
                    ),
                    "errors_by_code": metric_delta(
                        metrics_before, metrics_after, "hushroom_errors_total"
                    ),
                },
                "server": {
                    "alive_at_end": alive,
                    "readyz_at_end": ready,
                    "rss_before_mb": round((rss_before or 0) / 2**20, 1),
                    "rss_peak_mb": round(peak[0] / 2**20, 1),
                    "rss_after_mb": round((server.rss() or 0) / 2**20, 1),
                    "cpu_s": round((server.cpu_s() or 0) - (cpu_before or 0), 1),
                    "log_growth_bytes": log["bytes"],
                    "canary_in_log": canary_in_log,
                    "log": log,
                },
                "loadavg_at_end": loadavg(),
            }
        )
    finally:
        server.stop()

    bad = {c: n for c, n in result["server_close_codes"].items() if int(c) not in SERVER_CODES_OK}
    bad_echo = {c: n for c, n in result["echoed_close_codes"].items() if int(c) not in NORMAL_CODES}
    if result["frames_sent"] < args.frames:
        problems.append(f"only {result['frames_sent']} frames of {args.frames}")
    if bad or bad_echo:
        problems.append(f"close codes outside the accepted set: {bad} {bad_echo}")
    if result["ends_without_close_frame"]:
        problems.append(
            f"connections ended without a close frame: {result['ends_without_close_frame']}"
        )
    if not alive or ready != 200:
        problems.append(f"server alive={alive}, /readyz {ready} at the end")
    if log["raw_tracebacks"] or log["traceback_fields"] or log["server_fault_events"]:
        problems.append(f"server log: errors {log['server_fault_events']}, tracebacks")
    if result["server"]["canary_in_log"]:
        problems.append("frame content (the canary) reached the server log")
    if result["client_errors"]:
        problems.append(f"client errors: {result['client_errors']}")
    result["problems"] = problems
    result["ok"] = not problems
    path = write_result("ws", result, args.out)
    print_summary(result, path)
    return 0 if result["ok"] else 1


def print_summary(r: dict[str, Any], path: Path) -> None:
    s = r["server"]
    print(
        f"fuzz-ws: {r['frames_sent']:,} frames over {r['connections']:,} connections "
        f"in {r['duration_s']}s ({r['frames_per_s']}/s)"
    )
    print(f"  frames: {r['frames_by_category']}")
    print(f"  handshakes: {r['handshakes']}")
    print(
        f"  server close codes: {r['server_close_codes']}; echoed: {r['echoed_close_codes']}; "
        f"without close frame: {r['ends_without_close_frame']} "
        f"(after our own close: {r['ends_after_our_close_without_echo']})"
    )
    print(f"  server frames: {dict(list(r['server_frames_received'].items())[:12])}")
    print(f"  plans ending otherwise than expected: {r['unexpected_close_for_plan']}")
    print(
        f"  server alive {s['alive_at_end']}, RSS {s['rss_before_mb']} → peak {s['rss_peak_mb']} "
        f"→ {s['rss_after_mb']} MB, log +{s['log_growth_bytes']:,} B, "
        f"errors {s['log']['error_events']}, canary in log {s['canary_in_log']}"
    )
    print(f"  {'OK' if r['ok'] else 'PROBLEMS: ' + '; '.join(r['problems'])}")
    print(f"  → {path}")


if __name__ == "__main__":
    sys.exit(main())
