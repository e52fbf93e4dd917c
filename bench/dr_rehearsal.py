"""Point-in-time recovery rehearsal (issue 16 item 3): `make dr-rehearsal`, never in `make test`.

1. A private PostgreSQL 15 cluster (own port, temp dir) with WAL archiving on (`archive_command`
   copying into an archive dir, `archive_timeout` bounding the RPO), then a base backup.
2. `hushroom db upgrade` + `hushroom serve` on it; SDK users send public-room messages (and,
   unless --no-dms, E2EE DM envelopes) over HTTP; every send is recorded (conversation, start
   and ack times, acked seq, the text's hash).
3. A recovery target T is taken mid-traffic; sending goes on after T until the failure instant
   D. At D the archive is snapshotted (what a disk loss at D would leave: the RPO), then
   `pg_switch_wal()`, and the cluster is destroyed (kill -9, rm -rf of its data dir).
4. Restore: base backup + recovery.signal + restore_command + recovery_target_time = T +
   promote; then Hushroom on the restored cluster.
5. Verify: with `track_commit_timestamp` the original's commit time of every message is known
   before D, so the restored messages must be exactly those committed at or before T (count
   and checksum of every column). Client-side and independent of that: every message
   acknowledged before T is present, with its acked seq and, read back through the API, its
   text (rooms: opened by the server with the same at-rest key; DMs: decrypted by the
   recipient's SDK); no message whose send started after T is. /readyz answers 200.
6. RPO (D minus the last commit in archived WAL at D) and RTO (destroy to /readyz) against the
   targets (5 min, 15 min) → bench/results/dr-rehearsal.json and a printed summary.

Loopback only; every loop is bounded; the cluster, the servers and the temp dir are removed
even on failure or SIGTERM (`--keep` keeps the temp dir). Run as root, the PostgreSQL
binaries run as the `postgres` user (initdb refuses root).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import itertools
import json
import os
import platform
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from hushroom.client import HushroomClient, new_client_msg_id

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "dr-rehearsal.json"
PG_BIN = Path(os.environ.get("HUSHROOM_PG_BIN", "/usr/lib/postgresql/15/bin"))
DB_NAME = "hushroom"
RPO_TARGET_S = 300.0
RTO_TARGET_S = 900.0
# Ack and commit times come from the same host clock (CLOCK_REALTIME, microseconds in
# PostgreSQL); T is written with microseconds. One millisecond covers rounding.
CLOCK_TOLERANCE_S = 0.001


def sha(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def log(msg: str) -> None:
    print(f"[dr {datetime.now(UTC).strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def iso(ts: float) -> str:
    """A Unix time as PostgreSQL reads it (UTC, microseconds)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")


# --- the PostgreSQL cluster ----------------------------------------------------------------------


