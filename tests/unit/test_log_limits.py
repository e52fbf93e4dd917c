"""Log lines at the edges (docs/security.md § Edges): exception text, foreign libraries' lines
and floods never put what a client sent into the log."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from hushroom import logs

CANARY = "CANARY-7f3a9c"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    out = io.StringIO()
    logs.configure("INFO", json=True, stream=out)
    yield out
    logging.getLogger().handlers.clear()


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_exceptions_are_logged_by_type_and_place_never_by_text(stream: io.StringIO) -> None:
    try:
        (b"\xff" + CANARY.encode()).decode("utf-8")
    except UnicodeDecodeError:
        logging.getLogger("uvicorn.error").exception("Invalid UTF-8 sequence received")
    try:
        raise ValueError(CANARY)
    except ValueError as exc:
        logging.getLogger("hushroom.gateway").error("gateway error", exc_info=exc)
    assert CANARY not in stream.getvalue()
    first, second = _lines(stream)
    assert first["error_type"] == "UnicodeDecodeError"
    assert second["error_type"] == "ValueError"
    trace = second["traceback"]
    assert isinstance(trace, list) and "test_log_limits.py" in trace[-1]


def test_foreign_lines_lose_query_strings_and_every_string_is_capped(
    stream: io.StringIO,
) -> None:
    logging.getLogger("uvicorn.error").info(
        '%s - "WebSocket %s" [accepted]', "127.0.0.1:5000", f"/ws?ticket={CANARY}"
    )
    logging.getLogger("hushroom.http").info("request", extra={"path": "/" + "a" * 10_000})
    logging.getLogger("websockets.server").warning("x" * 10_000)
    assert CANARY not in stream.getvalue()
    accepted, request, long = _lines(stream)
    assert accepted["event"] == '127.0.0.1:5000 - "WebSocket /ws?[redacted]" [accepted]'
    assert len(str(request["path"])) < 300
    assert len(str(long["event"])) < 400


def test_a_flood_of_errors_is_cut_to_a_burst(stream: io.StringIO) -> None:
    log = logging.getLogger("uvicorn.error")
    for i in range(1000):
        log.error("Invalid HTTP request received from %s", f"10.0.0.{i % 250}")
        log.info("connection open")
    lines = _lines(stream)
    assert len(lines) == 2 * logs.RATE_BURST
    # Our own request log is not sampled.
    for _ in range(100):
        logging.getLogger("hushroom.http").info("request")
    assert len(_lines(stream)) == 2 * logs.RATE_BURST + 100


def test_the_next_line_that_passes_counts_the_dropped_ones() -> None:
    now = [0.0]
    limiter = logs.RateLimitFilter(burst=2, period_s=10.0, clock=lambda: now[0])

    def record() -> logging.LogRecord:
        return logging.LogRecord("hushroom.api", logging.ERROR, __file__, 1, "boom", (), None)

    passed = [limiter.filter(record()) for _ in range(5)]
    assert passed == [True, True, False, False, False]
    now[0] += 10.0
    late = record()
    assert limiter.filter(late)
    assert getattr(late, "suppressed", None) == 3
    again = record()
    assert not limiter.filter(again)


def test_tracked_templates_are_bounded() -> None:
    limiter = logs.RateLimitFilter(max_keys=8)
    for i in range(100):
        rec = logging.LogRecord("x", logging.ERROR, __file__, 1, f"template {i}", (), None)
        assert limiter.filter(rec)
    assert len(limiter._buckets) == 8
