"""Clients for the multi-node scenarios: each user talks to one chosen node (or to nginx)."""

from __future__ import annotations

import asyncio
import re
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager

import httpx

from hushroom.client import (
    HushroomClient,
    Message,
    MessageEvent,
    Realtime,
    ServerEvent,
)
from hushroom.client import session as client_session
from hushroom.crypto.password import KdfParams, PasswordKeys
from tests.support.server import METRICS_AUTH, ServerProcess

PASSWORD = "correct horse battery staple"
WAIT_S = 30.0


@asynccontextmanager
async def clients(
    *targets: tuple[str, str], kdf_params: KdfParams | None = None
) -> AsyncIterator[list[HushroomClient]]:
    """Registered, logged-in clients: one per (name, base URL), closed on exit.

    `kdf_params`: the same Argon2id salt for every account (fresh ones by default); see
    `shared_password_keys` for registering many accounts without one Argon2id run each."""

    async def one(name: str, base_url: str) -> HushroomClient:
        client = HushroomClient(base_url)
        email = f"{name.lower()}-{secrets.token_hex(4)}@example.test"
        try:
            await client.register_and_login(
                name, email, PASSWORD, device_name=name, kdf_params=kdf_params
            )
        except BaseException:
            await client.aclose()
            raise
        return client

    async with AsyncExitStack() as stack:
        made = await asyncio.gather(*(one(n, u) for n, u in targets), return_exceptions=True)
        for client in made:
            if isinstance(client, HushroomClient):
                stack.push_async_callback(client.aclose)
        for client in made:
            if isinstance(client, BaseException):
                raise client
        yield [c for c in made if isinstance(c, HushroomClient)]


async def next_messages(
    rt: Realtime, count: int, *, conversation_id: uuid.UUID | None = None
) -> list[Message]:
    out: list[Message] = []
    async with asyncio.timeout(WAIT_S):
        while len(out) < count:
            event = await rt.next_event()
            if isinstance(event, MessageEvent) and (
                conversation_id is None or event.message.conversation_id == conversation_id
            ):
                out.append(event.message)
    return out


async def next_server_event(
    rt: Realtime, type_: str, within: float = 10.0, **match: str
) -> ServerEvent:
    """The next `type_` frame whose data has the given values (others are skipped)."""
    async with asyncio.timeout(within):
        while True:
            event = await rt.next_event()
            if (
                isinstance(event, ServerEvent)
                and event.type == type_
                and all(event.data.get(k) == v for k, v in match.items())
            ):
                return event


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def metric(node: ServerProcess, name: str) -> float:
    """One unlabelled sample from the node's /metrics (0 when absent)."""
    async with httpx.AsyncClient(timeout=5) as http:
        text = (await http.get(f"{node.base_url}/metrics", headers=METRICS_AUTH)).text
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


@contextmanager
def shared_password_keys() -> Iterator[KdfParams]:
    """KDF parameters to pass to `clients`: every account then has the same password keys,
    derived once (Argon2id costs ~1 s of CPU per account on a busy machine). Their identities,
    devices and vaults are still their own. For tests that need many accounts quickly."""
    params = KdfParams.generate()
    derive = client_session.derive_keys
    derived: dict[str, PasswordKeys] = {}
    lock = asyncio.Lock()

    async def once(password: str, kdf: KdfParams) -> PasswordKeys:
        if kdf != params:
            return await derive(password, kdf)
        async with lock:
            if password not in derived:
                derived[password] = await derive(password, kdf)
        return derived[password]

    client_session.derive_keys = once  # type: ignore[assignment]
    try:
        yield params
    finally:
        client_session.derive_keys = derive
