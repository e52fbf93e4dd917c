"""A storm generator process: sockets that behave like real clients through a restart.

Each socket keeps itself connected the way the SDK does (src/hushroom/client/realtime.py): on a
close it waits (the SDK's `Backoff`, equal jitter, or a server hint), fetches a fresh ticket,
connects, authenticates, sends `resume` with its positions and re-sends every send not yet
acknowledged (same client message id, so nothing is stored twice). On `sync.stale` it sends
`resume` at a random moment within the frame's `within_ms`. Positions are per conversation: the
highest seq up to which it has every message (a hole keeps the position below it, so a resume
backfills the hole); a `sync.gap` is fetched over HTTP.

A socket counts as *resumed* once a `sync.done` answers a `resume` it sent after the last thing
that made it need one (a reconnect, a `sync.stale`) since the coordinator's mark.

Background load: DM senders send open loop at a total rate (sealed as their device would, on the
fly); a send scheduled while its socket is down waits in the outbox, as in a client. A message
is *lost* when it was acknowledged but its receiver never got it, live or by a resume.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from collections import Counter
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
)
from hushroom.client.pacing import Backoff, restart_spread_s
from hushroom.gateway.protocol import CLOSE_SERVICE_RESTART

CONNECT_CONCURRENCY = 64
# Reconnects (ticket + handshake + auth) one generator process has in flight at once. Real
# clients each bring their own connection; one Python process holding thousands of requests in
# one httpx pool spends its core on the pool's bookkeeping (a full run with 9,750 sockets
# reconnecting at once left the generators at 100 % CPU and the nodes idle). 512 in flight per
# generator is still far more than a node answers at once.
RECONNECTS_IN_FLIGHT = 512


class Track:
    """One conversation's position: every seq up to `pos` is here; `above` holds later ones."""

    __slots__ = ("above", "pos")

    def __init__(self, pos: int) -> None:
        self.pos = pos
        self.above: set[int] = set()

    def add(self, seq: int) -> None:
        if seq <= self.pos:
            return
        self.above.add(seq)
        while self.pos + 1 in self.above:
            self.above.discard(self.pos + 1)
            self.pos += 1


class SConn:
    __slots__ = (
        "affected_ns",
        "backoff",
        "closed_ns",
        "connects",
        "conv",
        "idx",
        "outbox",
        "outstanding",
        "positions",
        "ready",
        "resume_due",
        "resume_sent_ns",
        "resumed_ns",
        "role",
        "sealer",
        "sent_ids",
        "spec",
        "stale_ns",
        "task",
        "ws",
    )

    def __init__(self, idx: int, spec: dict[str, Any]) -> None:
        self.idx = idx
        self.spec = spec
        self.role: str = spec.get("role", "idle")
        self.conv: str | None = spec.get("conv")
        self.ws: ClientConnection | None = None
        self.task: asyncio.Task[None] | None = None
        self.ready = False
        self.connects = 0
        self.positions = {c: Track(int(s)) for c, s in (spec.get("positions") or {}).items()}
        self.outbox: dict[str, str] = {}  # client message id → frame, until acknowledged
        self.sent_ids: list[str] = []
        self.sealer = Sealer(spec["seal"]) if spec.get("seal") else None
        self.backoff = Backoff()
        self.affected_ns = 0
        self.resume_sent_ns = 0
        self.resumed_ns = 0
        self.stale_ns = 0  # the last `sync.stale` received
        self.closed_ns = 0
        self.outstanding = 0
        self.resume_due: asyncio.TimerHandle | None = None


