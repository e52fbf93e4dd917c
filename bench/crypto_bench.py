"""Micro-benchmark of the Python crypto core (not a test). Prints JSON.

Run: ``uv run python bench/crypto_bench.py``. Figures go to docs/crypto.md §12.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

from hushroom.crypto.conversation_key import create_key_set, open_key_set, verify_key_set
from hushroom.crypto.device import DeviceKey, certify_device
from hushroom.crypto.envelope import open_envelope, seal_envelope
from hushroom.crypto.identity import IdentityKey
from hushroom.crypto.password import KdfParams, derive_password_keys
from hushroom.crypto.primitives import Secret, SeededRandom
from hushroom.crypto.puk import PukKeyPair, certify_puk
from hushroom.crypto.vault import VaultContents, create_vault, unlock_vault


def measure(fn: Callable[[], Any], repeat: int) -> dict[str, float]:
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    times.sort()
    return {
        "runs": repeat,
        "median_us": round(statistics.median(times) * 1e6, 1),
        "p95_us": round(times[min(len(times) - 1, int(len(times) * 0.95))] * 1e6, 1),
    }


def main() -> None:
    random = SeededRandom(b"bench")
    users = []
    for i in range(100):
        identity, device = IdentityKey.generate(random), DeviceKey.generate(random)
        puk = PukKeyPair.generate(1, random)
        users.append(
            (
                f"user-{i:03d}",
                device,
                certify_device(identity, f"user-{i:03d}", "dev", device.public_key, 1),
                puk,
                certify_puk(identity, f"user-{i:03d}", puk, 1),
            )
        )
    results: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
    }
    creator = users[0]
    for n in (2, 10, 100):
        members = users[:n]

        def create(members: list[Any] = members) -> Any:
            return create_key_set(
                "conv", 1, creator[1], creator[2], [m[4] for m in members], 1, random
            )

        results[f"key_set_create_{n}_members"] = measure(create, 20 if n < 100 else 5)
        key, upload = create()
        ids = {m[0] for m in members}

        def verify_and_open(upload: Any = upload, ids: set[str] = ids) -> Any:
            statement = verify_key_set(upload.statement, creator[2], "conv", 1, ids)
            return open_key_set(statement, upload.boxes["user-001"], "user-001", {1: users[1][3]})

        results[f"key_set_verify_open_{n}_members"] = measure(verify_and_open, 50)
        results[f"key_set_upload_bytes_{n}_members"] = len(upload.encode())

    key, upload = create_key_set(
        "conv", 1, creator[1], creator[2], [u[4] for u in users[:2]], 1, random
    )
    statement = verify_key_set(upload.statement, creator[2], "conv", 1, {users[0][0], users[1][0]})
    plaintext = b"x" * 1024
    counter = iter(range(1, 10**9))

    def seal() -> bytes:
        return seal_envelope(
            key,
            creator[1],
            sender_user_id=creator[0],
            sender_device_id="dev",
            client_message_id="m",
            timestamp=1,
            counter=next(counter),
            plaintext=plaintext,
        )

    envelope = seal()
    results["envelope_seal_1KiB"] = measure(seal, 2000)
    results["envelope_open_1KiB"] = measure(
        lambda: open_envelope(
            envelope,
            conversation_id="conv",
            keys={1: key},
            key_sets={1: statement},
            sender_certificate=creator[2],
        ),
        2000,
    )
    results["envelope_bytes_1KiB"] = len(envelope)

    params = KdfParams.generate(random)
    keys = derive_password_keys("benchmark password", params)
    contents = VaultContents.create(random(32), [(g, random(32)) for g in range(1, 4)])
    _, vault = create_vault(contents, "u", keys.password_key, Secret(random(32)), random)

    def unlock() -> Any:
        return unlock_vault(
            vault, "u", derive_password_keys("benchmark password", params).password_key
        )

    results["vault_unlock_argon2id_64MiB_t3"] = measure(unlock, 5)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
