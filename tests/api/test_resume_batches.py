"""Resumes of many sockets at once share their "anything new?" query (a reconnect storm is
thousands of them), yet each gets exactly what it missed, in its own conversations only."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from hushroom.container import Container
from hushroom.principal import Principal
from hushroom.services.messages import RESUME_BATCHED_POSITIONS_MAX, ResumePlan
from tests.api.test_messages import make_room, send
from tests.support.accounts import Account, register_and_login
from tests.support.events import app_client

__all__ = ["app_client"]  # fixture used below


@pytest.fixture
def client(app_client: httpx.AsyncClient) -> httpx.AsyncClient:
    return app_client


def principal(who: Account) -> Principal:
    return Principal(uuid.UUID(who.user_id), uuid.UUID(who.device_id), uuid.UUID(who.session_id))


def seqs(plan: ResumePlan) -> dict[uuid.UUID, list[int]]:
    return {conv: [m.seq for m in msgs] for conv, msgs, _high in plan.batches}


class ReadCounter:
    """Counts the storage's read transactions."""

    def __init__(self, container: Container, monkeypatch: pytest.MonkeyPatch) -> None:
        self.reads = 0
        storage = container.storage
        real = storage.read

        def counted() -> Any:
            self.reads += 1
            return real()

        monkeypatch.setattr(storage, "read", counted)


async def test_concurrent_resumes_share_reads_and_each_gets_only_its_own_news(
    client: httpx.AsyncClient, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    ana = await register_and_login(client, "Ana")
    bob = await register_and_login(client, "Bob")
    cy = await register_and_login(client, "Cy")
    room = uuid.UUID(await make_room(client, ana, bob, cy))
    side = uuid.UUID(await make_room(client, ana, bob))  # Cy is not a member
    quiet = uuid.UUID(await make_room(client, ana, bob, cy))
    for i in range(3):
        assert (await send(client, ana, str(room), f"room {i}")).status_code == 201
    assert (await send(client, bob, str(side), "side")).status_code == 201
    assert (await send(client, bob, str(quiet), "quiet")).status_code == 201

    counter = ReadCounter(container, monkeypatch)
    # 30 sockets per user resume at once: most are up to date, some are behind.
    wants: list[tuple[Account, dict[uuid.UUID, int]]] = []
    for who in (ana, bob, cy):
        for i in range(30):
            behind = i % 10 == 0
            wants.append((who, {room: 1 if behind else 3, side: 0 if behind else 1, quiet: 1}))
    plans = await asyncio.gather(
        *(container.messages.missed(principal(w), pos, 100) for w, pos in wants)
    )

    for (who, positions), plan in zip(wants, plans, strict=True):
        expected: dict[uuid.UUID, list[int]] = {}
        if positions[room] == 1:
            expected[room] = [2, 3]
            if who is not cy:  # never a conversation the user is not in
                expected[side] = [1]
        assert seqs(plan) == expected, (who.name, positions)
        assert plan.gaps == []
    # 90 checks in a few shared reads, plus one read per socket that was behind.
    behind_sockets = sum(1 for _w, pos in wants if pos[room] == 1)
    assert counter.reads < len(wants) // 4 + behind_sockets


async def test_a_resume_far_behind_is_a_gap_and_many_positions_skip_the_batch(
    client: httpx.AsyncClient, container: Container
) -> None:
    ana = await register_and_login(client, "Ana")
    bob = await register_and_login(client, "Bob")
    room = uuid.UUID(await make_room(client, ana, bob))
    for i in range(5):
        assert (await send(client, ana, str(room), f"m {i}")).status_code == 201
    gap = await container.messages.missed(principal(bob), {room: 0}, 3)
    assert (gap.batches, gap.gaps) == ([], [(room, 0, 5)])

    # More positions than a batch takes (unknown conversations among them): its own read.
    unknown = {uuid.uuid4(): 0 for _ in range(RESUME_BATCHED_POSITIONS_MAX + 5)}
    plan = await container.messages.missed(principal(bob), {**unknown, room: 4}, 100)
    assert seqs(plan) == {room: [5]}
