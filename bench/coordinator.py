"""Coordinator side: generator process handles and measured steps (server CPU, RSS, load)."""

from __future__ import annotations

import multiprocessing as mp
import time
from collections.abc import Callable
from typing import Any

import psutil

from bench.common import loadavg
from bench.generator import generator_main
from bench.servers import Server


class Gen:
    """One generator process, driven over a pipe."""

    def __init__(
        self,
        name: str,
        conns: list[dict[str, Any]],
        cpus: set[int],
        compression: str | None = None,
        **extra: Any,
    ) -> None:
        """`extra`: more of the process's spec, e.g. `kind="storm"` (bench/storm_gen.py)."""
        ctx = mp.get_context("spawn")
        self.name = name
        self.pipe, child = ctx.Pipe()
        spec = {
            "name": name,
            "conns": conns,
            "cpus": sorted(cpus),
            "compression": compression,
            **extra,
        }
        self.proc = ctx.Process(target=generator_main, args=(spec, child), daemon=True)
        self.proc.start()
        self.size = len(conns)

    def send(self, cmd: str, args: dict[str, Any] | None = None) -> None:
        self.pipe.send((cmd, args or {}))

    def recv(self, timeout: float) -> Any:
        if not self.pipe.poll(timeout):
            raise TimeoutError(f"{self.name}: no answer in {timeout:.0f}s")
        return self.pipe.recv()

    def cpu_s(self) -> float:
        try:
            t = psutil.Process(self.proc.pid).cpu_times()
            return t.user + t.system
        except psutil.Error:
            return 0.0

    def close(self) -> None:
        if self.proc.is_alive():
            try:
                self.send("close")
                self.recv(60)
            except (TimeoutError, OSError, EOFError):
                pass
            self.proc.join(10)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)


def call_all(gens: list[Gen], cmd: str, args: list[dict[str, Any]], timeout: float) -> list[Any]:
    for g, a in zip(gens, args, strict=True):
        g.send(cmd, a)
    deadline = time.monotonic() + timeout
    return [g.recv(max(1.0, deadline - time.monotonic())) for g in gens]


def measure(
    servers: list[Server], gens: list[Gen], fn: Callable[[], Any]
) -> tuple[Any, dict[str, Any]]:
    """Run `fn` and report what the servers, the generators and the machine spent meanwhile."""
    load_before = loadavg()
    cores_before = psutil.cpu_times(percpu=True)
    before = [s.sample() for s in servers]
    gen_before = [g.cpu_s() for g in gens]
    t0 = time.monotonic()
    out = fn()
    wall = time.monotonic() - t0
    after = [s.sample() for s in servers]
    gen_after = [g.cpu_s() for g in gens]
    cores_after = psutil.cpu_times(percpu=True)
    busy = []
    for b, a in zip(cores_before, cores_after, strict=True):
        total = sum(a) - sum(b)
        idle = (a.idle + getattr(a, "iowait", 0.0)) - (b.idle + getattr(b, "iowait", 0.0))
        busy.append(round(100.0 * (1 - idle / total), 1) if total > 0 else None)
    info = {
        "wall_s": round(wall, 3),
        "server_cpu_s": round(
            sum(a["cpu_s"] - b["cpu_s"] for a, b in zip(after, before, strict=True)), 4
        ),
        "server_cpu_s_each": [
            round(a["cpu_s"] - b["cpu_s"], 4) for a, b in zip(after, before, strict=True)
        ],
        "server_rss_mb": [round(a["rss"] / 2**20, 1) for a in after],
        "server_fds": [a["fds"] for a in after],
        "generator_cpu_s": round(sum(a - b for a, b in zip(gen_after, gen_before, strict=True)), 3),
        "core_busy_pct": busy,
        "loadavg_before": load_before,
        "loadavg_after": loadavg(),
    }
    return out, info
