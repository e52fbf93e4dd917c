"""Storms: every socket of a node resuming at once, under a background DM load.

- `storm_redis`: one `hushroom serve` with Redis fan-out (a private redis-server), all sockets
  on it; Redis is SIGKILLed and restarted on the same port 2 s later. The node's subscriber
  reconnects and tells every local socket `sync.stale`; each resumes within the frame's
  `within_ms`. Figure: time from Redis answering again until the last socket has resumed.
- `storm_node`: two nodes + Redis behind nginx, the sockets spread over both by nginx; node A
  gets SIGTERM (its sockets are closed with 1012) and is started again on the same port.
  Figure: time from the SIGTERM until every socket that was on A has reconnected through nginx
  and resumed.

The clients behave as the SDK does (bench/storm_gen.py: reconnect backoff with jitter, resume
with positions, outbox re-sent), and the background DM load's acknowledged messages must all
reach their receivers (`lost`: 0). Each storm records the close codes seen (1013 = closed for
overload), the server CPU seconds from the fault until everyone resumed, and the presence and
`sync.stale` frames received meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
import uuid
from typing import Any

import httpx
import psutil

from bench import accounts
from bench.common import latency_summary, now_ns
from bench.coordinator import Gen, call_all
from bench.nginx import Nginx
from bench.scenarios import (
    PER_GENERATOR,
    STORM_SOCKETS_PER_USER,
    Context,
    _log,
    _start_profile,
)
from bench.servers import PrivateRedis, Server, hushroom_server

STEADY_S = 5.0
RESUME_TIMEOUT_S = 180.0
# After the storm: until every send is acknowledged and every acknowledged one received.
DRAIN_S = 60.0
CLOSE_OVERLOAD = "1013"


def _positions(base: str, users: list[dict[str, Any]]) -> list[dict[str, int]]:
    """Each user's conversations and their last seq: where a caught-up client resumes from."""

    async def run() -> list[dict[str, int]]:
        sem = asyncio.Semaphore(16)
        async with httpx.AsyncClient(timeout=60) as http:

            async def one(u: dict[str, Any]) -> dict[str, int]:
                async with sem:
                    r = await http.get(
                        f"{base}/api/v1/conversations",
                        headers={"Authorization": f"Bearer {u['token']}"},
                    )
                if r.status_code != 200:
                    raise RuntimeError(f"conversations: {r.status_code} {r.text[:200]}")
                return {str(c["id"]): int(c["last_seq"]) for c in r.json()}

            return list(await asyncio.gather(*(one(u) for u in users)))

    return asyncio.run(run())