class Cluster:
    """A private cluster under `work`: data dir, archive dir, base backup, socket dir. As root,
    PostgreSQL's binaries run as `postgres` and the work dir is handed to it."""

    def __init__(self, work: Path, port: int, archive_timeout_s: int) -> None:
        self.work = work
        self.port = port
        self.archive_timeout_s = archive_timeout_s
        self.data = work / "pgdata"
        self.archive = work / "wal-archive"
        self.base = work / "base-backup"
        self.sock = work / "sock"
        self.log_path = work / "postgres.log"
        self.as_postgres = os.geteuid() == 0
        self.owner = pwd.getpwnam("postgres") if self.as_postgres else None

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DB_NAME}"

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def sqlalchemy_url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{DB_NAME}"

    def run(self, *args: str, timeout: float = 300.0, pg: bool = True) -> str:
        """A PostgreSQL binary (`pg`) or a plain command, as the cluster's owner."""
        cmd = [str(PG_BIN / args[0]) if pg else args[0], *args[1:]]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        if out.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])}: rc={out.returncode}\n{out.stderr[-3000:]}")
        return out.stdout

    def give(self, path: Path) -> None:
        """Hand `path` (recursively) to the postgres user when running as root."""
        if self.owner is None:
            return
        for p in [path, *path.rglob("*")] if path.is_dir() else [path]:
            os.chown(p, self.owner.pw_uid, self.owner.pw_gid)

    def init(self) -> None:
        self.work.chmod(0o755)
        for d in (self.archive, self.sock):
            d.mkdir()
        self.give(self.work)
        self.run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        archive = str(self.archive)
        # Copy under a temporary name, then rename: the archive never holds a half-copied
        # segment; `test ! -f` refuses to overwrite (PostgreSQL retries, and warns).
        archive_command = (
            f"test ! -f {archive}/%f && cp %p {archive}/%f.tmp && mv {archive}/%f.tmp {archive}/%f"
        )
        self.append_conf(
            {
                "listen_addresses": "'127.0.0.1'",
                "port": str(self.port),
                "unix_socket_directories": f"'{self.sock}'",
                "wal_level": "replica",
                "archive_mode": "on",
                "archive_command": f"'{archive_command}'",
                "archive_timeout": str(self.archive_timeout_s),
                "max_wal_senders": "4",
                # The commit time of every row (pg_xact_commit_timestamp): what recovery to a
                # timestamp cuts on, so the rehearsal can predict the restored set exactly.
                "track_commit_timestamp": "on",
                "shared_buffers": "128MB",
                "log_checkpoints": "on",
            }
        )

    def append_conf(self, settings: dict[str, str]) -> None:
        conf = self.data / "postgresql.conf"
        lines = [f"{k} = {v}" for k, v in settings.items()]
        with conf.open("a") as f:
            f.write("\n# bench/dr_rehearsal.py\n" + "\n".join(lines) + "\n")

    def start(self, timeout_s: int = 600) -> None:
        self.run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log_path),
            "-w",
            "-t",
            str(timeout_s),
            "start",
            timeout=timeout_s + 30,
        )

    def postmaster_pid(self) -> int | None:
        pid_file = self.data / "postmaster.pid"
        try:
            return int(pid_file.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None

    def base_backup(self) -> None:
        self.run(
            "pg_basebackup",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-D",
            str(self.base),
            "-Fp",
            "-X",
            "stream",
            "-c",
            "fast",
            "--label",
            "dr-rehearsal",
        )

    def destroy(self) -> None:
        """The disaster: kill -9 the postmaster and every process of the cluster, rm -rf."""
        pid = self.postmaster_pid()
        if pid is not None:
            victims = [pid, *_children(pid)]
            for p in victims:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p, signal.SIGKILL)
            _wait_gone(victims, 10.0)
        shutil.rmtree(self.data, ignore_errors=True)

    def restore(self, target_time: str) -> None:
        """Base backup + recovery.signal + restore_command + recovery_target_time."""
        self.run("cp", "-a", str(self.base), str(self.data), pg=False)
        self.append_conf(
            {
                "restore_command": f"'cp {self.archive}/%f %p'",
                "recovery_target_time": f"'{target_time}'",
                "recovery_target_inclusive": "on",
                "recovery_target_action": "'promote'",
            }
        )
        (self.data / "recovery.signal").touch()
        self.give(self.data / "recovery.signal")

    def stop(self) -> None:
        if self.postmaster_pid() is None or not self.data.exists():
            return
        try:
            self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=60)
        except (RuntimeError, subprocess.TimeoutExpired):
            self.destroy()

    def archived_segments(self) -> list[str]:
        return sorted(
            p.name for p in self.archive.iterdir() if re.fullmatch(r"[0-9A-F]{24}", p.name)
        )

    def last_commit_in(self, segment: str) -> float | None:
        """The commit time of the last transaction in an archived WAL segment (pg_waldump)."""
        out = subprocess.run(
            [str(PG_BIN / "pg_waldump"), "-r", "Transaction", str(self.archive / segment)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        ).stdout
        stamps = re.findall(r"desc: COMMIT (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) (\w+)", out)
        if not stamps:
            return None
        stamp, zone = stamps[-1]
        if zone != "UTC":
            raise RuntimeError(f"pg_waldump printed a {zone} time; run the cluster in UTC")
        return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC).timestamp()


