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
from hushroom.crypto.account import AccountKeys, create_account_keys
from hushroom.crypto.conversation_key import ConversationKey, create_key_set
from hushroom.crypto.device import DeviceKey, verify_device_certificate
from hushroom.crypto.identity import IdentityPublicKey
from hushroom.crypto.password import KdfParams
from hushroom.crypto.primitives import Secret
from hushroom.crypto.puk import verify_puk_certificate


def bench_register_body(
    name: str, email: str, auth_secret: bytes
) -> tuple[dict[str, Any], str, DeviceKey, AccountKeys]:
    """A valid register body with real keys (random password key), its device id, the device's
    key and the account's keys (to make key sets and seal envelopes as that device)."""
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
    return body, device_id, device, keys


async def _register_login(http: httpx.AsyncClient, base: str, tag: str, i: int) -> dict[str, Any]:
    name = f"bench {tag} {i}"
    email = f"bench.{tag}.{i}@example.test"
    secret = os.urandom(32)
    body, device_id, device, keys = bench_register_body(name, email, secret)
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
    assert keys.device_certificate is not None
    return {
        "user_id": user_id,
        "device_id": r.json()["device_id"],
        "token": r.json()["access_token"],
        # What the user's device needs to make key sets and seal envelopes (bench-only secrets).
        "device_seed": device.seed.reveal().hex(),
        "identity_key": keys.identity_public.hex(),
        "device_certificate": keys.device_certificate.hex(),
        "puk_certificate": keys.puk_certificate.hex(),
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


def _key_set(
    creator: dict[str, Any], conv: str, generation: int, members: list[dict[str, Any]]
) -> tuple[ConversationKey, bytes]:
    """Generation `generation` of `conv` for `members`, made by `creator`'s device."""
    identity = IdentityPublicKey(bytes.fromhex(creator["identity_key"]))
    certificate = verify_device_certificate(
        bytes.fromhex(creator["device_certificate"]),
        identity,
        creator["user_id"],
        creator["device_id"],
    )
    puks = [
        verify_puk_certificate(
            bytes.fromhex(m["puk_certificate"]),
            IdentityPublicKey(bytes.fromhex(m["identity_key"])),
            m["user_id"],
        )
        for m in members
    ]
    device = DeviceKey(bytes.fromhex(creator["device_seed"]))
    key, upload = create_key_set(
        conv, generation, device, certificate, puks, time.time_ns() // 1_000_000
    )
    return key, upload.encode()


def open_dms(
    base: str, pairs: list[tuple[dict[str, Any], dict[str, Any]]]
) -> list[tuple[str, dict[str, Any]]]:
    """Open each pair's DM and upload its next key generation (made by the first of the pair):
    (conversation id, the sealing material of the first's device: `seal_spec`)."""

    async def run() -> list[tuple[str, dict[str, Any]]]:
        async with httpx.AsyncClient(timeout=60) as http:

            async def one(i: int) -> tuple[str, dict[str, Any]]:
                a, b = pairs[i]
                auth = {"Authorization": f"Bearer {a['token']}"}
                r = await http.post(
                    f"{base}/api/v1/dms", json={"user_id": b["user_id"]}, headers=auth
                )
                if r.status_code not in (200, 201):
                    raise RuntimeError(f"dm: {r.status_code} {r.text[:200]}")
                conv = str(r.json()["id"])
                # A DM reused from an earlier scenario has key sets already: make the next one.
                r = await http.get(
                    f"{base}/api/v1/conversations/{conv}/key-sets",
                    params={"after": 2**31 - 1},
                    headers=auth,
                )
                if r.status_code != 200:
                    raise RuntimeError(f"key sets: {r.status_code} {r.text[:200]}")
                generation = int(r.json()["current_generation"]) + 1
                key, upload = _key_set(a, conv, generation, [a, b])
                r = await http.post(
                    f"{base}/api/v1/conversations/{conv}/key-sets",
                    json={"generation": generation, "upload": b64(upload)},
                    headers=auth,
                )
                if r.status_code != 201:
                    raise RuntimeError(f"key set: {r.status_code} {r.text[:200]}")
                return conv, seal_spec(a, key)

            return await _bounded(len(pairs), 8, one, "open DMs")

    return asyncio.run(run())


def seal_spec(sender: dict[str, Any], key: ConversationKey) -> dict[str, Any]:
    """What a generator needs to seal envelopes as `sender`'s device under `key`."""
    return {
        "user_id": sender["user_id"],
        "device_id": sender["device_id"],
        "device_seed": sender["device_seed"],
        "conversation_id": key.conversation_id,
        "generation": key.generation,
        "key": key.reveal().hex(),
    }


def open_pair_rooms(base: str, pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[str]:
    """A two-member public room per pair (the first creates it, the second joins): the plaintext
    twin of a DM, since private conversations take envelopes only (decision 0005)."""
    tag = uuid.uuid4().hex[:8]

    async def run() -> list[str]:
        async with httpx.AsyncClient(timeout=60) as http:

            async def one(i: int) -> str:
                a, b = pairs[i]
                r = await http.post(
                    f"{base}/api/v1/rooms",
                    json={"name": f"bench pair {tag} {i}", "topic": "benchmark"},
                    headers={"Authorization": f"Bearer {a['token']}"},
                )
                if r.status_code != 201:
                    raise RuntimeError(f"room: {r.status_code} {r.text[:200]}")
                room_id = str(r.json()["id"])
                r = await http.post(
                    f"{base}/api/v1/rooms/{room_id}/join",
                    headers={"Authorization": f"Bearer {b['token']}"},
                )
                if r.status_code not in (200, 201):
                    raise RuntimeError(f"join: {r.status_code} {r.text[:200]}")
                return room_id

            return await _bounded(len(pairs), 8, one, "open pair rooms")

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
