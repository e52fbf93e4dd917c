"""Bench accounts over HTTP, the way tests/support/accounts.py makes them: a random 32-byte auth
secret per user (no client-side Argon2: that is the SDK's job and would only slow the setup)."""

from __future__ import annotations

import asyncio
import base64
import os
import time
import uuid
from typing import Any

import httpx

KDF_PARAMS: dict[str, Any] = {"alg": "argon2id", "version": 1, "m_kib": 65536, "t": 3, "p": 1}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


async def _register_login(http: httpx.AsyncClient, base: str, tag: str, i: int) -> dict[str, Any]:
    name = f"bench {tag} {i}"
    email = f"bench.{tag}.{i}@example.test"
    secret = os.urandom(32)
    body = {
        "display_name": name,
        "email": email,
        "kdf_salt": b64(os.urandom(16)),
        "kdf_params": dict(KDF_PARAMS),
        "auth_secret": b64(secret),
        "key_bundle": b64(b"bench-public-keys-" + str(i).encode()),
        "vault": b64(b"bench-sealed-vault-" + str(i).encode()),
    }
    r = await http.post(f"{base}/api/v1/auth/register", json=body)
    if r.status_code != 201:
        raise RuntimeError(f"register: {r.status_code} {r.text[:200]}")
    user_id = r.json()["user_id"]
    r = await http.post(
        f"{base}/api/v1/auth/login",
        json={"email": email, "auth_secret": b64(secret), "device_name": "bench"},
    )
    if r.status_code != 200:
        raise RuntimeError(f"login: {r.status_code} {r.text[:200]}")
    return {"user_id": user_id, "token": r.json()["access_token"]}


async def _bounded(n: int, concurrency: int, fn: Any, label: str) -> list[Any]:
    sem = asyncio.Semaphore(concurrency)
    done = 0
    t0 = last = time.monotonic()

    async def one(i: int) -> Any:
        nonlocal done, last
        async with sem:
            out = await fn(i)
        done += 1
        now = time.monotonic()
        if now - last > 3:
            last = now
            print(f"  {label}: {done}/{n} ({done / (now - t0):.0f}/s)", flush=True)
        return out

    return list(await asyncio.gather(*(one(i) for i in range(n))))


def create_users(base: str, n: int, tag: str | None = None) -> list[dict[str, Any]]:
    tag = tag or uuid.uuid4().hex[:8]

    async def run() -> list[dict[str, Any]]:
        async with httpx.AsyncClient(timeout=60) as http:
            return await _bounded(
                n, 8, lambda i: _register_login(http, base, tag, i), "register+login"
            )

    return asyncio.run(run())


def open_dms(base: str, pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[str]:
    async def run() -> list[str]:
        async with httpx.AsyncClient(timeout=60) as http:

            async def one(i: int) -> str:
                a, b = pairs[i]
                r = await http.post(
                    f"{base}/api/v1/dms",
                    json={"user_id": b["user_id"]},
                    headers={"Authorization": f"Bearer {a['token']}"},
                )
                if r.status_code not in (200, 201):
                    raise RuntimeError(f"dm: {r.status_code} {r.text[:200]}")
                return str(r.json()["id"])

            return await _bounded(len(pairs), 8, one, "open DMs")

    return asyncio.run(run())


def make_room(base: str, members: list[dict[str, Any]], name: str) -> str:
    async def run() -> str:
        async with httpx.AsyncClient(timeout=60) as http:
            owner = members[0]
            r = await http.post(
                f"{base}/api/v1/rooms",
                json={"name": name, "topic": "benchmark"},
                headers={"Authorization": f"Bearer {owner['token']}"},
            )
            if r.status_code != 201:
                raise RuntimeError(f"room: {r.status_code} {r.text[:200]}")
            room_id = str(r.json()["id"])

            async def join(i: int) -> None:
                r = await http.post(
                    f"{base}/api/v1/rooms/{room_id}/join",
                    headers={"Authorization": f"Bearer {members[i + 1]['token']}"},
                )
                if r.status_code not in (200, 201):
                    raise RuntimeError(f"join: {r.status_code} {r.text[:200]}")

            await _bounded(len(members) - 1, 8, join, "join room")
            return room_id

    return asyncio.run(run())


def baseline_conversations(base: str, convs: dict[str, list[str]]) -> None:
    with httpx.Client(timeout=30) as http:
        for conv_id, members in convs.items():
            http.post(f"{base}/conversations", json={"id": conv_id, "members": members})