def _children(pid: int) -> list[int]:
    """Descendants of `pid` (from /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parents.items() if pp == p]
        found += kids
        frontier += kids
    return found


def _wait_gone(pids: list[int], within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not any(Path(f"/proc/{p}").exists() for p in pids):
            return
        time.sleep(0.05)


# --- Hushroom -------------------------------------------------------------------------------------


class Hushroom:
    """`hushroom serve` on a loopback port against the cluster (logs in `<dir>/server.log`)."""

    def __init__(
        self, database_url: str, data_dir: Path, port: int, jwt_secret: str, at_rest_key: str
    ) -> None:
        self.data_dir = data_dir
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / "server.log"
        self.env = {
            **os.environ,
            "HUSHROOM_DATABASE_URL": database_url,
            "HUSHROOM_DATA_DIR": str(data_dir),
            "HUSHROOM_PORT": str(port),
            "HUSHROOM_HOST": "127.0.0.1",
            # The same secret before and after the restore: the clients' tokens stay valid.
            "HUSHROOM_JWT_SECRET": jwt_secret,
            # The at-rest key-encryption key, kept apart from the database (an operator's secret
            # store): without it the restored sealed bodies, names and topics cannot be read.
            "HUSHROOM_AT_REST_KEY": at_rest_key,
            "HUSHROOM_ALLOWED_ORIGINS": f'["{self.base_url}"]',
            "HUSHROOM_ACCESS_TOKEN_TTL_S": "7200",
            "HUSHROOM_RATE_LIMIT_SCALE": "100000",
            "HUSHROOM_AUTH_HASH_MEMORY_KIB": "1024",
            "HUSHROOM_AUTH_HASH_TIME_COST": "1",
            "HUSHROOM_LOG_LEVEL": "WARNING",
        }

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str) -> None:
        out = subprocess.run(
            [sys.executable, "-m", "hushroom.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(f"hushroom {' '.join(args)}: rc={out.returncode}\n{out.stderr}")

    def start(self, timeout: float = 120.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "hushroom.cli", "serve"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hushroom exited:\n{self.log_path.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/readyz", timeout=1.0).status_code == 200:
                    return
            time.sleep(0.05)
        raise RuntimeError(
            f"hushroom not ready in {timeout}s:\n{self.log_path.read_text()[-3000:]}"
        )

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill9()


# --- traffic --------------------------------------------------------------------------------------


@dataclass
class Sent:
    conversation_id: str
    kind: str  # "room" (plain body) or "dm" (E2EE envelope)
    client_msg_id: str
    sender: str
    # sha256 of the text: the stored body in a room; the decrypted text in a DM.
    text_sha256: str
    send_start: float
    ack_time: float | None = None
    seq: int | None = None
    error: str | None = None


@dataclass
class Traffic:
    rooms: list[str]
    # Sender index → its DM with the next user (E2EE envelopes via the SDK).
    dms: dict[int, str]
    clients: list[HushroomClient]
    rate_per_sender: float
    sent: list[Sent] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def _sender(self, i: int, client: HushroomClient, max_messages: int) -> None:
        targets = [("room", self.rooms[i % len(self.rooms)])]
        if i in self.dms:
            targets.append(("dm", self.dms[i]))
        period = 1.0 / self.rate_per_sender
        next_at = time.monotonic()
        for n in range(max_messages):
            if self._stop.is_set():
                return
            kind, conv = targets[n % len(targets)]
            text = f"dr-rehearsal sender {i} message {n} {secrets.token_hex(8)}"
            item = Sent(
                conversation_id=conv,
                kind=kind,
                client_msg_id=new_client_msg_id(),
                sender=str(client.user_id),
                text_sha256=sha(text),
                send_start=time.time(),
            )
            self.sent.append(item)
            try:
                # A room: the plain body. A DM: sealed by the SDK (key set made on first use).
                ack = await client.send_text(
                    conv, text, client_msg_id=item.client_msg_id, http=True
                )
                item.ack_time = time.time()
                item.seq = ack.seq
            except Exception as exc:  # recorded: an unacked send may or may not be stored
                item.error = f"{type(exc).__name__}: {exc}"[:200]
            next_at += period
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    def start(self, max_messages: int) -> None:
        self._tasks = [
            asyncio.create_task(self._sender(i, c, max_messages))
            for i, c in enumerate(self.clients)
        ]

    async def stop(self) -> None:
        self._stop.set()
        async with asyncio.timeout(60):
            await asyncio.gather(*self._tasks)

    async def cancel(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def make_users(base_url: str, n: int) -> list[HushroomClient]:
    tag = uuid.uuid4().hex[:8]
    clients = []
    for i in range(n):
        client = HushroomClient(base_url)
        await client.register_and_login(
            f"DR rehearsal {i}", f"dr.{tag}.{i}@example.test", f"dr-rehearsal-pw-{tag}-{i}"
        )
        clients.append(client)
    return clients


async def open_dms(clients: list[HushroomClient]) -> dict[int, str]:
    """A DM from each even-numbered user to the next one."""
    dms = {}
    for i in range(0, len(clients) - 1, 2):
        peer = clients[i + 1].user_id
        assert peer is not None
        dms[i] = str((await clients[i].open_private_dm(peer)).id)
    return dms


async def make_rooms(clients: list[HushroomClient], n_rooms: int) -> list[str]:
    rooms = []
    for r in range(n_rooms):
        room = await clients[0].create_room(f"dr rehearsal {r}", topic="PITR rehearsal")
        rooms.append(str(room.id))
        for c in clients[1:]:
            await c.join_room(room.id)
    return rooms


# --- checks ---------------------------------------------------------------------------------------


# What the server stores, hashed row by row (every column, whatever the schema version: public
# bodies are sealed at rest, DM envelopes are opaque), with the row's commit time.
MESSAGES_SQL = """
SELECT conversation_id::text AS conv, seq, client_msg_id,
       encode(sha256(convert_to(m::text, 'UTF8')), 'hex') AS row_sha256,
       extract(epoch FROM pg_xact_commit_timestamp(m.xmin))::float8 AS commit_ts