class StormGenerator:
    def __init__(self, spec: dict[str, Any], pipe: Pipe) -> None:
        self.name = spec["name"]
        self.pipe = pipe
        self.conns = [SConn(i, s) for i, s in enumerate(spec["conns"])]
        self._reconnecting = asyncio.Semaphore(RECONNECTS_IN_FLIGHT)
        self.spread_s: float = spec.get("reconnect_spread_s") or 0.0
        self.http: httpx.AsyncClient | None = None
        self.stopping = False
        self.rng = random.Random(os.getpid())
        self.mark_ns = 0
        self.closes: Counter[int] = Counter()
        self.reconnects = 0
        self.connect_failures: Counter[str] = Counter()
        self.presence = 0
        self.stale = 0
        self.gaps = 0
        self.errors: Counter[str] = Counter()
        self.error_samples: list[str] = []
        self.first_ready = 0
        # Reconnects since the mark, in ms: (waited after the close, ticket, WebSocket open,
        # auth → ready), and resume → sync.done.
        self.reconnect_ms: list[tuple[float, float, float, float]] = []
        self.resume_rtt_ms: list[float] = []
        # The load: client message id → scheduled ns; acknowledged; received by the receiver.
        self.sent: dict[str, int] = {}
        self.acked: set[str] = set()
        self.received: dict[str, float] = {}
        self.duplicates = 0
        self.load_task: asyncio.Task[None] | None = None
        self.load_stop = False

    def log(self, text: str) -> None:
        print(f"  [{self.name}] {text}", flush=True)

    # -- frames -------------------------------------------------------------------------------
    def on_frame(self, c: SConn, raw: str | bytes) -> None:
        t = now_ns()
        text = raw.decode() if isinstance(raw, bytes) else raw
        if text.startswith('{"type":"presence",'):
            self.presence += 1
            return
        frame = orjson.loads(text)
        kind = frame.get("type")
        if kind == "message.new":
            m = frame["message"]
            self._position(c, m["conversation_id"]).add(int(m["seq"]))
            if c.role == "recv":
                self._received(m.get("client_msg_id"), t)
        elif kind == "message.ack":
            cmid = frame["client_msg_id"]
            c.outbox.pop(cmid, None)
            if cmid in self.sent:
                self.acked.add(cmid)
            self._position(c, frame["conversation_id"]).add(int(frame["seq"]))
        elif kind == "sync.done":
            c.outstanding = max(0, c.outstanding - 1)
            if c.outstanding == 0 and c.resume_sent_ns >= c.affected_ns:
                c.resumed_ns = t
                if c.affected_ns >= self.mark_ns > 0:
                    self.resume_rtt_ms.append((t - c.resume_sent_ns) / 1e6)
        elif kind == "sync.stale":
            self.stale += 1
            c.affected_ns = c.stale_ns = t
            within = frame.get("within_ms")
            spread = within / 1000 if isinstance(within, int) and 0 < within <= 60_000 else 0.0
            if c.resume_due is None:  # one resume answers every stale before it
                loop = asyncio.get_running_loop()
                c.resume_due = loop.call_later(self.rng.uniform(0, spread), self._resume_soon, c)
        elif kind == "sync.gap":
            self.gaps += 1
            asyncio.get_running_loop().create_task(self._fill_gap(c, frame))
        elif kind == "error":
            code = str(frame.get("code"))
            self.errors[code] += 1
            if len(self.error_samples) < 5:
                self.error_samples.append(text[:300])

    def _position(self, c: SConn, conv: str) -> Track:
        track = c.positions.get(conv)
        if track is None:
            track = c.positions[conv] = Track(0)
        return track

    def _received(self, cmid: str | None, t: int) -> None:
        if cmid is None or cmid not in self.sent:
            return
        if cmid in self.received:
            self.duplicates += 1
            return
        self.received[cmid] = (t - cmid_time(cmid)) / 1e6

    async def _fill_gap(self, c: SConn, frame: dict[str, Any]) -> None:
        """`sync.gap`: page `(after_seq, last_seq]` over HTTP, as the SDK does."""
        conv = frame["conversation_id"]
        after, last = int(frame["after_seq"]), int(frame["last_seq"])
        assert self.http is not None
        headers = {"Authorization": f"Bearer {c.spec['token']}"}
        while after < last:
            r = await self.http.get(
                f"{c.spec['base_url']}/api/v1/conversations/{conv}/messages",
                params={"after": after, "limit": 200},
                headers=headers,
            )
            page = (r.json().get("messages") or []) if r.status_code == 200 else []
            if not page:
                return
            t = now_ns()
            for m in page:
                self._position(c, conv).add(int(m["seq"]))
                if c.role == "recv":
                    self._received(m.get("client_msg_id"), t)
            after = int(page[-1]["seq"])

    # -- resume -------------------------------------------------------------------------------
    def _resume_soon(self, c: SConn) -> None:
        c.resume_due = None
        asyncio.get_running_loop().create_task(self._resume(c))

    async def _resume(self, c: SConn) -> None:
        ws = c.ws
        if ws is None or not c.ready:
            return  # the reconnect will resume
        positions = {conv: t.pos for conv, t in c.positions.items()}
        c.resume_sent_ns = now_ns()
        c.outstanding += 1
        try:
            await ws.send(orjson.dumps({"type": "resume", "positions": positions}).decode())
        except ConnectionClosed:
            c.outstanding -= 1

    # -- connection life ----------------------------------------------------------------------
    async def _open(self, c: SConn) -> None:
        assert self.http is not None
        t0 = now_ns()
        ticket = await fetch_ticket(self.http, c.spec["base_url"], c.spec["token"])
        t1 = now_ns()
        ws, t2 = await open_authed(c.spec["ws_url"], ticket, max_size=2**22)
        c.ws = ws
        c.ready = True
        c.connects += 1
        c.backoff.reset()
        if c.connects > 1:
            self.reconnects += 1
            c.affected_ns = t3 = now_ns()
            if c.closed_ns >= self.mark_ns > 0:
                self.reconnect_ms.append(
                    ((t0 - c.closed_ns) / 1e6, (t1 - t0) / 1e6, (t2 - t1) / 1e6, (t3 - t2) / 1e6)
                )
        await self._resume(c)
        for frame in list(c.outbox.values()):  # the outbox, as the SDK re-sends pending sends
            await ws.send(frame)

    async def _life(self, c: SConn, first: asyncio.Semaphore) -> None:
        """Connect, read until closed, wait, reconnect; until the generator stops."""
        delay = 0.0
        while not self.stopping:
            if delay:
                await asyncio.sleep(delay)
            try:
                if c.connects == 0:
                    async with first:
                        await self._open(c)
                    self.first_ready += 1
                else:
                    async with self._reconnecting:
                        await self._open(c)
            except Exception as exc:  # counted; retried with the SDK's backoff
                self.connect_failures[f"{type(exc).__name__}: {str(exc)[:60]}"] += 1
                delay = c.backoff.next()
                continue
            ws = c.ws
            assert ws is not None
            try:
                async for raw in ws:
                    self.on_frame(c, raw)
            except ConnectionClosed:
                pass
            c.ready = False
            c.ws = None
            if c.resume_due is not None:
                c.resume_due.cancel()
                c.resume_due = None
            c.outstanding = 0
            if self.stopping:
                return
            code = ws.close_code if ws.close_code is not None else 1006
            self.closes[code] += 1
            c.affected_ns = c.closed_ns = now_ns()
            delay = self._reconnect_delay(c, code, ws.close_reason or "")

    def _reconnect_delay(self, c: SConn, code: int, reason: str) -> float:
        hint = restart_spread_s(code, reason)
        if hint is not None:  # the restarting server said how to spread the reconnects
            return self.rng.uniform(0, hint)
        if code == CLOSE_SERVICE_RESTART and self.spread_s > 0:
            return self.rng.uniform(0, self.spread_s)
        return c.backoff.next()

    async def grow(self, deadline_s: float) -> dict[str, Any]:
        first = asyncio.Semaphore(CONNECT_CONCURRENCY)
        t0 = time.monotonic()
        for c in self.conns:
            c.task = asyncio.create_task(self._life(c, first))
        last = t0
        while self.first_ready < len(self.conns) and time.monotonic() - t0 < deadline_s:
            await asyncio.sleep(0.2)
            if time.monotonic() - last > 5:
                last = time.monotonic()
                self.log(f"connected {self.first_ready}/{len(self.conns)}")
        elapsed = time.monotonic() - t0
        return {
            "connected": self.first_ready,
            "elapsed_s": round(elapsed, 1),
            "rate_per_s": round(self.first_ready / elapsed, 1) if elapsed else None,
            "connect_failures": dict(self.connect_failures.most_common(5)),
        }

    # -- load ---------------------------------------------------------------------------------
    async def _load(self, rate: float) -> None:
        senders = [c for c in self.conns if c.role == "send" and c.sealer is not None]
        if not senders or rate <= 0:
            return
        plaintext = os.urandom(ENVELOPE_PLAINTEXT)
        interval = 1e9 / rate
        start = now_ns() + 100_000_000
        salt = self.rng.getrandbits(40) << 24
        i = 0
        while not self.load_stop:
            due = start + int(i * interval)
            now = now_ns()
            if due > now:
                await asyncio.sleep((due - now) / 1e9)
            c = senders[i % len(senders)]
            assert c.sealer is not None
            cmid = make_cmid(due, salt + i)
            frame = c.sealer.frame(cmid, due // 1_000_000, plaintext)
            self.sent[cmid] = due
            c.sent_ids.append(cmid)
            c.outbox[cmid] = frame
            ws = c.ws
            if ws is not None and c.ready:
                with contextlib.suppress(ConnectionClosed):
                    await ws.send(frame)
            i += 1

    async def stop_load(self, drain_s: float, phases: list[int]) -> dict[str, Any]:
        """Stop sending, drain, and count; latencies by the phase their send was due in
        (`phases`: the boundaries, e.g. [fault, everyone resumed])."""
        self.load_stop = True
        if self.load_task is not None:
            await self.load_task
        deadline = time.monotonic() + drain_s
        while time.monotonic() < deadline:
            if len(self.acked) == len(self.sent) and self.acked <= self.received.keys():
                break
            await asyncio.sleep(0.1)
        lat = sorted(self.received.values())
        # A message not received yet whose receiver is not back (not connected, or not resumed
        # since it was affected) is late, not lost: its resume has not run.
        receiver = {c.conv: c for c in self.conns if c.role == "recv"}
        conv_of = {cmid: c.conv for c in self.conns if c.role == "send" for cmid in c.sent_ids}
        missing = self.acked - self.received.keys()
        late = {
            m
            for m in missing
            if (r := receiver.get(conv_of.get(m))) is None
            or not r.ready
            or r.resumed_ns < r.affected_ns
        }
        by_phase: list[list[float]] = [[] for _ in range(len(phases) + 1)]
        for cmid, ms in self.received.items():
            due = self.sent[cmid]
            by_phase[sum(1 for b in phases if due >= b)].append(ms)
        return {
            "latencies_by_phase_ms": by_phase,
            "sent": len(self.sent),
            "acked": len(self.acked),
            "received": len(self.received),
            "lost": len(missing - late),
            "late_receiver_not_back": len(late),
            "unacked": len(self.sent) - len(self.acked),
            "duplicates": self.duplicates,
            "latencies_ms": lat,
        }

    # -- status -------------------------------------------------------------------------------
    def status(self, full: bool) -> dict[str, Any]:
        """`full`: with the per-socket times (large; the polls during a storm leave them out)."""
        mark = self.mark_ns
        affected = [c for c in self.conns if c.affected_ns >= mark > 0]
        resumed = [c for c in affected if c.resumed_ns >= c.affected_ns and c.ready]
        out = {
            "conns": len(self.conns),
            "ready": sum(1 for c in self.conns if c.ready),
            "affected": len(affected),
            "resumed": len(resumed),
            "resumed_all_ns": max((c.resumed_ns for c in resumed), default=0),
            "closes": {str(k): v for k, v in self.closes.items()},
            "reconnects": self.reconnects,
            "connect_failures": dict(self.connect_failures.most_common(5)),
            "presence_frames": self.presence,
            "stale_frames": self.stale,
            "gaps": self.gaps,
            "errors": dict(self.errors),
            "error_samples": self.error_samples[:3],
            "sent": len(self.sent),
            "acked": len(self.acked),
            "received": len(self.received),
        }
        if full:
            out["resumed_ns"] = sorted(c.resumed_ns for c in resumed)
            out["reconnect_ms"] = self.reconnect_ms
            out["resume_rtt_ms"] = self.resume_rtt_ms
            out["stale_ns"] = sorted(c.stale_ns for c in self.conns if c.stale_ns >= mark > 0)
        return out

    def mark(self, mark_ns: int) -> None:
        """From now on, count closes, reconnects and resumes afresh."""
        self.mark_ns = mark_ns
        self.closes.clear()
        self.reconnects = 0
        self.connect_failures.clear()
        self.presence = self.stale = self.gaps = 0
        self.reconnect_ms = []
        self.resume_rtt_ms = []

    async def close_all(self) -> None:
        self.stopping = True
        sem = asyncio.Semaphore(500)

        async def one(c: SConn) -> None:
            async with sem:
                if c.ws is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(c.ws.close(), 3)
                if c.task is not None:
                    c.task.cancel()

        await asyncio.gather(*(one(c) for c in self.conns))

    async def main(self) -> None:
        loop = asyncio.get_running_loop()
        # No client-side cap that a fleet of real clients would not have: a reconnect storm's
        # ticket requests reach nginx and the nodes all at once.
        limits = httpx.Limits(max_connections=4096, max_keepalive_connections=CONNECT_CONCURRENCY)
        async with httpx.AsyncClient(timeout=30, limits=limits) as http:
            self.http = http
            while True:
                cmd, args = await loop.run_in_executor(None, self.pipe.recv)
                out: Any = {}
                if cmd == "grow":
                    out = await self.grow(args.get("deadline_s", 900))
                elif cmd == "load":
                    self.load_stop = False
                    self.load_task = asyncio.create_task(self._load(args["rate"]))
                elif cmd == "stop_load":
                    out = await self.stop_load(args.get("drain_s", 10), args.get("phases", []))
                elif cmd == "mark":
                    self.mark(args["mark_ns"])
                elif cmd == "status":
                    out = self.status(bool(args.get("full")))
                elif cmd == "close":
                    await self.close_all()
                    self.pipe.send({"closed": True})
                    return
                else:
                    out = {"error": f"unknown command {cmd}"}
                self.pipe.send(out)
