"""Secrets never reach a log line, whoever logs them."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from hushroom import logs


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    out = io.StringIO()
    logs.configure("INFO", json=True, stream=out)
    yield out
    logging.getLogger().handlers.clear()


def test_secret_fields_are_redacted_in_json_logs(stream: io.StringIO) -> None:
    logging.getLogger("hushroom.test").info(
        "login",
        extra={
            "auth_secret": "CANARY-auth",
            "refresh_token": "CANARY-refresh",
            "ticket": "CANARY-ticket",
            "body": "CANARY-body",
            "ciphertext": "CANARY-ct",
            "vault": "CANARY-vault",
            "Authorization": "Bearer CANARY-jwt",
            "path": "/api/v1/auth/login",
            "status": 200,
        },
    )
    line = stream.getvalue().strip().splitlines()[-1]
    record = json.loads(line)
    assert "CANARY" not in line
    assert record["auth_secret"] == logs.REDACTED
    assert record["path"] == "/api/v1/auth/login"
    assert record["status"] == 200
    assert record["event"] == "login"