FROM messages m ORDER BY conversation_id, seq
"""


async def fetch_messages(dsn: str) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(dsn, timeout=30)
    try:
        rows = await conn.fetch(MESSAGES_SQL)
    finally:
        await conn.close()
    return [dict(r) for r in rows]


def checksum(rows: list[dict[str, Any]], content: str) -> str:
    """sha256 over (conversation, seq, client_msg_id, `content`) in (conversation, seq) order:
    the same rows with the same content give the same digest."""
    h = hashlib.sha256()
    for r in sorted(rows, key=lambda r: (r["conv"], r["seq"])):
        h.update(f"{r['conv']}|{r['seq']}|{r['client_msg_id']}|{r[content]}\n".encode())
    return h.hexdigest()


def verify_rows(
    sent: list[Sent],
    original: list[dict[str, Any]],
    restored: list[dict[str, Any]],
    target: float,
) -> dict[str, Any]:
    """The restored table against the acknowledged sends and the original's commit times."""
    checks: dict[str, Any] = {}
    by_cmid = {r["client_msg_id"]: r for r in restored}
    orig_by_cmid = {r["client_msg_id"]: r for r in original}

    # Client side: acked at or before T (minus the tolerance) → committed before T → present,
    # in its conversation with the acked seq; send started after T (plus tolerance) → absent.
    must = [s for s in sent if s.ack_time is not None and s.ack_time <= target - CLOCK_TOLERANCE_S]
    must_not = [s for s in sent if s.send_start >= target + CLOCK_TOLERANCE_S]
    must_ids = {s.client_msg_id for s in must}
    straddling = [
        s
        for s in sent
        if s.client_msg_id not in must_ids and s.send_start < target + CLOCK_TOLERANCE_S
    ]
    lost = [s.client_msg_id for s in must if s.client_msg_id not in by_cmid]
    wrong = [
        s.client_msg_id
        for s in must
        if s.client_msg_id in by_cmid
        and (
            by_cmid[s.client_msg_id]["seq"] != s.seq
            or by_cmid[s.client_msg_id]["conv"] != s.conversation_id
        )
    ]
    resurrected = [s.client_msg_id for s in must_not if s.client_msg_id in by_cmid]
    checks["acked_before_T"] = len(must)
    checks["acked_before_T_lost"] = len(lost)
    checks["acked_before_T_wrong_seq"] = len(wrong)
    checks["sent_after_T"] = len(must_not)
    checks["sent_after_T_present"] = len(resurrected)
    checks["in_flight_at_T"] = len(straddling)
    checks["in_flight_at_T_present"] = sum(1 for s in straddling if s.client_msg_id in by_cmid)

    # Server side, exact: the original's rows committed at or before T (commit timestamps),
    # byte for byte (every column hashed).
    expected = [r for r in original if r["commit_ts"] is not None and r["commit_ts"] <= target]
    no_ts = sum(1 for r in original if r["commit_ts"] is None)
    checks["original_rows"] = len(original)
    checks["original_rows_without_commit_ts"] = no_ts
    checks["expected_rows_committed_by_T"] = len(expected)
    checks["restored_rows"] = len(restored)
    checks["expected_checksum"] = checksum(expected, "row_sha256")
    checks["restored_checksum"] = checksum(restored, "row_sha256")
    checks["restored_rows_not_in_original"] = sum(1 for c in by_cmid if c not in orig_by_cmid)
    max_ts = max((r["commit_ts"] for r in restored if r["commit_ts"] is not None), default=None)
    checks["restored_max_commit_ts"] = iso(max_ts) if max_ts is not None else None
    checks["restored_max_commit_before_T"] = max_ts is None or max_ts <= target
    by_conv: dict[str, list[int]] = {}
    for r in restored:
        by_conv.setdefault(r["conv"], []).append(r["seq"])
    checks["seqs_contiguous"] = all(
        sorted(seqs) == list(range(1, len(seqs) + 1)) for seqs in by_conv.values()
    )
    checks["rows_ok"] = bool(
        not lost
        and not wrong
        and not resurrected
        and no_ts == 0
        and len(expected) == len(restored)
        and checks["expected_checksum"] == checks["restored_checksum"]
        and checks["restored_rows_not_in_original"] == 0
        and checks["restored_max_commit_before_T"]
        and checks["seqs_contiguous"]
        and must
        and must_not
    )
    return checks


