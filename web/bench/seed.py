"""Seeding for the browser benchmarks (web/bench/*.bench.ts), through the Python SDK.

Accounts are real (Argon2id, identity key, PUK, vault, certified device) and messages are real
envelopes, exactly as any client makes them; only the browser's side is measured.

    history  URL RUN PASSWORD COUNT   a sender and a recipient; the sender opens a DM and sends
                                      COUNT encrypted texts; the recipient accepts the DM.
    members  URL RUN PASSWORD COUNT   the browser's user and COUNT other accounts (display names
                                      "Kb<RUN> a00"…, 20 per letter: one search in the web
                                      client's people picker shows 20).
    resync   URL RUN PASSWORD COUNT   a sender and a recipient with an accepted DM holding one
                                      message; then, for each line `send` read on stdin, the
                                      sender sends COUNT more (a JSON line when they are all
                                      stored); `quit` ends it.

Prints one JSON object on stdout (emails, names, ids).
"""

from __future__ import annotations

import asyncio
import json
import string
import sys
import time
from typing import Any

from hushroom.client import Conversation, HushroomClient

# Registrations at once: each runs Argon2id (64 MiB) in a thread here and on the server.
PARALLEL = 4
# Results one search shows in the web client's people picker (`ApiClient.searchUsers`).
PER_SEARCH = 20
# History sends in flight at once (over HTTP; the server group-commits concurrent sends).
SEND_WINDOW = 8

# fmt: off
WORDS = (
    "the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "while", "we", "plan",
    "the", "trip", "for", "next", "week", "bring", "snacks", "maps", "chargers", "and", "the",
    "good", "umbrella", "because", "it", "will", "rain",
)
# fmt: on


def text_of(i: int) -> str:
    """A short chat line of varying length (like real talk: 3 to 24 words)."""
    n = 3 + (i * 7) % 22
    words = [WORDS[(i + k * 3) % len(WORDS)] for k in range(n)]
    return f"#{i + 1:04d} " + " ".join(words)


def log(message: str) -> None:
    sys.stderr.write(f"seed: {message}\n")


async def _dm_pair(
    sender: HushroomClient,
    recipient: HushroomClient,
    prefix: str,
    title: str,
    run: str,
    password: str,
) -> tuple[Conversation, dict[str, str]]:
    """Registers a sender and a recipient, opens their DM and sends its first message (which
    creates the key set, generation 1): the DM, and the fields the benches' `SeededDm` reads."""
    sender_email = f"{prefix}-sender-{run}@example.com"
    recipient_email = f"{prefix}-recipient-{run}@example.com"
    sender_name = f"{title} Sender {run}"
    await asyncio.gather(
        sender.register_and_login(sender_name, sender_email, password, device_name="seed"),
        recipient.register_and_login(
            f"{title} Reader {run}", recipient_email, password, device_name="seed"
        ),
    )
    assert recipient.user_id is not None
    dm = await sender.open_private_dm(recipient.user_id)
    await sender.send_text(dm.id, text_of(0), http=True)
    return dm, {
        "sender_email": sender_email,
        "sender_name": sender_name,
        "recipient_email": recipient_email,
        "conversation_id": str(dm.id),
    }


async def history(url: str, run: str, password: str, count: int) -> dict[str, Any]:
    started = time.monotonic()
    async with HushroomClient(url) as sender, HushroomClient(url) as recipient:
        dm, seeded = await _dm_pair(sender, recipient, "hist", "History", run, password)
        # Then a window of sends in flight.
        await _send_window(sender, str(dm.id), range(1, count))
        await recipient.accept_request(dm.id)
        # What the browser will see: every message stored, all of them envelopes.
        page = await recipient.history(dm.id, limit=1)
        if page.last_seq != count:
            raise RuntimeError(f"expected {count} messages, the server holds {page.last_seq}")
    log(f"history: {count} messages in {time.monotonic() - started:.1f} s")
    return {**seeded, "messages": count}


async def _send_window(sender: HushroomClient, conv: str, numbers: range) -> None:
    queue = iter(numbers)

    async def worker() -> None:
        for i in queue:
            await sender.send_text(conv, text_of(i), http=True)

    await asyncio.gather(*(worker() for _ in range(SEND_WINDOW)))


async def resync(url: str, run: str, password: str, count: int) -> dict[str, Any]:
    """Stays up between rounds: the browser bench cuts the recipient's socket, asks for a round
    of COUNT messages, and lets the socket back (web/bench/resync.bench.ts)."""
    async with HushroomClient(url) as sender, HushroomClient(url) as recipient:
        dm, seeded = await _dm_pair(sender, recipient, "resync", "Resync", run, password)
        await recipient.accept_request(dm.id)
        sent = 1
        sys.stdout.write(json.dumps(seeded) + "\n")
        sys.stdout.flush()
        loop = asyncio.get_running_loop()
        while (line := (await loop.run_in_executor(None, sys.stdin.readline)).strip()) == "send":
            started = time.monotonic()
            await _send_window(sender, str(dm.id), range(sent, sent + count))
            sent += count
            log(f"resync: {count} messages in {time.monotonic() - started:.1f} s")
            sys.stdout.write(json.dumps({"last_seq": sent}) + "\n")
            sys.stdout.flush()
        return {"quit": line, "last_seq": sent}


async def members(url: str, run: str, password: str, count: int) -> dict[str, Any]:
    started = time.monotonic()
    creator_email = f"keyset-creator-{run}@example.com"
    names = [
        f"Kb{run} {string.ascii_lowercase[i // PER_SEARCH]}{i % PER_SEARCH:02d}"
        for i in range(count)
    ]
    accounts = [("Key Set Creator " + run, creator_email)] + [
        (name, f"keyset-{run}-{i}@example.com") for i, name in enumerate(names)
    ]
    gate = asyncio.Semaphore(PARALLEL)

    async def register(name: str, email: str) -> str:
        async with gate, HushroomClient(url) as client:
            registration = await client.register(name, email, password, device_name="seed")
            return str(registration.user_id)

    ids = await asyncio.gather(*(register(n, e) for n, e in accounts))
    log(f"members: {len(accounts)} accounts in {time.monotonic() - started:.1f} s")
    prefixes = sorted({name[:-2] for name in names})
    return {
        "creator_email": creator_email,
        "creator_id": ids[0],
        "member_names": names,
        "member_ids": ids[1:],
        "search_prefixes": prefixes,
    }


async def main(argv: list[str]) -> None:
    seeds = {"history": history, "members": members, "resync": resync}
    if len(argv) != 5 or argv[0] not in seeds:
        sys.exit(__doc__)
    what, url, run, password, count = argv
    seed = seeds[what]
    result = await seed(url, run, password, int(count))
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
