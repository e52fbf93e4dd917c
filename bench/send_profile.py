"""In-process profile of one DM send path (MessageService.send) on the bench database, with no
sockets: CPU per send, statements per send, and the top cProfile costs.

Run after a bench run has filled `hushroom_bench` (it picks an existing DM):
`uv run python -m bench.send_profile [--n 2000] [--concurrency 50]`.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import secrets
import time
import uuid

from sqlalchemy import event

from bench.servers import BENCH_ENV, pg_url
from hushroom.config import Settings
from hushroom.container import Container
from hushroom.principal import Principal
from hushroom.services.messages import SendCommand


async def _pick(container: Container, n: int) -> list[tuple[Principal, uuid.UUID]]:
    """`n` (sender, DM) pairs, each its own DM where the bench made enough."""
    from sqlalchemy import text

    async with container.db.read() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT DISTINCT ON (m.conversation_id) m.conversation_id, m.user_id, d.id "
                    "FROM members m JOIN conversations c ON c.id = m.conversation_id "
                    "JOIN devices d ON d.user_id = m.user_id "
                    "WHERE c.kind = 'dm' LIMIT :n"
                ),
                {"n": n},
            )
        ).all()
    if not rows:
        raise SystemExit("no DM in hushroom_bench: run `python -m bench.run --scenarios dm` first")
    return [
        (
            Principal(rows[i % len(rows)][1], rows[i % len(rows)][2], uuid.uuid4()),
            rows[i % len(rows)][0],
        )
        for i in range(n)
    ]


async def run(n: int, concurrency: int) -> None:
    for k, v in BENCH_ENV.items():
        os.environ.setdefault(k, v)
    settings = Settings(database_url=pg_url(), jwt_secret="bench-secret-" + "z" * 40)
    container = Container(settings)
    await container.start()
    statements = 0

    @event.listens_for(container.db.engine.sync_engine, "before_cursor_execute")
    def _count(*_args: object) -> None:
        nonlocal statements
        statements += 1

    senders = await _pick(container, concurrency)
    blob = secrets.token_bytes(300)

    async def send_one(principal: Principal, conv: uuid.UUID) -> None:
        await container.messages.send(
            principal, SendCommand(conv, secrets.token_hex(16), None, 0, blob)
        )

    async def send() -> None:
        # `concurrency` senders at once: they share transactions (group commit).
        await asyncio.gather(*(send_one(p, c) for p, c in senders))

    for _ in range(20):  # warm-up: pool, statement caches
        await send()
    statements = 0
    rounds = max(1, n // concurrency)
    t0, wall0 = os.times(), time.perf_counter()
    for _ in range(rounds):
        await send()
    t1, wall = os.times(), time.perf_counter() - wall0
    n = rounds * concurrency
    user, system = (t1.user - t0.user) / n * 1e6, (t1.system - t0.system) / n * 1e6
    print(
        f"{n} sends, {concurrency} at a time: {user + system:.0f} µs CPU each "
        f"({user:.0f} user, {system:.0f} system), {wall / n * 1e3:.2f} ms wall, "
        f"{statements / n:.1f} SQL statements each (plus BEGIN, COMMIT), load {os.getloadavg()}"
    )
    prof = cProfile.Profile(time.process_time)  # CPU time, not wall time
    prof.enable()
    for _ in range(max(1, min(n, 500) // concurrency)):
        await send()
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats(
        os.environ.get("PROFILE_SORT", "tottime")
    ).print_stats(int(os.environ.get("PROFILE_TOP", "30")))
    print(out.getvalue())
    await container.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=1, help="sends in flight at once")
    args = parser.parse_args()
    asyncio.run(run(args.n, args.concurrency))


if __name__ == "__main__":
    main()