async def api_history(base_url: str, token: str, conv: str) -> list[dict[str, Any]]:
    """A conversation's whole history through the restored server's API, with a token issued
    before the disaster: public bodies come back opened by the server (at-rest key)."""
    client = HushroomClient(base_url)
    client.http.access_token = token
    try:
        out = []
        async for m in client.iter_history(conv):
            out.append(
                {
                    "conv": str(m.conversation_id),
                    "seq": m.seq,
                    "client_msg_id": m.client_msg_id,
                    "text_sha256": sha(m.body) if m.body is not None else None,
                }
            )
            if len(out) > 1_000_000:
                raise RuntimeError("history does not end")
        return out
    finally:
        await client.aclose()


async def verify_api(
    base_url: str,
    clients: list[HushroomClient],
    rooms: list[str],
    dms: dict[int, str],
    sent: list[Sent],
    restored: list[dict[str, Any]],
    target: float,
) -> dict[str, Any]:
    """/readyz, and every conversation's history through the API: the same messages as the
    restored table, and each acked message's text identical to what was sent (rooms: the
    server opens the sealed body; DMs: the recipient, its keys still in memory, decrypts and
    verifies the envelope)."""
    checks: dict[str, Any] = {}
    async with httpx.AsyncClient(timeout=5) as http:
        checks["readyz_status"] = (await http.get(f"{base_url}/readyz")).status_code
    rows: list[dict[str, Any]] = []
    for room in rooms:
        token = clients[0].http.access_token
        assert token is not None
        rows += await api_history(base_url, token, room)
    undecrypted = 0
    for i, dm in dms.items():
        for d in await clients[i + 1].history_decrypted(dm):
            undecrypted += 0 if d.ok else 1
            rows.append(
                {
                    "conv": str(d.conversation_id),
                    "seq": d.seq,
                    "client_msg_id": d.client_msg_id,
                    "text_sha256": sha(d.text) if d.ok and d.text is not None else None,
                }
            )
    checks["api_history_rows"] = len(rows)
    checks["api_history_same_messages_as_table"] = checksum(rows, "seq") == checksum(
        restored, "seq"
    )
    checks["dm_envelopes_not_decrypted"] = undecrypted
    # Content: every message acked before T, as the API gives it back, against what was sent.
    sent_text = {s.client_msg_id: s.text_sha256 for s in sent}
    acked_before = {
        s.client_msg_id
        for s in sent
        if s.ack_time is not None and s.ack_time <= target - CLOCK_TOLERANCE_S
    }
    api_acked = [r for r in rows if r["client_msg_id"] in acked_before]
    sent_rows = [{**r, "text_sha256": sent_text[r["client_msg_id"]]} for r in api_acked]
    checks["acked_before_T_served"] = len(api_acked)
    checks["acked_before_T_content_checksum"] = checksum(api_acked, "text_sha256")
    checks["acked_before_T_content_matches"] = len(api_acked) == len(acked_before) and checksum(
        api_acked, "text_sha256"
    ) == checksum(sent_rows, "text_sha256")
    checks["api_ok"] = bool(
        checks["readyz_status"] == 200
        and checks["api_history_same_messages_as_table"]
        and undecrypted == 0
        and checks["acked_before_T_content_matches"]
    )
    return checks


