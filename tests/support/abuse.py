"""Helpers for the abuse-limit and revocation tests against real servers: clients bound to a
chosen loopback source address, scripted wrong logins, and the authenticated operations of the
OpenAPI schema."""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import Sequence
from typing import Any

import httpx

from tests.support.accounts import Account, b64

AUTH = "/api/v1/auth"
# Operations that would end the session if called with a live token before the logout.
ENDING = {("post", f"{AUTH}/logout"), ("post", f"{AUTH}/logout-all")}


def client_from(source: str, base_url: str, **kwargs: Any) -> httpx.AsyncClient:
    """An HTTP client whose connections leave from `source` (any 127.0.0.0/8 address reaches a
    server listening on 127.0.0.1)."""
    transport = httpx.AsyncHTTPTransport(
        local_address=source, limits=httpx.Limits(max_connections=50)
    )
    return httpx.AsyncClient(base_url=base_url, transport=transport, timeout=60, **kwargs)


def wrong(email: str) -> dict[str, str]:
    return {"email": email, "auth_secret": b64(os.urandom(32))}


def right(account: Account) -> dict[str, str]:
    return {"email": account.email, "auth_secret": b64(account.auth_secret)}


async def wrong_logins(
    clients: Sequence[httpx.AsyncClient], email: str, total: int, **kwargs: Any
) -> list[int]:
    """`total` wrong logins for `email`, spread over `clients` in turn, 50 in flight."""
    statuses: list[int] = []
    for start in range(0, total, 50):
        batch = [
            clients[i % len(clients)].post(f"{AUTH}/login", json=wrong(email), **kwargs)
            for i in range(start, min(total, start + 50))
        ]
        statuses.extend(r.status_code for r in await asyncio.gather(*batch))
    return statuses


def authenticated_operations(schema: dict[str, Any]) -> list[tuple[str, str]]:
    """(method, path with placeholders filled) of every operation that takes a bearer token."""
    operations: list[tuple[str, str]] = []
    for path, item in schema["paths"].items():
        for method, op in item.items():
            if not isinstance(op, dict) or not op.get("security"):
                continue
            filled = re.sub(r"\{[^}]+\}", lambda _m: str(uuid.uuid4()), path)
            operations.append((method, filled))
    return sorted(operations)


async def call(http: httpx.AsyncClient, method: str, path: str, token: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if method in ("get", "delete"):
        return await http.request(method.upper(), path, headers=headers)
    return await http.request(method.upper(), path, headers=headers, json={})
