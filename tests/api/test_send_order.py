"""A socket's pipelined sends are stored in the order it sent them, even with two send batches in
flight and the earlier batch falling back to storing its sends one by one (both databases)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from hushroom.app import create_app
from hushroom.clock import FakeClock
from hushroom.config import Settings
from hushroom.container import Container
from hushroom.errors import WriteConflict
from hushroom.principal import Principal
from hushroom.services.messages import MessageService, SendCommand
from tests.api.test_messages import cmid, make_room
from tests.support.accounts import register_and_login


async def test_a_sockets_sends_keep_their_order_while_an_earlier_batch_is_retried_alone(
    settings: Settings, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings.model_copy(update={"send_batch_workers": 2, "send_batch_spill": 1})
    container = Container(settings, clock=clock)
    real = MessageService._store_together
    calls = 0

    async def first_batch_fails_slowly(self: MessageService, sends: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            # Slow, then refused: a second batch would have ample time to commit first.
            await asyncio.sleep(0.2)
            raise WriteConflict()
        return await real(self, sends)

    app = create_app(container=container)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
            ana = await register_and_login(c, "Ana")
            room = uuid.UUID(await make_room(c, ana))
            me = Principal(
                uuid.UUID(ana.user_id), uuid.UUID(ana.device_id), uuid.UUID(ana.session_id)
            )
            monkeypatch.setattr(MessageService, "_store_together", first_batch_fails_slowly)
            ids = [cmid() for _ in range(8)]
            sends = []
            for i, client_msg_id in enumerate(ids):
                command = SendCommand(room, client_msg_id, body=f"m{i}", origin="socket-a")
                sends.append(asyncio.create_task(container.messages.send(me, command)))
                await asyncio.sleep(0)  # the first one's batch starts before the rest arrive
            results = await asyncio.gather(*sends)
            monkeypatch.undo()
            page = await container.messages.history(me, room)

    assert calls >= 2
    assert [r.message.seq for r in results] == list(range(1, 9))
    assert [m.client_msg_id for m in page.messages] == ids