def _specs(
    ctx: Context, base_url: str, ws_url: str, setup_url: str
) -> tuple[list[list[dict[str, Any]]], int]:
    """Per generator process: its DM pairs (sender and receiver in the same process, so it can
    tell what was lost) and its share of the idle sockets."""
    plan = ctx.plan
    n_pairs = plan.storm_pairs
    n_idle = plan.storm_sockets - 2 * n_pairs
    n_idle_users = -(-n_idle // STORM_SOCKETS_PER_USER)
    if 2 * n_pairs + n_idle_users > len(ctx.users):
        raise RuntimeError(
            f"storm: needs {2 * n_pairs + n_idle_users} users, have {len(ctx.users)}"
        )
    pair_users = ctx.users[: 2 * n_pairs]
    idle_users = ctx.users[2 * n_pairs : 2 * n_pairs + n_idle_users]
    pairs = [(pair_users[2 * i], pair_users[2 * i + 1]) for i in range(n_pairs)]
    _log(f"storm: opening {n_pairs} DMs; reading {len(pair_users) + len(idle_users)} positions")
    convs = accounts.open_dms(setup_url, pairs)
    positions = _positions(setup_url, pair_users + idle_users)
    pos_of = {u["user_id"]: p for u, p in zip(pair_users + idle_users, positions, strict=True)}

    def spec(u: dict[str, Any], role: str, conv: str | None = None, seal: Any = None) -> Any:
        return {
            "user_id": u["user_id"],
            "token": u["token"],
            "base_url": base_url,
            "ws_url": ws_url,
            "role": role,
            "conv": conv,
            "seal": seal,
            "positions": pos_of[u["user_id"]],
        }

    n_gens = -(-plan.storm_sockets // PER_GENERATOR)
    per_gen: list[list[dict[str, Any]]] = [[] for _ in range(n_gens)]
    for i, ((a, b), (conv, seal)) in enumerate(zip(pairs, convs, strict=True)):
        per_gen[i % n_gens] += [spec(a, "send", conv, seal), spec(b, "recv", conv)]
    for i in range(n_idle):
        per_gen[i % n_gens].append(spec(idle_users[i % len(idle_users)], "idle"))
    return per_gen, n_pairs


def _gens(ctx: Context, label: str, per_gen: list[list[dict[str, Any]]]) -> list[Gen]:
    return [
        Gen(
            f"{label}{g}",
            specs,
            ctx.gen_cpus,
            kind="storm",
            reconnect_spread_s=ctx.plan.storm_reconnect_spread_s,
        )
        for g, specs in enumerate(per_gen)
    ]


def _grow(gens: list[Gen], label: str) -> dict[str, Any]:
    res = call_all(gens, "grow", [{"deadline_s": 900}] * len(gens), 1000)
    connected = sum(r["connected"] for r in res)
    _log(f"{label}: {connected} sockets connected")
    return {
        "connected": connected,
        "connect_s": max(r["elapsed_s"] for r in res),
        "connect_failures": [r["connect_failures"] for r in res],
    }


def _start_load(gens: list[Gen], per_gen: list[list[dict[str, Any]]], rate: float) -> None:
    senders = [sum(1 for s in specs if s["role"] == "send") for specs in per_gen]
    total = sum(senders) or 1
    call_all(gens, "load", [{"rate": rate * n / total} for n in senders], 30)


def _status(gens: list[Gen], full: bool = False, timeout_s: float = 60) -> list[dict[str, Any]]:
    return call_all(gens, "status", [{"full": full}] * len(gens), timeout_s)


def _wait_resumed(
    gens: list[Gen], label: str, done: Any, timeout_s: float = RESUME_TIMEOUT_S
) -> tuple[list[dict[str, Any]], bool]:
    """Poll the generators until `done(statuses)` or the timeout."""
    deadline = time.monotonic() + timeout_s
    last = 0.0
    while True:
        # A generator swamped by its reconnecting sockets (it shares its core with the other
        # generator and nginx) answers late: wait for it up to the storm's own deadline rather
        # than abort the scenario, and say so.
        asked = time.monotonic()
        st = _status(gens, timeout_s=max(60.0, deadline - asked + 60.0))
        if time.monotonic() - asked > 5:
            _log(f"{label}: the generators answered after {time.monotonic() - asked:.1f}s")
        if done(st):
            return st, True
        if time.monotonic() > deadline:
            return st, False
        if time.monotonic() - last > 5:
            last = time.monotonic()
            _log(
                f"{label}: affected {sum(s['affected'] for s in st)}, resumed "
                f"{sum(s['resumed'] for s in st)}, ready {sum(s['ready'] for s in st)}/"
                f"{sum(s['conns'] for s in st)}, closes {_merge(st, 'closes')}"
            )
        time.sleep(0.5)


def _merge(statuses: list[dict[str, Any]], key: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in statuses:
        for k, v in s[key].items():
            out[k] = out.get(k, 0) + v
    return out


def _finish(st: list[dict[str, Any]], t0_ns: int, origin: str) -> dict[str, Any]:
    """The storm's figures from the generators' statuses; resume times from `t0_ns`."""
    resumed = sorted(x for s in st for x in s["resumed_ns"])
    rel = [(x - t0_ns) / 1e6 for x in resumed]
    stale = [(x - t0_ns) / 1e6 for s in st for x in s["stale_ns"]]
    closes = _merge(st, "closes")
    last = max((s["resumed_all_ns"] for s in st), default=0)
    return {
        "sockets": sum(s["conns"] for s in st),
        "affected": sum(s["affected"] for s in st),
        "resumed": sum(s["resumed"] for s in st),
        "not_resumed": sum(s["affected"] - s["resumed"] for s in st),
        "ready_at_end": sum(s["ready"] for s in st),
        f"all_resumed_s_after_{origin}": round((last - t0_ns) / 1e9, 2) if last else None,
        f"resume_ms_after_{origin}": latency_summary(rel),
        f"stale_received_ms_after_{origin}": latency_summary(stale),
        # Where a reconnect's time went (ms): from the close to the attempt that succeeded
        # (backoff and failed attempts), then its ticket over HTTP, WebSocket handshake and
        # auth → ready; and each resume's answer (resume → sync.done).
        "reconnect_ms": {
            name: latency_summary([r[i] for s in st for r in s["reconnect_ms"]])
            for i, name in enumerate(
                ("close_to_last_attempt", "ticket", "ws_open", "auth_to_ready")
            )
        },
        "resume_to_sync_done_ms": latency_summary([x for s in st for x in s["resume_rtt_ms"]]),
        "closes": closes,
        "closed_for_overload": closes.get(CLOSE_OVERLOAD, 0),
        "reconnects": sum(s["reconnects"] for s in st),
        "connect_failures": [s["connect_failures"] for s in st],
        "stale_frames": sum(s["stale_frames"] for s in st),
        "presence_frames": sum(s["presence_frames"] for s in st),
        "gaps": sum(s["gaps"] for s in st),
        "errors": _merge(st, "errors"),
        "error_samples": [x for s in st for x in s["error_samples"]][:3],
    }


def _stop_load(gens: list[Gen], phases: list[int]) -> dict[str, Any]:
    """`phases`: [fault, everyone resumed] (ns)."""
    res = call_all(
        gens, "stop_load", [{"drain_s": DRAIN_S, "phases": phases}] * len(gens), DRAIN_S + 90
    )
    lat = [x for r in res for x in r["latencies_ms"]]
    names = ("before_fault", "during_storm", "after_storm")
    return {
        "latency_by_phase": {
            name: latency_summary([x for r in res for x in r["latencies_by_phase_ms"][i]])
            for i, name in enumerate(names)
        },
        "sent": sum(r["sent"] for r in res),
        "acked": sum(r["acked"] for r in res),
        "received": sum(r["received"] for r in res),
        "lost": sum(r["lost"] for r in res),
        "late_receiver_not_back": sum(r["late_receiver_not_back"] for r in res),
        "unacked": sum(r["unacked"] for r in res),
        "duplicates_received": sum(r["duplicates"] for r in res),
        "latency": latency_summary(lat),
    }


# How long `--profile-rate` profiles a storm's server(s), from the fault on.
STORM_PROFILE_S = 60


def _profile(ctx: Context, server: Server, label: str) -> subprocess.Popen[bytes] | None:
    """py-spy on `server` while the storm runs (`--profile-rate` given), written next to the
    results as profile-<label>.folded.txt; `_stop_profile` ends it early."""
    if not ctx.profile_rate:
        return None
    return _start_profile(server.pid, STORM_PROFILE_S, ctx.out_dir / f"profile-{label}.folded.txt")


def _stop_profile(spies: list[subprocess.Popen[bytes] | None]) -> None:
    for spy in spies:
        if spy is not None and spy.poll() is None:
            spy.send_signal(signal.SIGINT)  # py-spy writes what it has on SIGINT
    for spy in spies:
        if spy is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                spy.wait(30)


def _cores() -> list[Any]:
    return list(psutil.cpu_times(percpu=True))


def _cores_busy_pct(before: list[Any], after: list[Any]) -> list[float]:
    """Each core's busy share between two `_cores()` samples: the server's core and the one
    the generators, PostgreSQL and Redis share (which of them limits a storm)."""
    out = []
    for b, a in zip(before, after, strict=True):
        total = sum(a) - sum(b)
        idle = (a.idle + getattr(a, "iowait", 0.0)) - (b.idle + getattr(b, "iowait", 0.0))
        out.append(round(100 * (total - idle) / total, 1) if total > 0 else 0.0)
    return out


def _close(gens: list[Gen]) -> None:
    for g in gens:
        g.close()


def storm_redis(ctx: Context) -> dict[str, Any]:
    plan = ctx.plan
    redis = PrivateRedis(ctx.out_dir, set(range(os.cpu_count() or 1)))
    redis.start()
    prefix = f"bench{uuid.uuid4().hex[:6]}:"
    server: Server | None = None
    gens: list[Gen] = []
    try:
        server = ctx.server(
            "storm-redis", HUSHROOM_REDIS_URL=redis.url, HUSHROOM_REDIS_PREFIX=prefix
        )
        per_gen, n_pairs = _specs(ctx, server.base_url, server.ws_url, server.base_url)
        gens = _gens(ctx, "storm-redis", per_gen)
        grown = _grow(gens, "storm_redis")
        _start_load(gens, per_gen, plan.storm_rate)
        time.sleep(STEADY_S)
        mark = now_ns()
        call_all(gens, "mark", [{"mark_ns": mark}] * len(gens), 30)
        cpu0 = server.sample()["cpu_s"]
        cores0 = _cores()
        _log(f"storm_redis: SIGKILL redis (port {redis.port}); restart in 2 s")
        spy = _profile(ctx, server, "storm_redis")
        redis.kill()
        t_kill = now_ns()
        time.sleep(2.0)
        redis.start()
        t_restart = now_ns()
        _log(f"storm_redis: redis back after {(t_restart - t_kill) / 1e9:.1f}s")
        total = sum(len(s) for s in per_gen)
        _, ok = _wait_resumed(
            gens,
            "storm_redis",
            lambda st: (
                sum(s["resumed"] for s in st) >= total and sum(s["ready"] for s in st) >= total
            ),
        )
        cpu1 = server.sample()["cpu_s"]
        cores1 = _cores()
        t_end = now_ns()
        _stop_profile([spy])
        time.sleep(STEADY_S)  # the load goes on after the storm
        load = _stop_load(gens, [t_kill, t_end])
        final = _status(gens, full=True)
        out = _finish(final, t_restart, "restart")
        out.update(
            {
                "all_resumed_within_timeout": ok,
                "redis_down_s": round((t_restart - t_kill) / 1e9, 2),
                "server_cpu_s_storm": round(cpu1 - cpu0, 3),
                "storm_wall_s": round((t_end - t_kill) / 1e9, 2),
                "server_cpu_pct_storm": round(100 * (cpu1 - cpu0) / ((t_end - t_kill) / 1e9), 1),
                "cores_busy_pct_storm": _cores_busy_pct(cores0, cores1),
                "server_rss_mb": round(server.sample()["rss"] / 2**20, 1),
                "grow": grown,
                "pairs": n_pairs,
                "load_rate": plan.storm_rate,
                "load": load,
                "reconnect_policy": _policy(ctx),
            }
        )
        _log(f"storm_redis: {_line(out, 'restart')}")
        return out
    finally:
        _close(gens)
        if server is not None:
            server.stop()
        redis.stop()


def storm_node(ctx: Context) -> dict[str, Any]:
    plan = ctx.plan
    all_cpus = set(range(os.cpu_count() or 1))
    redis = PrivateRedis(ctx.out_dir, all_cpus)
    redis.start()
    prefix = f"bench{uuid.uuid4().hex[:6]}:"
    env = {"HUSHROOM_REDIS_URL": redis.url, "HUSHROOM_REDIS_PREFIX": prefix}
    servers: list[Server] = []
    nginx: Nginx | None = None
    gens: list[Gen] = []
    try:
        a = ctx.server("storm-node-a", **env)
        servers.append(a)
        b = ctx.server("storm-node-b", **env)
        servers.append(b)
        nginx = Nginx(ctx.out_dir / "nginx", [a.port, b.port], ctx.gen_cpus)
        nginx.start()
        per_gen, n_pairs = _specs(ctx, nginx.base_url, nginx.ws_url, a.base_url)
        gens = _gens(ctx, "storm-node", per_gen)
        grown = _grow(gens, "storm_node")
        # Sockets per node, by open descriptors (the rest: listener, database, Redis, log).
        grown["node_fds"] = [a.sample()["fds"], b.sample()["fds"]]
        _start_load(gens, per_gen, plan.storm_rate)
        time.sleep(STEADY_S)
        mark = now_ns()
        call_all(gens, "mark", [{"mark_ns": mark}] * len(gens), 30)
        a_cpu0, b_cpu0 = a.sample()["cpu_s"], b.sample()["cpu_s"]
        cores0 = _cores()
        _log("storm_node: SIGTERM node A")
        assert a.proc is not None
        spies = [_profile(ctx, b, "storm_node-b")]
        t_term = now_ns()
        a.proc.send_signal(signal.SIGTERM)
        a_cpu_last = a_cpu0
        deadline = time.monotonic() + 30
        while a.proc.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                a_cpu_last = a.sample()["cpu_s"]
            time.sleep(0.1)
        if a.proc.poll() is None:
            a.proc.kill()
            a.proc.wait(5)
        t_exit = now_ns()
        _log(f"storm_node: node A exited after {(t_exit - t_term) / 1e9:.1f}s; restarting")
        a2 = hushroom_server(
            "storm-node-a-restarted",
            ctx.database_url,
            ctx.out_dir,
            ctx.server_cpus,
            port=a.port,
            **env,
        )
        servers.append(a2)
        a2.start(timeout=300)  # a loaded machine: the start-up alone took 22 s here
        t_ready = now_ns()
        _log(f"storm_node: node A ready again {(t_ready - t_term) / 1e9:.1f}s after SIGTERM")
        spies.append(_profile(ctx, a2, "storm_node-a"))
        total = sum(len(s) for s in per_gen)

        def done(st: list[dict[str, Any]]) -> bool:
            affected = sum(s["affected"] for s in st)
            return (
                affected > 0
                and sum(s["resumed"] for s in st) >= affected
                and sum(s["ready"] for s in st) >= total
            )

        _, ok = _wait_resumed(gens, "storm_node", done)
        cores1 = _cores()
        t_end = now_ns()
        _stop_profile(spies)
        b_cpu1, a2_cpu = b.sample()["cpu_s"], a2.sample()["cpu_s"]
        cpu = (a_cpu_last - a_cpu0) + (b_cpu1 - b_cpu0) + a2_cpu
        node_fds_after = [a2.sample()["fds"], b.sample()["fds"]]
        time.sleep(STEADY_S)
        load = _stop_load(gens, [t_term, t_end])
        final = _status(gens, full=True)
        out = _finish(final, t_term, "sigterm")
        last = max((s["resumed_all_ns"] for s in final), default=0)
        out.update(
            {
                "all_resumed_within_timeout": ok,
                "all_resumed_s_after_node_ready": round((last - t_ready) / 1e9, 2)
                if last
                else None,
                "node_exit_s": round((t_exit - t_term) / 1e9, 2),
                "node_ready_s": round((t_ready - t_term) / 1e9, 2),
                "server_cpu_s_storm": round(cpu, 3),
                "server_cpu_s_storm_each": {
                    "a_shutdown": round(a_cpu_last - a_cpu0, 3),
                    "a_restarted_incl_startup": round(a2_cpu, 3),
                    "b": round(b_cpu1 - b_cpu0, 3),
                },
                "storm_wall_s": round((t_end - t_term) / 1e9, 2),
                "cores_busy_pct_storm": _cores_busy_pct(cores0, cores1),
                "node_fds_after": node_fds_after,
                "grow": grown,
                "pairs": n_pairs,
                "load_rate": plan.storm_rate,
                "load": load,
                "nginx_workers": nginx.workers,
                "reconnect_policy": _policy(ctx),
            }
        )
        _log(f"storm_node: {_line(out, 'sigterm')}")
        return out
    finally:
        _close(gens)
        for s in servers:
            s.stop()
        if nginx is not None:
            nginx.stop()
        redis.stop()


def _policy(ctx: Context) -> str:
    spread = ctx.plan.storm_reconnect_spread_s
    sdk = "the SDK's Backoff (0.25 s·2ⁿ capped at 5 s, equal jitter)"
    if spread > 0:
        return f"after close 1012 uniform(0, {spread} s), otherwise {sdk}"
    return sdk + "; after a 1012, uniform(0, its reconnect_within_ms hint) as the SDK does"


def _line(out: dict[str, Any], origin: str) -> str:
    load = out["load"]
    return (
        f"{out['resumed']}/{out['affected']} resumed, last "
        f"{out[f'all_resumed_s_after_{origin}']} s after {origin}; closes {out['closes']}; "
        f"lost {load['lost']}, unacked {load['unacked']} of {load['sent']}; server CPU "
        f"{out['server_cpu_s_storm']} s; presence {out['presence_frames']}, stale "
        f"{out['stale_frames']}"
    )
