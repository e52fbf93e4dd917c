"""Helpers for the live-server scenarios: accounts through the SDK, event collection."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from hushroom.client import HushroomClient, Message, MessageEvent, Realtime, RealtimeEvent
from tests.support.server import ServerProcess

PASSWORD = "correct horse battery staple"
# Upper bound for any wait on the server in these scenarios (generous: CI machines are busy).
WAIT_S = 30.0
# For (re)starting the server: on a loaded machine the interpreter alone can take 20 s to start.
START_TIMEOUT_S = 90.0


def unique_email(name: str) -> str:
    return f"{name.lower()}-{secrets.token_hex(4)}@example.test"


async def new_user(server: ServerProcess, name: str) -> HushroomClient:
    """A registered, logged-in client (one Argon2id derivation). The caller closes it."""
    client = HushroomClient(server.base_url)
    try:
        await client.register_and_login(name, unique_email(name), PASSWORD, device_name=name)
    except BaseException:
        await client.aclose()
        raise
    return client


@asynccontextmanager
async def users(server: ServerProcess, *names: str) -> AsyncIterator[list[HushroomClient]]:
    """Logged-in clients, one per name, closed on exit."""
    async with AsyncExitStack() as stack:
        clients = await asyncio.gather(*(new_user(server, n) for n in names))
        for client in clients:
            stack.push_async_callback(client.aclose)
        yield list(clients)


async def next_messages(
    rt: Realtime,
    count: int,
    *,
    conversation_id: uuid.UUID | None = None,
    others: list[RealtimeEvent] | None = None,
) -> list[Message]:
    """The next `count` messages (of one conversation, if given); other events go to `others`."""
    out: list[Message] = []
    async with asyncio.timeout(WAIT_S):
        while len(out) < count:
            event = await rt.next_event()
            if isinstance(event, MessageEvent) and (
                conversation_id is None or event.message.conversation_id == conversation_id
            ):
                out.append(event.message)
            elif others is not None:
                others.append(event)
    return out


async def quiet_events(rt: Realtime, seconds: float) -> list[RealtimeEvent]:
    """Every event that arrives within `seconds`."""
    out: list[RealtimeEvent] = []
    try:
        async with asyncio.timeout(seconds):
            while True:
                out.append(await rt.next_event())
    except TimeoutError:
        pass
    return out
