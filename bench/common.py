"""Small shared helpers: statistics, client message ids that carry their scheduled send time,
real envelopes for the DM senders, machine information and load."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import importlib.metadata
import os
import platform
import subprocess
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect

from hushroom.crypto.conversation_key import ConversationKey
from hushroom.crypto.device import DeviceKey
from hushroom.crypto.envelope import seal_envelope

REPO = Path(__file__).resolve().parent.parent
# Every DM message is this many random bytes sealed in a real envelope (docs/crypto.md §8.4).
ENVELOPE_PLAINTEXT = 300


def now_ns() -> int:
    """CLOCK_MONOTONIC: one clock for every process on the machine (Linux)."""
    return time.monotonic_ns()


def make_cmid(scheduled_ns: int, n: int) -> str:
    """32 lowercase hex: 16 for the scheduled send time, 16 for uniqueness."""
    return f"{scheduled_ns & 0xFFFFFFFFFFFFFFFF:016x}{n & 0xFFFFFFFFFFFFFFFF:016x}"


class Sealer:
    """Seals a DM sender's messages as its device would: its own key, the DM's conversation key,
    a counter per (device, conversation) (the server checks the header, decision 0005)."""

    def __init__(self, seal: dict[str, Any]) -> None:
        self.user_id: str = seal["user_id"]
        self.device_id: str = seal["device_id"]
        self.device = DeviceKey(bytes.fromhex(seal["device_seed"]))
        self.key = ConversationKey(
            seal["conversation_id"], int(seal["generation"]), bytes.fromhex(seal["key"])
        )
        self.counter = 0

    def seal(self, cmid: str, timestamp_ms: int, plaintext: bytes) -> bytes:
        """The next envelope (the counter runs on)."""
        self.counter += 1
        return seal_envelope(
            self.key,
            self.device,
            sender_user_id=self.user_id,
            sender_device_id=self.device_id,
            client_message_id=cmid,
            timestamp=timestamp_ms,
            counter=self.counter,
            plaintext=plaintext,
        )

    def frame(self, cmid: str, timestamp_ms: int, plaintext: bytes) -> str:
        """A complete `message.send` frame."""
        envelope = self.seal(cmid, timestamp_ms, plaintext)
        ciphertext = base64.urlsafe_b64encode(envelope).rstrip(b"=").decode()
        return (
            f'{{"type":"message.send","conversation_id":"{self.key.conversation_id}",'
            f'"client_msg_id":"{cmid}","envelope":{{"generation":{self.key.generation},'
            f'"ciphertext":"{ciphertext}"}}}}'
        )


def _sample_sealer() -> Sealer:
    return Sealer(
        {
            "user_id": str(uuid.uuid4()),
            "device_id": str(uuid.uuid4()),
            "device_seed": os.urandom(32).hex(),
            "conversation_id": str(uuid.uuid4()),
            "generation": 1,
            "key": os.urandom(32).hex(),
        }
    )


def envelope_bytes() -> int:
    """The size of one DM message's envelope (ids are fixed-length, so it is a constant)."""
    s = _sample_sealer()
    return len(
        seal_envelope(
            s.key,
            s.device,
            sender_user_id=s.user_id,
            sender_device_id=s.device_id,
            client_message_id="0" * 32,
            timestamp=1,
            counter=1,
            plaintext=bytes(ENVELOPE_PLAINTEXT),
        )
    )


def seal_seconds(samples: int = 50) -> float:
    """Seconds to seal one envelope on this machine now (senders seal before a step starts)."""
    s = _sample_sealer()
    plaintext = os.urandom(ENVELOPE_PLAINTEXT)
    t0 = time.perf_counter()
    for i in range(samples):
        s.frame(make_cmid(i, i), 1, plaintext)
    return (time.perf_counter() - t0) / samples


async def fetch_ticket(http: httpx.AsyncClient, base_url: str, token: str) -> str:
    """A single-use WebSocket ticket (`POST /api/v1/ws-ticket`), as every client gets one."""
    r = await http.post(
        f"{base_url}/api/v1/ws-ticket", headers={"Authorization": f"Bearer {token}"}
    )
    if r.status_code != 200:
        raise RuntimeError(f"ticket: HTTP {r.status_code}")
    return str(r.json()["ticket"])


async def open_authed(
    ws_url: str, ticket: str, *, max_size: int, compression: str | None = None
) -> tuple[ClientConnection, int]:
    """A WebSocket that sent `auth` and got `ready` (raw client: cheaper than the SDK), and the
    time (`now_ns`) its handshake completed. The server pings; the client answers by itself."""
    ws = await connect(
        ws_url,
        compression=compression,
        open_timeout=30,
        close_timeout=2,
        ping_interval=None,
        max_size=max_size,
        max_queue=None,
    )
    opened_ns = now_ns()
    try:
        await ws.send(orjson.dumps({"type": "auth", "ticket": ticket}).decode())
        first = str(await asyncio.wait_for(ws.recv(), 30))
    except BaseException:
        await ws.close()
        raise
    if not first.startswith('{"type":"ready"'):
        await ws.close()
        raise RuntimeError(f"auth failed: {first[:80]}")
    return ws, opened_ns


def cmid_time(cmid: str) -> int:
    return int(cmid[:16], 16)


def pct(sorted_values: Sequence[float], p: float) -> float | None:
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, round(p / 100.0 * (len(sorted_values) - 1))))
    return float(sorted_values[k])


def latency_summary(values_ms: Sequence[float]) -> dict[str, Any]:
    s = sorted(values_ms)
    return {
        "count": len(s),
        "p50_ms": pct(s, 50),
        "p90_ms": pct(s, 90),
        "p99_ms": pct(s, 99),
        "p999_ms": pct(s, 99.9),
        "max_ms": s[-1] if s else None,
    }


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def set_nofile_max() -> int:
    """Raise the soft open-file limit to the hard one; returns the new soft limit."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft


def pin(cpus: set[int]) -> bool:
    try:
        # The machine's CPUs, not this process's current set: a child inherits its parent's.
        available = set(range(os.cpu_count() or 1))
        use = cpus & available
        if not use:
            return False
        os.sched_setaffinity(0, use)
        return True
    except (AttributeError, OSError):
        return False


def cpu_plan() -> tuple[set[int], set[int]]:
    """(server cores, generator cores): disjoint when the machine has at least two."""
    cpus = list(range(os.cpu_count() or 1))
    if len(cpus) < 2:
        return set(cpus), set(cpus)
    half = max(1, len(cpus) // 2)
    return set(cpus[:half]), set(cpus[half:])


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=5
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip() or None
    if commit and dirty.stdout.strip():
        commit += " (with uncommitted changes)"
    return commit


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _ram_mb() -> int | None:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    return None


PACKAGES = (
    "hushroom",
    "fastapi",
    "starlette",
    "uvicorn",
    "websockets",
    "sqlalchemy",
    "asyncpg",
    "orjson",
    "redis",
    "hiredis",
    "httpx",
    "psutil",
    "matplotlib",
)


def machine_info() -> dict[str, Any]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    pg = None
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        pg = subprocess.run(
            ["psql", "--version"], capture_output=True, text=True, timeout=5
        ).stdout.strip()
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "ram_mb": _ram_mb(),
        "kernel": platform.release(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": versions,
        "postgresql_client": pg,
        "git_commit": _git_commit(),
        "loadavg_at_start": loadavg(),
    }
