"""A load-generator process: holds WebSocket connections with the raw `websockets` asyncio client
and runs the commands the coordinator sends over a pipe.

Senders are open loop: message i of a step is due at `start + i / rate`, sent then (or at once
when the generator is late), and its latency is measured from that scheduled time, which travels
in the first 16 hex digits of the client message id. So a slow server cannot slow the senders
down and hide its own queueing (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import random
import time
from multiprocessing.connection import Connection as Pipe
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from bench.common import (
    ENVELOPE_PLAINTEXT,
    Sealer,
    cmid_time,
    fetch_ticket,
    make_cmid,
    now_ns,
    open_authed,
    pin,
    set_nofile_max,
)

CONNECT_CONCURRENCY = 64
_NEW = '{"type":"message.new"'
_ACK = '{"type":"message.ack"'
_PONG = '{"type":"pong"'
_PRESENCE = '{"type":"presence",'
_CMID = '"client_msg_id":"'


class Conn:
    __slots__ = ("conv", "idx", "role", "spec", "task", "ws")

    def __init__(self, idx: int, spec: dict[str, Any]) -> None:
        self.idx = idx
        self.spec = spec
        self.role: str = spec.get("role", "idle")
        self.conv: str | None = spec.get("conv")
        self.ws: ClientConnection | None = None
        self.task: asyncio.Task[None] | None = None


class Recorder:
    """What receivers saw during one step."""

    def __init__(self, per_message: bool) -> None:
        self.latencies_ms: list[float] = []
        self.received: set[str] = set()
        self.per_message: dict[str, list[float]] | None = {} if per_message else None
        self.acked: set[str] = set()
        self.sent: set[str] = set()
        # Set for steps whose latency counts from the actual send, not the scheduled time.
        self.sent_at: dict[str, int] | None = None


class Generator:
    def __init__(self, spec: dict[str, Any], pipe: Pipe) -> None:
        self.name = spec["name"]
        self.compression = spec.get("compression")
        self.specs: list[dict[str, Any]] = spec["conns"]
        self.pipe = pipe
        self.conns: list[Conn] = []
        self.rec: Recorder | None = None
        self.pongs: dict[int, int] = {}
        self.errors = 0
        self.error_samples: list[str] = []
        self.closed = 0
        # `message.new` frames for a sender's own sends: none once the server stops echoing
        # to the sending socket (issue 17); nothing here depends on them either way.
        self.echoes = 0
        # `presence` frames received (all sockets, since the process started).
        self.presence_frames = 0
        self.http: httpx.AsyncClient | None = None
        # DM senders' sealers by connection index (their counters run across steps).
        self.sealers: dict[int, Sealer] = {}

    def log(self, text: str) -> None:
        print(f"  [{self.name}] {text}", flush=True)

    # -- frames -------------------------------------------------------------------------------
    def on_frame(self, c: Conn, msg: str | bytes) -> None:
        t = now_ns()
        if isinstance(msg, bytes):
            msg = msg.decode()
        if msg.startswith(_NEW):
            rec = self.rec
            if c.role == "send":
                self.echoes += 1
                return
            if rec is None:
                return
            i = msg.find(_CMID) + len(_CMID)
            cmid = msg[i : i + 32]
            sent_at = rec.sent_at.get(cmid) if rec.sent_at is not None else None
            lat = (t - (sent_at if sent_at is not None else cmid_time(cmid))) / 1e6
            if rec.per_message is not None:
                rec.per_message.setdefault(cmid, []).append(lat)
            if cmid not in rec.received:
                rec.received.add(cmid)
                rec.latencies_ms.append(lat)
        elif msg.startswith(_ACK):
            if self.rec is not None:
                i = msg.find(_CMID) + len(_CMID)
                self.rec.acked.add(msg[i : i + 32])
        elif msg.startswith(_PRESENCE):
            self.presence_frames += 1
        elif msg.startswith(_PONG):
            ref = orjson.loads(msg).get("ref")
            if ref is not None:
                self.pongs[int(ref)] = t
        else:
            frame = orjson.loads(msg)
            if frame.get("type") == "error":
                self.errors += 1
                if len(self.error_samples) < 5:
                    self.error_samples.append(msg[:300])

    async def reader(self, c: Conn) -> None:
        assert c.ws is not None
        try:
            async for msg in c.ws:
                self.on_frame(c, msg)
        except ConnectionClosed:
            pass
        finally:
            self.closed += 1

    # -- connecting ---------------------------------------------------------------------------
    async def ticket(self, spec: dict[str, Any]) -> str:
        if spec.get("token") is None:  # the baseline: the ticket is the user id
            return str(spec["user_id"])
        assert self.http is not None
        for attempt in range(5):
            with contextlib.suppress(httpx.HTTPError, RuntimeError):
                return await fetch_ticket(self.http, spec["base_url"], spec["token"])
            await asyncio.sleep(0.2 * (attempt + 1))
        raise RuntimeError("no ticket")

    async def open_one(self, c: Conn) -> float:
        started = time.perf_counter()
        ticket = await self.ticket(c.spec)
        ws, _ = await open_authed(
            c.spec["ws_url"], ticket, max_size=2**20, compression=self.compression
        )
        c.ws = ws
        c.task = asyncio.create_task(self.reader(c))
        return time.perf_counter() - started

    async def grow(self, target: int, deadline_s: float) -> dict[str, Any]:
        """Open connections until `target` are open (bounded by count and time)."""
        target = min(target, len(self.specs))
        start_n = len(self.conns)
        presence_before = self.presence_frames
        todo = [Conn(i, self.specs[i]) for i in range(start_n, target)]
        sem = asyncio.Semaphore(CONNECT_CONCURRENCY)
        times: list[float] = []
        failures: list[str] = []
        t0 = time.perf_counter()
        deadline = t0 + deadline_s
        last_print = t0

        async def one(c: Conn) -> None:
            nonlocal last_print
            async with sem:
                if time.perf_counter() > deadline:
                    failures.append("deadline")
                    return
                try:
                    times.append(await self.open_one(c))
                    self.conns.append(c)
                except Exception as exc:  # counted and reported
                    failures.append(f"{type(exc).__name__}: {str(exc)[:120]}")
                now = time.perf_counter()
                if now - last_print > 2:
                    last_print = now
                    self.log(f"connected {len(self.conns)}/{target}")

        await asyncio.gather(*(one(c) for c in todo))
        self.conns.sort(key=lambda c: c.idx)
        elapsed = time.perf_counter() - t0
        times.sort()
        return {
            "opened": len(times),
            "failed": len(failures),
            "failure_samples": sorted(set(failures))[:5],
            "elapsed_s": elapsed,
            "rate_per_s": len(times) / elapsed if elapsed > 0 else None,
            "connect_p50_ms": times[len(times) // 2] * 1000 if times else None,
            "connect_p99_ms": times[int(len(times) * 0.99)] * 1000 if times else None,
            "open_now": len(self.conns) - self.closed,
            "presence_frames": self.presence_frames - presence_before,
        }

    # -- commands -----------------------------------------------------------------------------
    async def send_step(self, args: dict[str, Any]) -> dict[str, Any]:
        rate: float = args["rate"]
        duration: float = args["duration"]
        start: int = args["start_ns"]
        kind: str = args["kind"]
        per_message: bool = args.get("per_message", False)
        senders = [c for c in self.conns if c.role == "send" and c.ws is not None]
        receivers = sum(1 for c in self.conns if c.role != "send")
        rec = Recorder(per_message)
        if args.get("latency_from_send"):
            rec.sent_at = {}
        self.rec = rec
        errors_before = self.errors
        presence_before, echoes_before = self.presence_frames, self.echoes
        n = int(rate * duration) if senders else 0
        interval = 1e9 / rate if rate > 0 else 0
        rnd = random.Random(os.getpid() ^ start)
        pool = [base64.urlsafe_b64encode(os.urandom(300)).rstrip(b"=").decode() for _ in range(32)]
        # Plaintext bodies of a fixed length (the DM ladder's plaintext twin sends bodies as
        # long as the envelopes' base64, so both put the same bytes on the wire).
        body_chars: int | None = args.get("body_chars")
        if body_chars is not None:
            raw = -(-body_chars * 3 // 4) + 3
            pool = [
                base64.urlsafe_b64encode(os.urandom(raw)).decode()[:body_chars] for _ in range(32)
            ]
        lags: list[float] = []
        send_failed = 0
        salt = rnd.getrandbits(40) << 24
        # Real envelopes, sealed before the step starts (sealing costs more than sending; the
        # coordinator leaves time for it). The baseline server's senders have no keys.
        sealed: list[str] | None = None
        if kind == "envelope" and senders and all(c.spec.get("seal") for c in senders):
            sealed = self._seal_all(senders, n, start, interval, salt)
        for i in range(n):
            due = start + int(i * interval)
            now = now_ns()
            if due > now:
                await asyncio.sleep((due - now) / 1e9)
                now = now_ns()
            lags.append((now - due) / 1e6)
            c = senders[i % len(senders)]
            cmid = make_cmid(due, salt + i)
            if sealed is not None:
                frame = sealed[i]
            elif kind == "envelope":
                frame = (
                    f'{{"type":"message.send","conversation_id":"{c.conv}","client_msg_id":'
                    f'"{cmid}","envelope":{{"generation":0,"ciphertext":"{pool[i & 31]}"}}}}'
                )
            elif body_chars is not None:
                frame = (
                    f'{{"type":"message.send","conversation_id":"{c.conv}","client_msg_id":'
                    f'"{cmid}","body":"{pool[i & 31]}"}}'
                )
            else:
                frame = (
                    f'{{"type":"message.send","conversation_id":"{c.conv}","client_msg_id":'
                    f'"{cmid}","body":"bench message {i} {pool[i & 31][:120]}"}}'
                )
            rec.sent.add(cmid)
            if rec.sent_at is not None:
                rec.sent_at[cmid] = now_ns()
            try:
                assert c.ws is not None
                await c.ws.send(frame)
            except ConnectionClosed:
                send_failed += 1
            if i % 2000 == 1999:
                self.log(f"sent {i + 1}/{n}")
        if not senders:
            end = start + int(duration * 1e9)
            if end > now_ns():
                await asyncio.sleep((end - now_ns()) / 1e9)
        # Drain: wait (bounded) until every message is acked and received by its receivers here.
        expected = args.get("expected_messages", len(rec.sent))
        drain_deadline = time.monotonic() + args.get("drain_s", 5.0)
        while time.monotonic() < drain_deadline:
            if self._drained(rec, expected, receivers, per_message):
                break
            await asyncio.sleep(0.05)
        self.rec = None
        lags.sort()
        result: dict[str, Any] = {
            "sent": len(rec.sent),
            "send_failed": send_failed,
            "acked": len(rec.acked),
            "received": len(rec.received),
            "lost": len((rec.acked & rec.sent) - rec.received) if receivers else None,
            "latencies_ms": rec.latencies_ms,
            "errors": self.errors - errors_before,
            "error_samples": self.error_samples[:3],
            "closed_conns": self.closed,
            "presence_frames": self.presence_frames - presence_before,
            "echoes": self.echoes - echoes_before,
            "generator_lag_p99_ms": lags[int(len(lags) * 0.99)] if lags else None,
            "generator_lag_max_ms": lags[-1] if lags else None,
            "send_span_s": (now_ns() - start) / 1e9,
        }
        if per_message and rec.per_message is not None:
            result["per_message"] = {m: (len(v), max(v)) for m, v in rec.per_message.items()}
        return result

    def _seal_all(
        self, senders: list[Conn], n: int, start: int, interval: float, salt: int
    ) -> list[str]:
        """Message i's frame as `send_step` will send it (same sender, same client id)."""
        plaintext = os.urandom(ENVELOPE_PLAINTEXT)
        frames = []
        t0 = time.perf_counter()
        for i in range(n):
            c = senders[i % len(senders)]
            sealer = self.sealers.get(c.idx)
            if sealer is None:  # kept across steps: the counter runs on
                sealer = self.sealers[c.idx] = Sealer(c.spec["seal"])
            due = start + int(i * interval)
            frames.append(sealer.frame(make_cmid(due, salt + i), due // 1_000_000, plaintext))
        if now_ns() > start:
            self.log(f"sealing {n} envelopes took {time.perf_counter() - t0:.1f}s: started late")
        return frames

    @staticmethod
    def _drained(rec: Recorder, expected: int, receivers: int, per_message: bool) -> bool:
        if len(rec.acked) < len(rec.sent):
            return False
        if receivers == 0:
            return True
        if per_message:
            pm = rec.per_message or {}
            return len(pm) >= expected and all(len(v) >= receivers for v in pm.values())
        return len(rec.received) >= expected

    async def ping_all(self, timeout_s: float) -> dict[str, Any]:
        self.pongs.clear()
        sent: dict[int, int] = {}
        for c in self.conns:
            if c.ws is None:
                continue
            sent[c.idx] = now_ns()
            with contextlib.suppress(ConnectionClosed):
                await c.ws.send(f'{{"type":"ping","ref":"{c.idx}"}}')
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:  # bounded poll of a counter the readers fill
            if len(self.pongs) >= len(sent):
                break
            await asyncio.sleep(0.02)
        rtts = sorted((self.pongs[i] - t0) / 1e6 for i, t0 in sent.items() if i in self.pongs)
        return {"pinged": len(sent), "answered": len(rtts), "rtts_ms": rtts}

    async def close_all(self) -> None:
        async def close(c: Conn) -> None:
            if c.ws is not None:
                with contextlib.suppress(TimeoutError, ConnectionClosed, OSError):
                    await asyncio.wait_for(c.ws.close(), 3)

        sem = asyncio.Semaphore(500)

        async def bounded(c: Conn) -> None:
            async with sem:
                await close(c)

        await asyncio.gather(*(bounded(c) for c in self.conns))

    async def main(self) -> None:
        loop = asyncio.get_running_loop()
        limits = httpx.Limits(max_connections=CONNECT_CONCURRENCY)
        async with httpx.AsyncClient(timeout=30, limits=limits) as http:
            self.http = http
            while True:
                cmd, args = await loop.run_in_executor(None, self.pipe.recv)
                if cmd == "grow":
                    out: Any = await self.grow(args["target"], args.get("deadline_s", 600))
                elif cmd == "send":
                    out = await self.send_step(args)
                elif cmd == "ping_all":
                    out = await self.ping_all(args.get("timeout_s", 30))
                elif cmd == "status":
                    out = {
                        "open": len(self.conns) - self.closed,
                        "errors": self.errors,
                        "presence_frames": self.presence_frames,
                        "echoes": self.echoes,
                    }
                elif cmd == "close":
                    await self.close_all()
                    self.pipe.send({"closed": True})
                    return
                else:
                    out = {"error": f"unknown command {cmd}"}
                self.pipe.send(out)


def generator_main(spec: dict[str, Any], pipe: Pipe) -> None:
    """Entry point of a generator process (multiprocessing target)."""
    set_nofile_max()
    pin(set(spec.get("cpus", ())))
    if spec.get("kind") == "storm":
        from bench.storm_gen import StormGenerator

        asyncio.run(StormGenerator(spec, pipe).main())
        return
    asyncio.run(Generator(spec, pipe).main())
