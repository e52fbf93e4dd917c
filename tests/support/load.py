"""Continuous senders for crash tests: every send is retried by the SDK with the same client
message id until acknowledged; the test then checks what was stored against what was acked."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterable

from hushroom.client import HushroomClient, Message, SendAck, new_client_msg_id


class SenderTasks:
    """Sender tasks that run until stopped; `stop` lets the sends in flight finish (bounded)."""

    def __init__(self) -> None:
        self._stop = asyncio.Event()
        self._progress = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def stop(self) -> None:
        self._stop.set()
        try:
            async with asyncio.timeout(30):
                await asyncio.gather(*self._tasks)
        finally:
            await self.cancel()

    async def cancel(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class SendLoad(SenderTasks):
    def __init__(self, conversation_id: uuid.UUID) -> None:
        super().__init__()
        self.conversation_id = conversation_id
        self.acked: dict[str, SendAck] = {}
        self.attempted: list[str] = []

    async def _sender(self, client: HushroomClient, name: str) -> None:
        n = 0
        while not self._stop.is_set():
            cmid = new_client_msg_id()
            self.attempted.append(cmid)
            self.acked[cmid] = await client.send(
                self.conversation_id, body=f"{name} {n}", client_msg_id=cmid
            )
            self._progress.set()
            n += 1

    def start(self, senders: Iterable[tuple[HushroomClient, str]]) -> None:
        self._tasks = [asyncio.create_task(self._sender(c, name)) for c, name in senders]

    async def acks_reach(self, count: int, within: float = 60.0) -> None:
        async with asyncio.timeout(within):
            while len(self.acked) < count:
                self._progress.clear()
                await self._progress.wait()

    def check_history(self, history: list[Message]) -> Counter[str]:
        """Every acknowledged message stored exactly once, with the seq its ack named, and
        seqs contiguous from 1. Returns the count per client message id."""
        counts = Counter(m.client_msg_id for m in history)
        assert max(counts.values()) == 1, "a message was stored twice"
        assert set(counts) == set(self.acked) == set(self.attempted), "a message was lost"
        seq_of = {m.client_msg_id: m.seq for m in history}
        assert all(seq_of[cmid] == ack.seq for cmid, ack in self.acked.items())
        assert [m.seq for m in history] == list(range(1, len(history) + 1))
        return counts
