"""Bench accounts over HTTP, the way tests/support/accounts.py makes them: real key material from
the crypto core (identity, PUK, certified first device, sealed vault, recovery authenticator:
docs/decisions/0003) under a random password key and a random 32-byte auth secret. No client-side
Argon2 (the SDK's job; the server never sees the password key), so building one account's keys
costs about 1 ms of CPU, not 0.5 s."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from typing import Any

import httpx

from hushroom.client.keys import register_body
from hushroom.client.models import b64url_encode as b64
from hushroom.crypto.account import create_account_keys
from hushroom.crypto.device import DeviceKey
from hushroom.crypto.password import KdfParams
from hushroom.crypto.primitives import Secret


def bench_register_body(name: str, email: str, auth_secret: bytes) -> tuple[dict[str, Any], str]:
    """A valid register body with real keys (random password key) and its device id."""
    user_id, device_id = str(uuid.uuid4()), str(uuid.uuid4())
    device = DeviceKey.generate()
    keys = create_account_keys(
        user_id,
        Secret(os.urandom(32)),
        time.time_ns() // 1_000_000,
        device=(device_id, device.public_key),
    )
    body = register_body(
        user_id=user_id,
        device_id=device_id,
        display_name=name,
        email=email,
        params=KdfParams.generate(),
        auth_secret=auth_secret,
        keys=keys,
        device_name="bench",
    )
    return body, device_id


async def _register_login(http: httpx.AsyncClient, base: str, tag: str, i: int) -> dict[str, Any]:
    name = f"bench {tag} {i}"
    email = f"bench.{tag}.{i}@example.test"
    secret = os.urandom(32)
    body, device_id = bench_register_body(name, email, secret)
    r = await http.post(f"{base}/api/v1/auth/register", json=body)
    if r.status_code != 201:
        raise RuntimeError(f"register: {r.status_code} {r.text[:200]}")
    user_id = r.json()["user_id"]
    # On the registered (certified) device, as a browser after registering.
    r = await http.post(
        f"{base}/api/v1/auth/login",
        json={"email": email, "auth_secret": b64(secret), "device_id": device_id},
    )
    if r.status_code != 200:
        raise RuntimeError(f"login: {r.status_code} {r.text[:200]}")
    return {
        "user_id": user_id,
        "device_id": r.json()["device_id"],
        "token": r.json()["access_token"],
    }


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
