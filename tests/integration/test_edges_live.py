"""Robust at the edges against a real server process (issue 14, item 7; docs/security.md §
Edges): request bodies far over the limit cost no memory, and hostile WebSocket frames leave
neither their content nor a flood in the log."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import Callable

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.support.server import ServerProcess

MAX_WS_FRAME_BYTES = 128 * 1024
BIG = 64 * 1024 * 1024
CHUNK = b"x" * (1024 * 1024)


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        lines = f.read().splitlines()
    for line in lines:
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def _post_big(server: ServerProcess, *, chunked: bool) -> tuple[int, bytes]:
    """POST a 64 MB body to the login route as fast as the server takes it; returns the status
    and body of the answer (the server answers and closes long before the body is through)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {BIG}"
    writer.write(
        (
            f"POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            f"Content-Type: application/json\r\n{length}\r\n\r\n"
        ).encode()
    )

    async def push() -> None:
        with contextlib.suppress(OSError):
            for _ in range(BIG // len(CHUNK)):
                if chunked:
                    writer.write(b"%x\r\n" % len(CHUNK) + CHUNK + b"\r\n")
                else:
                    writer.write(CHUNK)
                await writer.drain()

    pusher = asyncio.create_task(push())
    try:
        async with asyncio.timeout(30):
            head = await reader.readuntil(b"\r\n\r\n")
            size = int(
                next(
                    line.split(b":")[1]
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
            )
            body = await reader.readexactly(size)
    finally:
        pusher.cancel()
        with contextlib.suppress(BaseException):
            await pusher
        writer.transport.abort()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    return int(head.split()[1]), body


async def test_huge_bodies_are_refused_without_growing_the_process(server: ServerProcess) -> None:
    assert server.proc is not None
    pid = server.proc.pid
    # Warm up (first requests allocate what every request then reuses).
    await _post_big(server, chunked=False)
    await _post_big(server, chunked=True)
    before = _rss_kib(pid)
    answers = await asyncio.gather(*(_post_big(server, chunked=False) for _ in range(8)))
    answers.append(await _post_big(server, chunked=True))
    after = _rss_kib(pid)
    for status, body in answers:
        assert status == 413
        assert json.loads(body)["code"] == "body_too_large"
    # 8 × 64 MB declared and 64 MB streamed: the process grows by a few MB at most.
    assert after - before < 8 * 1024, (before, after)


def _frames(canary: str) -> list[Callable[[ClientConnection], object]]:
    """Invalid frames of every kind, each carrying the canary."""
    big = canary * ((MAX_WS_FRAME_BYTES // 2) // len(canary))
    return [
        lambda ws: ws.send("{not json " + canary),
        lambda ws: ws.send(json.dumps({"type": canary, "body": canary})),
        lambda ws: ws.send(json.dumps({"type": "message.send", "body": canary, canary: 1})),
        lambda ws: ws.send(json.dumps({"type": "auth", "ticket": canary})),
        lambda ws: ws.send(json.dumps({"type": "ping", "ref": canary * 10})),
        lambda ws: ws.send(json.dumps([canary])),
        lambda ws: ws.send(canary.encode()),  # binary
        lambda ws: ws.send(b"\xff\xfe" + canary.encode(), text=True),  # invalid UTF-8 text
        lambda ws: ws.send(json.dumps({"type": "message.send", "body": big})),  # big, in limits
        lambda ws: ws.send("x" * (MAX_WS_FRAME_BYTES + 1) + canary),  # over the frame limit
        lambda ws: ws.close(4000, canary[:100]),  # a close reason
    ]


async def _hostile_client(server: ServerProcess, canary: str, count: int) -> int:
    """Send `count` invalid frames from one unauthenticated client, reconnecting whenever the
    server closes; returns how many reconnects it took."""
    frames = _frames(canary)
    sent = connects = 0
    while sent < count:
        connects += 1
        try:
            async with connect(
                server.ws_url, origin=None, proxy=None, max_size=None, close_timeout=1
            ) as ws:
                while sent < count:
                    await frames[sent % len(frames)](ws)  # type: ignore[misc]
                    sent += 1
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(0.001):
                            await ws.recv()
        except (ConnectionClosed, InvalidStatus, OSError):
            sent += 1  # the frame that got the socket closed counts
    return connects


async def test_invalid_frames_leave_no_content_and_little_volume_in_the_log(
    server: ServerProcess,
) -> None:
    canary = "CANARY-" + secrets.token_hex(12)
    before = server.log_path.stat().st_size
    connects = await _hostile_client(server, canary, 1000)
    await asyncio.sleep(1.0)  # let the server write what it will
    log = server.log_path.read_bytes()[before:]
    assert canary.encode() not in log
    assert canary[7:].encode() not in log
    assert len(log) < 100 * 1024, (len(log), connects, log[-3000:])


async def _raw_status(server: ServerProcess, target: bytes) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(
            b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        async with asyncio.timeout(10):
            status_line = await reader.readline()
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    return int(status_line.split()[1])


async def test_odd_paths_over_a_real_socket_get_4xx(server: ServerProcess) -> None:
    from tests.api.test_edges import ODD_TARGETS

    before = server.log_path.stat().st_size
    statuses = {target[:60]: await _raw_status(server, target) for target in ODD_TARGETS}
    wrong = {t: s for t, s in statuses.items() if not 400 <= s < 500}
    assert not wrong, wrong
    assert b"unhandled error" not in server.log_path.read_bytes()[before:]
