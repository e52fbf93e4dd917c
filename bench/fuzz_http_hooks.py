"""Schemathesis hooks for bench/fuzz_http.py, loaded into each `schemathesis run` worker through
`SCHEMATHESIS_HOOKS=bench.fuzz_http_hooks`.

- `after_call` / `after_network_error` count every request the worker sends, per operation and
  status, and keep a curl reproducer (and the start of the body) of every 5xx and of a sample
  of network errors. The counts are written as JSON to `$HUSHROOM_FUZZ_STATS` every
  `FLUSH_EVERY` requests and at exit.
- `map_path_parameters` puts real resources (`$HUSHROOM_FUZZ_IDS`: a JSON object, parameter
  name → list of ids) into about half of the generated path parameters, chosen from the value
  itself so a seed reproduces a run: random UUIDs alone only ever reach the 404 branch.

Not imported by anything else; schemathesis imports it.
"""

from __future__ import annotations

import atexit
import json
import os
import zlib
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import schemathesis

STATS_PATH = os.environ.get("HUSHROOM_FUZZ_STATS")
IDS: dict[str, list[str]] = json.loads(os.environ.get("HUSHROOM_FUZZ_IDS", "{}"))
FLUSH_EVERY = 200
MAX_SAMPLES = 50

_by_operation: dict[str, Counter[str]] = defaultdict(Counter)
_server_errors: list[dict[str, Any]] = []
_network_errors: list[dict[str, Any]] = []
_state = {"requests": 0, "network_errors": 0, "server_errors": 0}


def _label(case: Any) -> str:
    return f"{case.operation.method.upper()} {case.operation.path}"


def _reproducer(case: Any) -> str:
    try:
        return str(case.as_curl_command())
    except Exception as exc:  # a reproducer that cannot be rendered is still worth its error
        return f"<no curl: {type(exc).__name__}> {case!r}"[:4000]


def flush() -> None:
    if not STATS_PATH:
        return
    data = {
        "requests": _state["requests"],
        "network_errors": _state["network_errors"],
        "server_errors": _state["server_errors"],
        "by_operation": {op: dict(c) for op, c in sorted(_by_operation.items())},
        "server_error_samples": _server_errors,
        "network_error_samples": _network_errors,
    }
    tmp = Path(STATS_PATH + ".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(STATS_PATH)


atexit.register(flush)


def _count(case: Any, status: str) -> None:
    _by_operation[_label(case)][status] += 1
    _state["requests"] += 1
    if _state["requests"] % FLUSH_EVERY == 0:
        flush()


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    status = int(response.status_code)
    _count(case, str(status))
    if status >= 500:
        _state["server_errors"] += 1
        if len(_server_errors) < MAX_SAMPLES:
            _server_errors.append(
                {
                    "operation": _label(case),
                    "status": status,
                    "curl": _reproducer(case),
                    "response": response.text[:2000],
                }
            )
        flush()


@schemathesis.hook
def after_network_error(context: Any, case: Any, request: Any) -> None:
    _count(case, "network_error")
    _state["network_errors"] += 1
    if len(_network_errors) < MAX_SAMPLES:
        _network_errors.append({"operation": _label(case), "curl": _reproducer(case)})


@schemathesis.hook
def map_path_parameters(context: Any, path_parameters: dict[str, Any]) -> dict[str, Any]:
    if not IDS or not path_parameters:
        return path_parameters
    out = dict(path_parameters)
    for name, value in path_parameters.items():
        real = IDS.get(name)
        if not real:
            continue
        pick = zlib.crc32(repr(value).encode())
        if pick % 2 == 0:
            out[name] = real[(pick // 2) % len(real)]
    return out
