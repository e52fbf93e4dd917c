"""In-process profile of the DM send path (MessageService.send) on the bench database, with no
sockets: CPU per send, statements per send, and the top cProfile costs; for real envelopes into
DMs, for plaintext bodies of the same length into two-member public rooms (the DM ladder's
plaintext twin), or both, one after the other, with the difference.

`uv run --group bench python -m bench.send_profile [--mode envelope,plain] [--n 2000]
[--concurrency 50] [--database hushroom_send_profile]`. It starts a `hushroom serve` on its own
database (recreated each run, so other benches sharing the server keep theirs) only to
register `2 × concurrency` accounts with real keys and open their DMs (with a key set each) or
rooms, then sends in-process. Envelopes are sealed before the timed rounds, as the load
generators do. Not measured here: the gateway (frame parsing, base64 of the ciphertext) and
writing frames to sockets.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import cProfile
import io
import os
import pstats
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import event

from bench import accounts
from bench.common import ENVELOPE_PLAINTEXT, Sealer, envelope_bytes, make_cmid, now_ns
from bench.servers import BENCH_ENV, hushroom_server, pg_url, recreate_database
from hushroom.config import Settings, encode_at_rest_key
from hushroom.container import Container
from hushroom.principal import Principal
from hushroom.services.messages import SendCommand

WARMUP_ROUNDS = 20


# The setup server and the in-process container must seal and open under the same KEK.
AT_REST_KEY = encode_at_rest_key(os.urandom(32))


# One sender as the send path sees it: who, into which conversation, and how to make its sends.
Sender = tuple[Principal, uuid.UUID, Sealer | None]


def _setup(concurrency: int, modes: list[str], database: str) -> dict[str, list[Sender]]:
    """Accounts, DMs with a key set each, two-member rooms: over HTTP, as the load bench does."""
    url = recreate_database(database)
    log_dir = Path(tempfile.mkdtemp(prefix="send-profile-"))
    server = hushroom_server(
        "send-profile-setup", url, log_dir, set(), HUSHROOM_AT_REST_KEY=AT_REST_KEY
    )
    server.start()
    try:
        users = accounts.create_users(server.base_url, 2 * concurrency)
        pairs = [(users[2 * i], users[2 * i + 1]) for i in range(concurrency)]
        out: dict[str, list[Sender]] = {}
        if "envelope" in modes:
            out["envelope"] = [
                (_principal(a), uuid.UUID(conv), Sealer(seal))
                for (a, _b), (conv, seal) in zip(
                    pairs, accounts.open_dms(server.base_url, pairs), strict=True
                )
            ]
        if "plain" in modes:
            out["plain"] = [
                (_principal(a), uuid.UUID(room), None)
                for (a, _b), room in zip(
                    pairs, accounts.open_pair_rooms(server.base_url, pairs), strict=True
                )
            ]
        return out
    finally:
        server.stop()


def _principal(user: dict[str, Any]) -> Principal:
    return Principal(uuid.UUID(user["user_id"]), uuid.UUID(user["device_id"]), uuid.uuid4())


def _commands(senders: list[Sender], rounds: int, body_chars: int) -> list[list[SendCommand]]:
    """Every round's sends, made before anything is timed (envelopes sealed, ids unique)."""
    plaintext = os.urandom(ENVELOPE_PLAINTEXT)
    salt = int.from_bytes(os.urandom(4)) << 32
    body = base64.urlsafe_b64encode(os.urandom(body_chars)).decode()[:body_chars]
    out = []
    k = 0
    for _ in range(rounds):
        row = []
        for _p, conv, sealer in senders:
            k += 1
            cmid = make_cmid(now_ns(), salt + k)
            if sealer is None:
                row.append(SendCommand(conv, cmid, body=body))
            else:
                envelope = sealer.seal(cmid, time.time_ns() // 1_000_000, plaintext)
                row.append(SendCommand(conv, cmid, None, sealer.key.generation, envelope))
        out.append(row)
    return out


async def _profile(
    container: Container, mode: str, senders: list[Sender], n: int, body_chars: int
) -> float:
    statements = raw_statements = 0

    @event.listens_for(container.db.engine.sync_engine, "before_cursor_execute")
    def _count(*_args: object) -> None:
        nonlocal statements
        statements += 1

    # Statements the send batch runs on the asyncpg connection itself (storage/sql/pg_send_batch.py)
    # bypass SQLAlchemy's events: count them where asyncpg runs a query with arguments.
    real_execute = asyncpg.Connection._execute

    async def _count_raw(self: asyncpg.Connection, *args: Any, **kwargs: Any) -> Any:
        nonlocal raw_statements
        raw_statements += 1
        return await real_execute(self, *args, **kwargs)

    asyncpg.Connection._execute = _count_raw

    concurrency = len(senders)
    rounds = max(1, n // concurrency)
    profile_rounds = max(1, min(n, 500) // concurrency)
    todo = iter(_commands(senders, WARMUP_ROUNDS + rounds + profile_rounds, body_chars))

    async def send() -> None:
        # `concurrency` senders at once: they share transactions (group commit).
        row = next(todo)
        await asyncio.gather(
            *(
                container.messages.send(p, cmd)
                for (p, _c, _s), cmd in zip(senders, row, strict=True)
            )
        )

    try:
        for _ in range(WARMUP_ROUNDS):  # pool, statement caches
            await send()
        statements = raw_statements = 0
        t0, wall0 = os.times(), time.perf_counter()
        for _ in range(rounds):
            await send()
        t1, wall = os.times(), time.perf_counter() - wall0
        sends = rounds * concurrency
        user = (t1.user - t0.user) / sends * 1e6
        system = (t1.system - t0.system) / sends * 1e6
        print(
            f"{mode}: {sends} sends, {concurrency} at a time: {user + system:.0f} µs CPU each "
            f"({user:.0f} user, {system:.0f} system), {wall / sends * 1e3:.2f} ms wall, "
            f"{statements / sends:.2f} SQLAlchemy + {raw_statements / sends:.2f} raw asyncpg "
            "statements each (plus BEGIN, COMMIT), "
            f"load {os.getloadavg()}"
        )
        prof = cProfile.Profile(time.process_time)  # CPU time, not wall time
        prof.enable()
        for _ in range(profile_rounds):
            await send()
        prof.disable()
    finally:
        event.remove(container.db.engine.sync_engine, "before_cursor_execute", _count)
        asyncpg.Connection._execute = real_execute
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats(
        os.environ.get("PROFILE_SORT", "tottime")
    ).print_stats(int(os.environ.get("PROFILE_TOP", "30")))
    print(out.getvalue())
    return user + system


async def run(
    n: int, concurrency: int, modes: list[str], senders: dict[str, list[Sender]], database: str
) -> None:
    for k, v in BENCH_ENV.items():
        os.environ.setdefault(k, v)
    settings = Settings(
        database_url=pg_url(database),
        jwt_secret="bench-secret-" + "z" * 40,
        at_rest_key=AT_REST_KEY,
    )
    container = Container(settings)
    await container.start()
    body_chars = -(-envelope_bytes() * 4 // 3)  # as long as the envelope's base64, as dm_plain
    try:
        cpu = {m: await _profile(container, m, senders[m], n, body_chars) for m in modes}
    finally:
        await container.stop()
    if len(cpu) == 2:
        print(
            f"envelope − plain: {cpu['envelope'] - cpu['plain']:+.0f} µs CPU per send "
            f"({cpu['envelope'] / cpu['plain']:.2f}×) at {concurrency} sends at a time"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=1, help="sends in flight at once")
    parser.add_argument(
        "--database", default="hushroom_send_profile", help="PostgreSQL database (recreated)"
    )
    parser.add_argument(
        "--mode",
        default="envelope,plain",
        help="envelope (real envelopes into DMs), plain (text bodies into two-member rooms), "
        "or both in the order given (default envelope,plain)",
    )
    args = parser.parse_args()
    modes = [m.strip() for m in args.mode.split(",") if m.strip()]
    if not modes or set(modes) - {"envelope", "plain"} or len(set(modes)) != len(modes):
        parser.error("--mode: envelope, plain, or both comma-separated")
    senders = _setup(args.concurrency, modes, args.database)
    asyncio.run(run(args.n, args.concurrency, modes, senders, args.database))


if __name__ == "__main__":
    main()