# --- the rehearsal --------------------------------------------------------------------------------


async def rehearse(args: argparse.Namespace, work: Path, result: dict[str, Any]) -> None:
    cluster = Cluster(work, free_port(), args.archive_timeout)
    jwt_secret = secrets.token_urlsafe(48)
    at_rest_key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    app_port = free_port()
    servers: list[Hushroom] = []
    clients: list[HushroomClient] = []
    phases: dict[str, float] = {}
    t_phase = time.monotonic()
    traffic: Traffic | None = None
    # SIGTERM as Ctrl-C (asyncio.run cancels on SIGINT): the `finally` below cleans up.
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)

    def phase(name: str) -> None:
        nonlocal t_phase
        now = time.monotonic()
        phases[name] = round(now - t_phase, 2)
        t_phase = now

    try:
        # 1. Cluster with archiving, base backup.
        log(f"cluster on 127.0.0.1:{cluster.port} in {work}")
        cluster.init()
        cluster.start()
        conn = await asyncpg.connect(cluster.admin_dsn)
        try:
            await conn.execute(f'CREATE DATABASE "{DB_NAME}"')
        finally:
            await conn.close()
        cluster.base_backup()
        log("base backup taken")
        phase("cluster_and_base_backup_s")

        # 2. Hushroom, users, rooms, traffic.
        secrets_ = (jwt_secret, at_rest_key)
        app = Hushroom(cluster.sqlalchemy_url, work / "hushroom-1", app_port, *secrets_)
        servers.append(app)
        app.cli("db", "upgrade")
        app.start()
        log(f"hushroom on {app.base_url}; registering {args.senders} users")
        clients = await make_users(app.base_url, args.senders)
        rooms = await make_rooms(clients, args.rooms)
        dms = await open_dms(clients) if args.dms else {}
        phase("hushroom_setup_s")

        traffic = Traffic(rooms, dms, clients, args.rate)
        max_per_sender = int((args.before + args.after + 60) * args.rate) + 10
        traffic.start(max_per_sender)
        log(f"traffic: {args.senders} senders x {args.rate}/s into {len(rooms)} rooms")
        await asyncio.sleep(args.before)
        target = time.time()
        target_text = iso(target)
        log(f"recovery target T = {target_text}; sending on for {args.after}s")
        await asyncio.sleep(args.after)

        # 3. The failure instant D: traffic stops; snapshot of what the archive holds.
        await traffic.stop()
        failure = time.time()
        archived_at_d = cluster.archived_segments()
        phase("traffic_s")
        conn = await asyncpg.connect(cluster.admin_dsn)
        try:
            archiver = dict(await conn.fetchrow("SELECT * FROM pg_stat_archiver") or {})
        finally:
            await conn.close()
        original = await fetch_messages(cluster.dsn)
        last_archived_commit = None
        for seg in reversed(archived_at_d):
            last_archived_commit = cluster.last_commit_in(seg)
            if last_archived_commit is not None:
                break
        # Archive cadence while the traffic ran: a disk loss at the worst moment loses up to
        # the longest gap between two archived segments (plus the copy).
        mtimes = sorted(
            (cluster.archive / s).stat().st_mtime
            for s in archived_at_d
            if (cluster.archive / s).stat().st_mtime >= target - args.before
        )
        gaps = [b - a for a, b in itertools.pairwise(mtimes)]

        conn = await asyncpg.connect(cluster.admin_dsn)
        try:
            switched = await conn.fetchval("SELECT pg_walfile_name(pg_switch_wal())")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                last = await conn.fetchval("SELECT last_archived_wal FROM pg_stat_archiver")
                if last is not None and last >= switched:
                    break
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError(f"{switched} not archived within 60 s")
        finally:
            await conn.close()
        log(f"WAL switched and archived up to {switched}; destroying the cluster")
        phase("snapshot_and_switch_s")

        # Destroy: the app and the database, kill -9; the data dir, rm -rf.
        t_destroy = time.monotonic()
        destroyed_at = time.time()
        app.kill9()
        cluster.destroy()

        # 4. Restore to T, promote, Hushroom on it.
        cluster.restore(target_text)
        cluster.start()
        conn = await asyncpg.connect(cluster.admin_dsn)
        try:
            deadline = time.monotonic() + 600
            while await conn.fetchval("SELECT pg_is_in_recovery()"):
                if time.monotonic() > deadline:
                    raise RuntimeError("not promoted within 600 s")
                await asyncio.sleep(0.05)
            timeline = await conn.fetchval("SELECT timeline_id FROM pg_control_checkpoint()")
        finally:
            await conn.close()
        t_promoted = time.monotonic()
        restored_app = Hushroom(cluster.sqlalchemy_url, work / "hushroom-2", app_port, *secrets_)
        servers.append(restored_app)
        restored_app.start()
        t_ready = time.monotonic()
        rto = t_ready - t_destroy
        log(f"restored and ready: RTO {rto:.1f}s")
        phase("restore_s")

        # 5. Verify.
        restored = await fetch_messages(cluster.dsn)
        checks = verify_rows(traffic.sent, original, restored, target)
        checks |= await verify_api(
            restored_app.base_url, clients, rooms, dms, traffic.sent, restored, target
        )
        checks["ok"] = bool(checks["rows_ok"] and checks["api_ok"])
        phase("verify_s")

        # 6. Figures.
        acked = [s for s in traffic.sent if s.ack_time is not None]
        orig_ts = {r["client_msg_id"]: r["commit_ts"] for r in original}
        lost_at_latest = (
            sum(1 for s in acked if (orig_ts.get(s.client_msg_id) or 0) > last_archived_commit)
            if last_archived_commit is not None
            else len(acked)
        )
        rpo = failure - last_archived_commit if last_archived_commit is not None else None
        worst_gap = max(gaps, default=None)
        worst_rpo = max((v for v in (rpo, worst_gap) if v is not None), default=None)
        result.update(
            {
                "postgres": cluster.run("postgres", "--version").strip(),
                "target_time": target_text,
                "failure_instant": iso(failure),
                "destroyed_at": iso(destroyed_at),
                "restored_timeline": timeline,
                "messages": {
                    "attempted": len(traffic.sent),
                    "acked": len(acked),
                    "send_errors": sum(1 for s in traffic.sent if s.error),
                    "rooms": len(rooms),
                    "dms": len(dms),
                    "dm_acked": sum(1 for s in acked if s.kind == "dm"),
                    "senders": args.senders,
                },
                "checks": checks,
                "rpo": {
                    "definition": (
                        "failure instant D minus the last commit in WAL already archived at D: "
                        "the acknowledged data a loss of the database host at D would lose when "
                        "recovering to the latest archived point"
                    ),
                    "measured_s": round(rpo, 2) if rpo is not None else None,
                    "acked_messages_lost_at_latest": lost_at_latest,
                    "last_archived_commit": iso(last_archived_commit)
                    if last_archived_commit is not None
                    else None,
                    "archive_timeout_s": args.archive_timeout,
                    "archived_segments_at_D": len(archived_at_d),
                    "worst_archive_gap_s": round(worst_gap, 2) if worst_gap is not None else None,
                    "bound_s": args.archive_timeout,
                    "pitr_acked_before_T_lost": checks["acked_before_T_lost"],
                    "target_s": RPO_TARGET_S,
                    # Judged on the worst case seen (a failure just before a segment switch).
                    "worst_case_s": round(worst_rpo, 2) if worst_rpo is not None else None,
                    "met": worst_rpo is not None
                    and worst_rpo <= RPO_TARGET_S
                    and checks["acked_before_T_lost"] == 0,
                },
                "rto": {
                    "definition": "kill -9 + rm -rf of the cluster to /readyz of Hushroom on "
                    "the restored cluster (base backup and archive on local disk)",
                    "measured_s": round(rto, 2),
                    "to_promotion_s": round(t_promoted - t_destroy, 2),
                    "target_s": RTO_TARGET_S,
                    "met": rto <= RTO_TARGET_S,
                },
                "archiver_at_D": {
                    k: (v.isoformat() if isinstance(v, datetime) else v)
                    for k, v in archiver.items()
                },
                "phases_s": phases,
            }
        )
        result["ok"] = bool(checks["ok"] and result["rpo"]["met"] and result["rto"]["met"])
    finally:
        if traffic is not None:
            await traffic.cancel()
        for s in servers:
            with contextlib.suppress(Exception):
                s.stop()
        for c in clients:
            with contextlib.suppress(Exception):
                await c.aclose()
        with contextlib.suppress(Exception):
            cluster.stop()


