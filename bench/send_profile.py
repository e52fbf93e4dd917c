"""In-process profile of one DM send path (MessageService.send) on the bench database, with no
sockets: CPU per send, statements per send, and the top cProfile costs.

Run after a bench run has filled `hushroom_bench` (it picks an existing DM):
`uv run python -m bench.send_profile [--n 2000]`.
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


async def _pick(container: Container) -> tuple[Principal, uuid.UUID]:
    from sqlalchemy import text

    async with container.db.read() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT m.conversation_id, m.user_id, d.id FROM members m "
                    "JOIN conversations c ON c.id = m.conversation_id "
                    "JOIN devices d ON d.user_id = m.user_id "
                    "WHERE c.kind = 'dm' LIMIT 1"
                )
            )
        ).first()
    if row is None:
        raise SystemExit("no DM in hushroom_bench: run `python -m bench.run --scenarios dm` first")
    return Principal(row[1], row[2], uuid.uuid4()), row[0]


async def run(n: int) -> None:
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

    principal, conv = await _pick(container)
    blob = secrets.token_bytes(300)

    async def send() -> None:
        await container.messages.send(
            principal, SendCommand(conv, secrets.token_hex(16), None, 0, blob)
        )

    for _ in range(50):  # warm-up: pool, statement caches
        await send()
    statements = 0
    t0, wall0 = os.times(), time.perf_counter()
    for _ in range(n):
        await send()
    t1, wall = os.times(), time.perf_counter() - wall0
    user, system = (t1.user - t0.user) / n * 1e6, (t1.system - t0.system) / n * 1e6
    print(
        f"{n} sequential sends: {user + system:.0f} µs CPU each ({user:.0f} user, {system:.0f} "
        f"system), {wall / n * 1e3:.2f} ms wall, {statements / n:.1f} SQL statements each "
        f"(plus pre-ping, BEGIN, COMMIT), load {os.getloadavg()}"
    )
    prof = cProfile.Profile(time.process_time)  # CPU time, not wall time
    prof.enable()
    for _ in range(min(n, 500)):
        await send()
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(30)
    print(out.getvalue())
    await container.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    asyncio.run(run(parser.parse_args().n))


if __name__ == "__main__":
    main()
