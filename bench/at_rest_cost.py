"""CPU cost of sealing public-room messages at rest (not a test). Writes JSON.

Run: ``uv run python bench/at_rest_cost.py``. Figures go to docs/decisions/0008.

Measures (1) one seal / open of a typical body, (2) storing send batches of public messages
through the real SQL repository on SQLite, with the real cipher and with a stand-in whose
`seal` only encodes (the difference is what sealing costs per message), and (3) a room search
that opens every room name (decrypt-and-filter).
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from hushroom.clock import SystemClock
from hushroom.storage.at_rest import AtRestCipher
from hushroom.storage.conversations import NewMessage
from hushroom.storage.engine import Database
from hushroom.storage.migrate import upgrade
from hushroom.storage.sql.at_rest_keys import AtRestKeys
from hushroom.storage.sql.tables import conversations, users
from hushroom.storage.unit import Storage

BODY = "The quick brown fox jumps over the lazy dog. " * 4  # ≈ 180 characters
BATCH = 64
ROUNDS = 300
ROOMS = 10_000
RESULTS = Path(__file__).parent / "results" / "at-rest-cost.json"


class PlainCipher(AtRestCipher):
    """Same code path, no AES: `seal` only encodes (the baseline)."""

    def seal(self, parts: Sequence[str], plaintext: str) -> bytes:
        return plaintext.encode()


def per_call_us(fn: Callable[[], Any], n: int = 50_000) -> float:
    start = time.process_time()
    for _ in range(n):
        fn()
    return round((time.process_time() - start) / n * 1e6, 2)


async def store_batch(
    storage: Storage, room: uuid.UUID, owner: uuid.UUID, seq: int
) -> tuple[int, float]:
    """One send batch stored in one transaction: the last seq, process CPU s per message."""
    rows = []
    for _ in range(BATCH):
        seq += 1
        message = NewMessage(
            conversation_id=room,
            sender_id=owner,
            sender_device_id=owner,
            client_msg_id=uuid.uuid4().hex,
            created_at=seq,
            body=BODY,
            generation=None,
            ciphertext=None,
        )
        rows.append((message, seq))
    start = time.process_time()
    async with storage.write() as tx:
        await tx.messages.insert_many(rows)
    return seq, (time.process_time() - start) / BATCH


async def prepared(path: Path, cipher: AtRestCipher) -> tuple[Storage, uuid.UUID, uuid.UUID]:
    db = Database(f"sqlite+aiosqlite:///{path}")
    await upgrade(db)
    storage = Storage(db, AtRestKeys(cipher, SystemClock()))
    owner, room = uuid.uuid4(), uuid.uuid4()
    async with db.write() as conn:
        await conn.execute(
            insert(users).values(
                id=owner,
                email=f"{owner}@example.org",
                display_name="",
                display_name_lower="",
                kdf_salt=b"\0" * 16,
                kdf_params={},
                auth_hash="x",
                vault_version=0,
                keys_version=0,
                is_admin=False,
                created_at=0,
            )
        )
        await conn.execute(
            insert(conversations).values(
                id=room, kind="room", created_by=owner, created_at=0, last_seq=0, member_count=0
            )
        )
    return storage, room, owner


async def main_async() -> dict[str, Any]:
    kek = os.urandom(32)
    sealing = AtRestCipher(kek)
    sealing.add_wrapped(1, sealing.wrap(1, os.urandom(32)))
    sealing.current_id = 1
    parts = ("messages", "body", str(uuid.uuid4()), "12345")
    blob = sealing.seal(parts, BODY)
    result: dict[str, Any] = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "body_chars": len(BODY),
        "seal_us": per_call_us(lambda: sealing.seal(parts, BODY)),
        "open_us": per_call_us(lambda: sealing.open(parts, blob)),
        "blind_index_us": per_call_us(lambda: sealing.blind_index("Garden of Earthly Delights")),
    }
    with tempfile.TemporaryDirectory() as tmp:
        per_message: dict[str, float] = {}
        plain = PlainCipher(kek)
        plain.add_wrapped(1, plain.wrap(1, os.urandom(32)))
        plain.current_id = 1
        ready = {
            label: await prepared(Path(tmp) / f"{label}.db", cipher)
            for label, cipher in (("sealed", sealing), ("plain", plain))
        }
        # Batch by batch, alternating, so drift (caches, frequency, neighbours) hits both alike.
        samples: dict[str, list[float]] = {"sealed": [], "plain": []}
        seqs = dict.fromkeys(ready, 0)
        try:
            for _ in range(ROUNDS):
                for label, (storage, room, owner) in ready.items():
                    seqs[label], cpu = await store_batch(storage, room, owner, seqs[label])
                    samples[label].append(cpu)
        finally:
            for storage, _, _ in ready.values():
                await storage.db.dispose()
        for label, values in samples.items():
            per_message[label] = round(statistics.median(values) * 1e6, 1)
        result["store_batch_of"] = BATCH
        result["store_cpu_us_per_message"] = per_message
        result["sealing_cpu_us_per_message"] = round(
            per_message["sealed"] - per_message["plain"], 1
        )
    names = [sealing.seal(("conversations", "name", str(i)), f"room {i}") for i in range(ROOMS)]
    start = time.process_time()
    hits = [
        n
        for i, b in enumerate(names)
        if "99" in (n := sealing.open(("conversations", "name", str(i)), b)).lower()
    ]
    result["search_rooms"] = {
        "rooms": ROOMS,
        "open_all_ms": round((time.process_time() - start) * 1e3, 1),
        "hits": len(hits),
    }
    return result


def main() -> None:
    result = asyncio.run(main_async())
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