def summary(result: dict[str, Any]) -> str:
    if "rpo" not in result:
        return f"dr-rehearsal: FAILED ({result.get('error', 'unknown')})"
    c, m = result["checks"], result["messages"]
    rpo, rto = result["rpo"], result["rto"]
    return "\n".join(
        [
            f"dr-rehearsal: {'PASS' if result['ok'] else 'FAIL'} in {result['total_s']}s",
            f"  T = {result['target_time']}, failure at {result['failure_instant']}",
            f"  messages: {m['acked']} acked of {m['attempted']} sent ({m['send_errors']} errors;"
            f" {m['dm_acked']} in {m['dms']} E2EE DMs, the rest in {m['rooms']} public rooms)",
            f"  acked before T: {c['acked_before_T']}, lost {c['acked_before_T_lost']}, "
            f"wrong seq {c['acked_before_T_wrong_seq']}; content as sent: "
            f"{c['acked_before_T_content_matches']}; sent after T: {c['sent_after_T']}, present "
            f"{c['sent_after_T_present']}; in flight at T: {c['in_flight_at_T']} "
            f"({c['in_flight_at_T_present']} present)",
            f"  rows: restored {c['restored_rows']} / expected {c['expected_rows_committed_by_T']}"
            f" committed by T; row checksum "
            f"{'match' if c['expected_checksum'] == c['restored_checksum'] else 'MISMATCH'};"
            f" API history {c['api_history_rows']} messages, same as the table: "
            f"{c['api_history_same_messages_as_table']}; DM envelopes not decrypted: "
            f"{c['dm_envelopes_not_decrypted']}; /readyz {c['readyz_status']}",
            f"  RPO {rpo['measured_s']}s at the failure instant ("
            f"{rpo['acked_messages_lost_at_latest']} acked messages after the last archived "
            f"commit), worst case {rpo['worst_case_s']}s (longest archive gap; archive_timeout "
            f"{rpo['archive_timeout_s']}s); PITR: {rpo['pitr_acked_before_T_lost']} acked "
            f"messages before T lost; target <= {rpo['target_s']:.0f}s",
            f"  RTO {rto['measured_s']}s (promoted after {rto['to_promotion_s']}s) "
            f"target <= {rto['target_s']:.0f}s",
        ]
    )


