"""Structured JSON logs through structlog, with secrets redacted before anything is written.

What reaches the log (docs/security.md § Edges):

- Fields whose names look secret are replaced by `[redacted]` (`redact`).
- Exceptions are written as their type and the code locations of their traceback, never their
  message, arguments or locals: an exception's text can carry user data (a UnicodeDecodeError
  repeats the frame it failed on, a driver error the row it refused) (`scrub_exceptions`).
- Lines from other libraries (uvicorn, websockets, asyncio…) lose their query strings and are
  cut short; every string field is capped (`cap_lengths`).
- Warnings and errors, and every line of another library, are rate-limited per message template:
  a burst, then a trickle, and the next line that passes says how many were dropped
  (`RateLimitFilter`). A client cannot grow the log faster than that, whatever it sends.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable, MutableMapping
from types import TracebackType
from typing import IO, Any

import structlog

# Keys whose values never reach a log line, whatever logs them.
_SECRET_KEYS = re.compile(
    r"(pass|secret|token|ticket|authorization|cookie|auth_hash|vault|ciphertext|body|key)",
    re.IGNORECASE,
)
REDACTED = "[redacted]"
# Loggers of this code base; everything else is "foreign" (uvicorn, websockets, asyncio, …).
OWN_PREFIX = "hushroom"
# Longest string field / foreign message written (longer ones are cut, with a marker).
MAX_FIELD_CHARS = 256
MAX_EVENT_CHARS = 300
_QUERY = re.compile(r"\?[^\s\"']*")
_EXCEPTION_KEYS = ("exc_info", "exception", "stack", "stack_info")
# Rate limits per (logger, level, message template): `RATE_BURST` lines at once, then one per
# `RATE_PERIOD_S`; at most `RATE_KEYS` templates are tracked (the oldest are forgotten).
RATE_BURST = 10
RATE_PERIOD_S = 10.0
RATE_KEYS = 1024


def redact(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        if key != "event" and _SECRET_KEYS.search(key):
            event[key] = REDACTED
    return event


def _exc_info(value: Any) -> tuple[type[BaseException], BaseException, TracebackType | None] | None:
    if isinstance(value, BaseException):
        return type(value), value, value.__traceback__
    if isinstance(value, tuple) and len(value) == 3 and isinstance(value[1], BaseException):
        return value
    if value is True:
        current = sys.exc_info()
        if current[1] is not None:
            return current
    return None


def scrub_exceptions(
    _logger: Any, _name: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """An exception becomes `error_type` and `traceback` (file:line in function, innermost
    last): where it happened, never what it said."""
    for key in _EXCEPTION_KEYS:
        value = event.pop(key, None)
        info = _exc_info(value) if key == "exc_info" else None
        if info is None:
            continue
        exc_type, _exc, tb = info
        event.setdefault("error_type", exc_type.__name__)
        frames = traceback.extract_tb(tb, limit=20) if tb is not None else []
        event["traceback"] = [f"{f.filename}:{f.lineno} in {f.name}" for f in frames]
    return event


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…[cut]"


def cap_lengths(
    _logger: Any, _name: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Foreign messages lose query strings; every string is capped."""
    event.pop("color_message", None)  # uvicorn's copy of the message, with terminal colours
    message = event.get("event")
    if isinstance(message, str):
        if not str(event.get("logger", "")).startswith(OWN_PREFIX):
            message = _QUERY.sub("?[redacted]", message)
        event["event"] = _cut(message, MAX_EVENT_CHARS)
    for key, value in event.items():
        if key != "event" and isinstance(value, str):
            event[key] = _cut(value, MAX_FIELD_CHARS)
    return event


class RateLimitFilter(logging.Filter):
    """Drops lines beyond a token bucket per (logger, level, message template): every warning
    and error, and every line of a foreign logger (uvicorn's and websockets' per-connection
    lines included). Our own info lines (the request log) pass untouched. The first line that
    passes after some were dropped carries `suppressed`."""

    def __init__(
        self,
        burst: int = RATE_BURST,
        period_s: float = RATE_PERIOD_S,
        max_keys: int = RATE_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.burst = burst
        self.period_s = period_s
        self.max_keys = max_keys
        self._clock = clock
        # key → [tokens, last refill, dropped since the last line that passed]
        self._buckets: OrderedDict[tuple[str, int, str], list[float]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _template(record: logging.LogRecord) -> str:
        msg = record.msg
        if isinstance(msg, dict):  # a structlog event
            return str(msg.get("event", ""))[:200]
        return str(msg)[:200]

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING and record.name.startswith(OWN_PREFIX):
            return True
        key = (record.name, record.levelno, self._template(record))
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = [float(self.burst), now, 0.0]
                self._buckets[key] = bucket
                while len(self._buckets) > self.max_keys:
                    self._buckets.popitem(last=False)
            else:
                self._buckets.move_to_end(key)
                bucket[0] = min(float(self.burst), bucket[0] + (now - bucket[1]) / self.period_s)
                bucket[1] = now
            if bucket[0] < 1.0:
                bucket[2] += 1
                return False
            bucket[0] -= 1.0
            dropped, bucket[2] = int(bucket[2]), 0.0
        if dropped:
            record.suppressed = dropped
        return True


def configure(level: str = "INFO", json: bool = True, stream: IO[str] | None = None) -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
        scrub_exceptions,
        redact,
        cap_lengths,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    handler.addFilter(RateLimitFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's access log prints full URLs; ours (app.py) logs the route path without query.
    logging.getLogger("uvicorn.access").handlers[:] = []
    logging.getLogger("uvicorn.access").propagate = False
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