def _kill_leftover_cluster(work: Path) -> None:
    """Last resort when the rehearsal's own cleanup did not run: a postmaster still up."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        pid = int((work / "pgdata" / "postmaster.pid").read_text().splitlines()[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        if str(work).encode() in cmdline:
            victims = [pid, *_children(pid)]
            for p in victims:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p, signal.SIGKILL)
            _wait_gone(victims, 10.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=float, default=20.0, help="traffic before T (s)")
    parser.add_argument("--after", type=float, default=20.0, help="traffic after T (s)")
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--rooms", type=int, default=2)
    parser.add_argument("--rate", type=float, default=10.0, help="messages/s per sender")
    parser.add_argument(
        "--no-dms", dest="dms", action="store_false", help="public rooms only (no E2EE DMs)"
    )
    parser.add_argument("--archive-timeout", type=int, default=10, help="seconds")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, archive)")
    args = parser.parse_args()
    if not (0 < args.before <= 600 and 0 < args.after <= 600 and 1 <= args.senders <= 50):
        parser.error("--before/--after in (0, 600], --senders in [1, 50]")

    # pg_waldump prints times in the cluster's zone; the cluster inherits TZ.
    os.environ["TZ"] = "UTC"
    work = Path(tempfile.mkdtemp(prefix="hushroom-dr-"))
    started = datetime.now(UTC)
    t0 = time.monotonic()
    result: dict[str, Any] = {
        "started_at": started.isoformat(timespec="seconds"),
        "host": platform.node(),
        "params": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "ok": False,
    }
    try:
        asyncio.run(rehearse(args, work, result))
    except BaseException as exc:
        cancelled = isinstance(exc, asyncio.CancelledError | KeyboardInterrupt)
        error = "interrupted (SIGTERM or Ctrl-C)" if cancelled else f"{type(exc).__name__}: {exc}"
        result["error"] = error[:4000]
        log(f"failed: {result['error']}")
        if isinstance(exc, KeyboardInterrupt):
            raise
    finally:
        result["total_s"] = round(time.monotonic() - t0, 1)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        _kill_leftover_cluster(work)
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(summary(result), flush=True)
    print(f"→ {args.out}", flush=True)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
