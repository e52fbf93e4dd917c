"""The scenarios: idle connections, DMs (Hushroom with real envelopes, its plaintext twin and the
transport baseline), a public room and cross-node DMs. Each returns a JSON-ready dict; every loop
is bounded in count and time."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import accounts
from bench.common import envelope_bytes, latency_summary, now_ns, seal_seconds
from bench.coordinator import Gen, call_all, measure
from bench.servers import REDIS_URL, Server, baseline_server, hushroom_server

# Connections one generator process holds at most (its open-file cap is 20,000 here).
PER_GENERATOR = 9_900


@dataclass
class Plan:
    quick: bool
    idle_levels: list[int]
    dm_rates: list[int]
    dm_duration: float
    room_members: int
    room_rates: list[int]
    room_duration: float
    cross_rates: list[int]
    idle_window: float
    users: int
    # 100 sender sockets, one DM each (issue 17: pipelined sends), total msg/s.
    senders100_rates: list[int] = field(default_factory=lambda: [500, 2_000])
    # One DM a second on an idle server, for this long.
    lone_duration: float = 10.0
    # The DM ladder on the gateway's fallback path (plain ASGI sends).
    fallback_rates: list[int] = field(default_factory=lambda: [500, 2_000])
    # Storms: sockets in all (DM pairs included), background DM load and its pairs.
    storm_sockets: int = 2_000
    storm_rate: int = 100
    storm_pairs: int = 50
    # > 0: storm clients reconnect after a close 1012 at uniform(0, this) seconds instead of
    # the SDK's backoff.
    storm_reconnect_spread_s: float = 0.0
    drain_s: float = 5.0

    @staticmethod
    def make(quick: bool) -> Plan:
        if quick:
            return Plan(
                quick=True,
                idle_levels=[1_000, 5_000],
                dm_rates=[100, 200, 500],
                dm_duration=8.0,
                room_members=200,
                room_rates=[1, 10, 50],
                room_duration=6.0,
                cross_rates=[500],
                idle_window=5.0,
                users=260,
            )
        return Plan(
            quick=False,
            idle_levels=[1_000, 5_000, 10_000, 19_500],
            dm_rates=[500, 1_000, 2_000, 3_000, 4_000, 5_000],
            dm_duration=20.0,
            room_members=1_000,
            room_rates=[1, 10, 50],
            room_duration=20.0,
            cross_rates=[500, 1_000, 2_000],
            idle_window=25.0,
            users=1_002,
            senders100_rates=[1_000, 2_000, 3_000, 4_000, 5_000, 6_000, 8_000],
            lone_duration=30.0,
            fallback_rates=[500, 1_000, 2_000, 3_000, 4_000],
            storm_sockets=19_500,
            storm_rate=200,
            storm_pairs=200,
        )


@dataclass
class Context:
    plan: Plan
    out_dir: Path
    database_url: str
    server_cpus: set[int]
    gen_cpus: set[int]
    users: list[dict[str, Any]] = field(default_factory=list)
    profile_rate: int | None = None

    def server(self, name: str, module: str = "hushroom.cli", **env: str) -> Server:
        s = hushroom_server(
            name, self.database_url, self.out_dir, self.server_cpus, module=module, **env
        )
        s.start()
        return s


# Idle storm sockets per user at most (the bench server allows 50 per user).
STORM_SOCKETS_PER_USER = 40


def users_needed(plan: Plan, chosen: list[str]) -> int:
    """Accounts to register for the chosen scenarios."""
    if "idle" in chosen:
        return plan.users
    need = [2]
    if {"dm", "dm_plain", "dm_fallback", "crossnode"} & set(chosen):
        need.append(min(plan.users, 2 * _pairs(plan.users, plan.dm_rates)))
    if "dm_fallback" in chosen:
        need.append(min(plan.users, 2 * _pairs(plan.users, plan.fallback_rates)))
    if "dm_senders100" in chosen:
        need.append(200)
    if "room" in chosen:
        need.append(plan.room_members)
    if {"storm_redis", "storm_node"} & set(chosen):
        idle = plan.storm_sockets - 2 * plan.storm_pairs
        need.append(2 * plan.storm_pairs + -(-idle // STORM_SOCKETS_PER_USER))
    return max(need)


def _log(text: str) -> None:
    print(text, flush=True)


def _conn(
    server: Server,
    user: dict[str, Any],
    role: str = "idle",
    conv: str | None = None,
    seal: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "user_id": user["user_id"],
        "token": user.get("token"),
        "base_url": server.base_url,
        "ws_url": server.ws_url,
        "role": role,
        "conv": conv,
        # A sender into a DM: its device's key and the DM's conversation key, to seal real
        # envelopes (the server refuses anything else, decision 0005).
        "seal": seal,
    }


# -- idle -----------------------------------------------------------------------------------------
def idle(ctx: Context) -> dict[str, Any]:
    plan = ctx.plan
    top = max(plan.idle_levels)
    server = ctx.server("idle")
    steps: list[dict[str, Any]] = []
    try:
        time.sleep(1.0)
        rss0 = server.sample()["rss"]
        n_gens = -(-top // PER_GENERATOR)
        specs = [_conn(server, ctx.users[i % len(ctx.users)]) for i in range(top)]
        gens = [Gen(f"idle{g}", specs[g::n_gens], ctx.gen_cpus) for g in range(n_gens)]
        try:
            for level in plan.idle_levels:
                _log(f"idle: growing to {level} connections")
                targets = [len(range(g, level, n_gens)) for g in range(n_gens)]
                grown, info = measure(
                    [server],
                    gens,
                    lambda targets=targets: call_all(
                        gens, "grow", [{"target": t, "deadline_s": 900} for t in targets], 1000
                    ),
                )
                opened = sum(r["open_now"] for r in grown)
                elapsed = max(r["elapsed_s"] for r in grown)
                added = sum(r["opened"] for r in grown)
                time.sleep(1.0)
                _log(f"idle: {opened} open; idle window {plan.idle_window:.0f}s")
                _, idle_info = measure([server], gens, lambda: time.sleep(plan.idle_window))
                rss = server.sample()["rss"]
                _log("idle: ping all")
                pings, ping_info = measure(
                    [server],
                    gens,
                    lambda: call_all(gens, "ping_all", [{"timeout_s": 60}] * n_gens, 120),
                )
                rtts = sorted(x for r in pings for x in r["rtts_ms"])
                step = {
                    "connections": opened,
                    "target": level,
                    "failed": sum(r["failed"] for r in grown),
                    "failure_samples": [s for r in grown for s in r["failure_samples"]][:5],
                    "presence_frames_during_connect": sum(
                        r.get("presence_frames", 0) for r in grown
                    ),
                    "connect_rate_per_s": round(added / elapsed, 1) if elapsed else None,
                    "connect_p50_ms": grown[0]["connect_p50_ms"],
                    "connect_p99_ms": grown[0]["connect_p99_ms"],
                    "connect_step": info,
                    "server_rss_mb": round(rss / 2**20, 1),
                    "server_rss_base_mb": round(rss0 / 2**20, 1),
                    "rss_per_connection_kb": round((rss - rss0) / 1024 / opened, 2)
                    if opened
                    else None,
                    "idle_cpu_pct": round(100 * idle_info["server_cpu_s"] / idle_info["wall_s"], 2),
                    "idle_step": idle_info,
                    "ping_all": {
                        "pinged": sum(r["pinged"] for r in pings),
                        "answered": len(rtts),
                        "all_answered_ms": rtts[-1] if rtts else None,
                        **latency_summary(rtts),
                        "step": ping_info,
                    },
                }
                _log(
                    f"idle: {opened} conns, {step['rss_per_connection_kb']} KB/conn, "
                    f"connect {step['connect_rate_per_s']}/s, idle CPU {step['idle_cpu_pct']}%, "
                    f"ping-all p99 {step['ping_all']['p99_ms']} ms"
                )
                steps.append(step)
                if opened < level * 0.95:
                    _log("idle: could not open the level; stopping the ladder")
                    break
        finally:
            for g in gens:
                g.close()
    finally:
        server.stop()
    return {"steps": steps}


def idle_deflate(ctx: Context, n: int = 1_000) -> dict[str, Any]:
    """The same idle connections with permessage-deflate negotiated, as browsers do."""
    server = ctx.server("idle-deflate")
    try:
        time.sleep(1.0)
        rss0 = server.sample()["rss"]
        specs = [_conn(server, ctx.users[i % len(ctx.users)]) for i in range(n)]
        g = Gen("deflate", specs, ctx.gen_cpus, compression="deflate")
        try:
            r = call_all([g], "grow", [{"target": n, "deadline_s": 300}], 400)[0]
            time.sleep(1.0)
            rss = server.sample()["rss"]
        finally:
            g.close()
    finally:
        server.stop()
    kb = round((rss - rss0) / 1024 / r["open_now"], 2) if r["open_now"] else None
    _log(f"idle with permessage-deflate: {r['open_now']} conns, {kb} KB/conn")
    return {"connections": r["open_now"], "rss_per_connection_kb": kb}


# -- DMs ------------------------------------------------------------------------------------------
def _send_ladder(
    label: str,
    servers: list[Server],
    gens: list[Gen],
    rates: list[int],
    duration: float,
    drain_s: float,
    profile: tuple[int, Path] | None = None,
    kind: str = "envelope",
    body_chars: int | None = None,
    pause_s: float = 0.0,
    latency_from_send: bool = False,
) -> list[dict[str, Any]]:
    # Senders seal every envelope of a step before it starts: leave them the time (measured
    # now, with room to spare; a late start shows as generator lag). Plaintext sends wait the
    # same, so the server's (idle) CPU over the wait counts alike on both ladders.
    seal_s = seal_seconds() * 2
    # Warm-up (not recorded): connection pools, statement caches.
    call_all(
        gens,
        "send",
        [
            {
                "rate": 50,
                "duration": 2,
                "start_ns": now_ns() + 200_000_000 + int(100 / len(gens) * seal_s * 1e9),
                "kind": kind,
                "body_chars": body_chars,
                "drain_s": 3,
            }
        ]
        * len(gens),
        60,
    )
    if pause_s:  # an idle server before the first step (the lone-message latency)
        time.sleep(pause_s)
    steps = []
    for rate in rates:
        _log(f"{label}: {rate} msg/s for {duration:.0f}s")
        per_gen = rate / len(gens)
        start = now_ns() + 300_000_000 + int(per_gen * duration * seal_s * 1e9)
        args = {
            "rate": per_gen,
            "duration": duration,
            "start_ns": start,
            "kind": kind,
            "body_chars": body_chars,
            "drain_s": drain_s,
            "latency_from_send": latency_from_send,
        }
        spy = None
        if profile is not None and profile[0] == rate:
            spy = _start_profile(servers[0].pid, duration, profile[1])
        res, info = measure(
            servers,
            gens,
            lambda args=args: call_all(gens, "send", [args] * len(gens), duration + drain_s + 60),
        )
        if spy is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                spy.wait(timeout=30)
        lat = [x for r in res for x in r["latencies_ms"]]
        sent = sum(r["sent"] for r in res)
        acked = sum(r["acked"] for r in res)
        received = sum(r["received"] for r in res)
        lost = sum(r["lost"] or 0 for r in res)
        step = {
            "rate": rate,
            "duration_s": duration,
            "sent": sent,
            "acked": acked,
            "received": received,
            "lost": lost,
            "unacked": sent - acked,
            "delivered_rate": round(received / duration, 1),
            **latency_summary(lat),
            "server_cpu_us_per_msg": round(info["server_cpu_s"] * 1e6 / acked, 1)
            if acked
            else None,
            "server_cpu_pct": round(100 * info["server_cpu_s"] / info["wall_s"], 1),
            "errors": sum(r["errors"] for r in res),
            "error_samples": [s for r in res for s in r["error_samples"]][:3],
            "generator_lag_p99_ms": max((r["generator_lag_p99_ms"] or 0) for r in res),
            "generator_lag_max_ms": max((r["generator_lag_max_ms"] or 0) for r in res),
            # `message.new` frames the sending sockets got for their own sends (0 without echo).
            "echoes": sum(r.get("echoes", 0) for r in res),
            "presence_frames": sum(r.get("presence_frames", 0) for r in res),
            "step": info,
        }
        _log(
            f"{label}: {rate}/s → delivered {step['delivered_rate']}/s, p50 {step['p50_ms']:.1f} "
            f"p99 {step['p99_ms']:.1f} p99.9 {step['p999_ms']:.1f} ms, lost {lost}, unacked "
            f"{step['unacked']}, {step['server_cpu_us_per_msg']} µs/msg, "
            f"load {info['loadavg_after']}"
            if lat
            else f"{label}: {rate}/s → nothing received"
        )
        steps.append(step)
        if not lat or received < 0.7 * sent or (step["p99_ms"] or 0) > 5_000:
            _log(f"{label}: saturated; stopping the ladder")
            break
    return steps


def _start_profile(pid: int, duration: float, out: Path) -> subprocess.Popen[bytes] | None:
    exe = shutil.which("py-spy")
    if exe is None:
        _log("profile: py-spy not on PATH (use `uv run --with py-spy ...`); skipped")
        return None
    _log(f"profile: py-spy on pid {pid} for {duration:.0f}s → {out}")
    return subprocess.Popen(
        [
            exe,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(int(duration)),
            "--rate",
            "200",
            "--gil",  # on-CPU Python only: samples where the thread holds the GIL
            "--format",
            "raw",
            "-o",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _pairs(n: int, rates: list[int]) -> int:
    # ~10 msg/s per sender at the top rate, like a busy human; at least 20 pairs.
    return max(20, min(n // 2, max(rates) // 10))


def dm(ctx: Context) -> dict[str, Any]:
    """The DM ladder: each sender seals real envelopes (its certified device, the DM's key set,
    a counter) before each step; the server checks every envelope's header (decision 0005)."""
    return _dm_ladder(ctx, "dm", plain=False)


def dm_plain(ctx: Context) -> dict[str, Any]:
    """The DM ladder's plaintext twin, for the envelope's cost on the server: the same pairs,
    rates and send path, with text bodies as long as the envelopes' base64. Private
    conversations take envelopes only, so each pair shares a two-member public room."""
    return _dm_ladder(ctx, "dm_plain", plain=True)


def dm_senders100(ctx: Context) -> dict[str, Any]:
    """100 sender sockets, each in one DM with its own receiver, open loop at a total rate: at
    5,000/s each socket has 50 sends a second, many in flight at once (the generator never
    waits for an ack before the next send), so the server's per-socket pipelining is what is
    measured."""
    return _dm_ladder(
        ctx, "dm_senders100", plain=False, n_pairs=100, rates=ctx.plan.senders100_rates
    )


def dm_fallback(ctx: Context) -> dict[str, Any]:
    """The DM ladder with the gateway on its fallback path (plain ASGI sends, as after a failed
    wire self-check: bench/fallback_serve.py), to set next to `dm`."""
    out = _dm_ladder(
        ctx,
        "dm_fallback",
        plain=False,
        rates=ctx.plan.fallback_rates,
        module="bench.fallback_serve",
    )
    log = (ctx.out_dir / "dm_fallback.log").read_text(errors="replace")
    # The server's own warning proves the run was on the fallback path.
    out["fallback_confirmed"] = "direct frame writes are off" in log
    return out


def lone(ctx: Context) -> dict[str, Any]:
    """One DM a second on an otherwise idle server: the latency a person feels."""
    plan = ctx.plan
    # From the actual send: at one message a second, the generator's own wake-up delay on its
    # busy core (recorded as gen lag) is not the server's.
    out = _dm_ladder(
        ctx,
        "lone",
        plain=False,
        n_pairs=1,
        rates=[1],
        duration=plan.lone_duration,
        pause_s=3.0,
        latency_from_send=True,
    )
    out["latency_from"] = "the actual send (not the scheduled time)"
    step = out["steps"][0] if out["steps"] else {}
    _log(
        f"lone: {step.get('received')}/{step.get('sent')} received, p50 {step.get('p50_ms')} "
        f"p99 {step.get('p99_ms')} max {step.get('max_ms')} ms"
    )
    return out


def _dm_ladder(
    ctx: Context,
    label: str,
    plain: bool,
    n_pairs: int | None = None,
    rates: list[int] | None = None,
    duration: float | None = None,
    module: str = "hushroom.cli",
    pause_s: float = 0.0,
    latency_from_send: bool = False,
) -> dict[str, Any]:
    plan = ctx.plan
    rates = rates or plan.dm_rates
    n_pairs = n_pairs or _pairs(len(ctx.users), rates)
    if 2 * n_pairs > len(ctx.users):
        raise RuntimeError(f"{label}: needs {2 * n_pairs} users, have {len(ctx.users)}")
    users = ctx.users[: 2 * n_pairs]
    server = ctx.server(label, module=module)
    size = envelope_bytes()
    body_chars = -(-size * 4 // 3) if plain else None  # unpadded base64 of the envelope
    try:
        pairs = [(users[2 * i], users[2 * i + 1]) for i in range(n_pairs)]
        specs = []
        if plain:
            rooms = accounts.open_pair_rooms(server.base_url, pairs)
            for (a, b), conv in zip(pairs, rooms, strict=True):
                specs += [_conn(server, a, "send", conv), _conn(server, b, "recv", conv)]
        else:
            convs = accounts.open_dms(server.base_url, pairs)
            for (a, b), (conv, seal) in zip(pairs, convs, strict=True):
                specs += [_conn(server, a, "send", conv, seal), _conn(server, b, "recv", conv)]
        gens = [Gen(label, specs, ctx.gen_cpus)]
        try:
            call_all(gens, "grow", [{"target": len(specs)}], 300)
            profile = (
                (ctx.profile_rate, ctx.out_dir / f"profile-{label}.folded.txt")
                if ctx.profile_rate
                else None
            )
            steps = _send_ladder(
                label,
                [server],
                gens,
                rates,
                duration or plan.dm_duration,
                plan.drain_s,
                profile,
                kind="body" if plain else "envelope",
                body_chars=body_chars,
                pause_s=pause_s,
                latency_from_send=latency_from_send,
            )
        finally:
            for g in gens:
                g.close()
    finally:
        server.stop()
    if plain:
        return {
            "pairs": n_pairs,
            "conversations": "two-member public rooms (text bodies)",
            "body_chars": body_chars,
            "steps": steps,
        }
    return {"pairs": n_pairs, "envelope_bytes": size, "steps": steps}


def baseline(ctx: Context) -> dict[str, Any]:
    plan = ctx.plan
    n_pairs = _pairs(len(ctx.users) or 2 * plan.dm_rates[-1] // 10, plan.dm_rates)
    server = baseline_server(ctx.out_dir, ctx.server_cpus)
    server.start()
    try:
        convs: dict[str, list[str]] = {}
        specs = []
        for _ in range(n_pairs):
            a, b, conv = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
            convs[conv] = [a, b]
            specs += [
                _conn(server, {"user_id": a}, "send", conv),
                _conn(server, {"user_id": b}, "recv", conv),
            ]
        accounts.baseline_conversations(server.base_url, convs)
        gens = [Gen("baseline", specs, ctx.gen_cpus)]
        try:
            call_all(gens, "grow", [{"target": len(specs)}], 300)
            rss0 = server.sample()["rss"]
            steps = _send_ladder(
                "baseline", [server], gens, plan.dm_rates, plan.dm_duration, plan.drain_s
            )
        finally:
            for g in gens:
                g.close()
    finally:
        server.stop()
    return {"pairs": n_pairs, "rss_mb_with_connections": round(rss0 / 2**20, 1), "steps": steps}


# -- room -----------------------------------------------------------------------------------------
def room(ctx: Context) -> dict[str, Any]:
    plan = ctx.plan
    members = ctx.users[: plan.room_members]
    server = ctx.server("room")
    try:
        room_id = accounts.make_room(server.base_url, members, f"bench room {uuid.uuid4().hex[:6]}")
        specs = [_conn(server, members[0], "send", room_id)] + [
            _conn(server, m, "member", room_id) for m in members[1:]
        ]
        receivers = len(specs) - 1
        gens = [Gen("room", specs, ctx.gen_cpus)]
        steps = []
        try:
            grown = call_all(gens, "grow", [{"target": len(specs)}], 300)[0]
            # Presence: every member coming online, as seen by the others (issue 17: it must
            # grow linearly with the room, not with its square). Late frames get 2 s to land.
            time.sleep(2.0)
            status = call_all(gens, "status", [{}], 30)[0]
            presence = {
                "members_connected": grown["open_now"],
                "during_connect": grown["presence_frames"],
                "within_2s_after": status["presence_frames"] - grown["presence_frames"],
                "total": status["presence_frames"],
            }
            _log(
                f"room: {grown['open_now']} members connected, presence frames received "
                f"{presence['total']} ({presence['within_2s_after']} in the 2 s after)"
            )
            for rate in plan.room_rates:
                _log(f"room: {rate} msg/s to {receivers} members for {plan.room_duration:.0f}s")
                n = int(rate * plan.room_duration)
                args = {
                    "rate": rate,
                    "duration": plan.room_duration,
                    "start_ns": now_ns() + 300_000_000,
                    "kind": "body",
                    "per_message": True,
                    "expected_messages": n,
                    "drain_s": plan.drain_s + 5,
                }
                res, info = measure(
                    [server],
                    gens,
                    lambda args=args: call_all(
                        gens, "send", [args], plan.room_duration + plan.drain_s + 60
                    ),
                )
                per: dict[str, list[float]] = {}
                for r in res:
                    for m, (cnt, mx) in r.get("per_message", {}).items():
                        acc = per.setdefault(m, [0, 0.0])
                        acc[0] += cnt
                        acc[1] = max(acc[1], mx)
                complete = sorted(v[1] for v in per.values() if v[0] >= receivers)
                deliveries = sum(int(v[0]) for v in per.values())
                step = {
                    "rate": rate,
                    "members": len(specs),
                    "receivers": receivers,
                    "messages": n,
                    "reached_all": len(complete),
                    "incomplete": n - len(complete),
                    "deliveries": deliveries,
                    "time_to_all": latency_summary(complete),
                    "delivery_latency": latency_summary(
                        [x for r in res for x in r["latencies_ms"]]
                    ),
                    "server_cpu_us_per_delivery": round(info["server_cpu_s"] * 1e6 / deliveries, 2)
                    if deliveries
                    else None,
                    "server_cpu_pct": round(100 * info["server_cpu_s"] / info["wall_s"], 1),
                    "errors": sum(r["errors"] for r in res),
                    "step": info,
                }
                t = step["time_to_all"]
                _log(
                    f"room: {rate}/s → reached all {len(complete)}/{n}, "
                    f"p50 {t['p50_ms']} p99 {t['p99_ms']} "
                    f"max {t['max_ms']} ms, {step['server_cpu_us_per_delivery']} µs/delivery"
                )
                steps.append(step)
        finally:
            for g in gens:
                g.close()
    finally:
        server.stop()
    return {"presence_frames_during_connect": presence, "steps": steps}


# -- cross-node -----------------------------------------------------------------------------------
def redis_available() -> tuple[bool, str]:
    path = Path(__file__).resolve().parent.parent / "src/hushroom/fanout/redis.py"
    if not path.exists():
        return False, "src/hushroom/fanout/redis.py does not exist (no HUSHROOM_REDIS_URL support)"
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except Exception as exc:
        return False, f"Redis at {REDIS_URL} not reachable: {type(exc).__name__}"
    return True, ""


def crossnode(ctx: Context) -> dict[str, Any]:
    ok, why = redis_available()
    if not ok:
        _log(f"crossnode: skipped: {why}")
        return {"skipped": why}
    plan = ctx.plan
    prefix = f"bench{uuid.uuid4().hex[:6]}:"
    a = ctx.server("node-a", HUSHROOM_REDIS_URL=REDIS_URL, HUSHROOM_REDIS_PREFIX=prefix)
    try:
        b = ctx.server("node-b", HUSHROOM_REDIS_URL=REDIS_URL, HUSHROOM_REDIS_PREFIX=prefix)
    except Exception:
        a.stop()
        raise
    try:
        n_pairs = _pairs(len(ctx.users), plan.cross_rates)
        users = ctx.users[: 2 * n_pairs]
        pairs = [(users[2 * i], users[2 * i + 1]) for i in range(n_pairs)]
        convs = accounts.open_dms(a.base_url, pairs)
        specs = []
        for (u, v), (conv, seal) in zip(pairs, convs, strict=True):
            specs += [_conn(a, u, "send", conv, seal), _conn(b, v, "recv", conv)]
        gens = [Gen("cross", specs, ctx.gen_cpus)]
        try:
            call_all(gens, "grow", [{"target": len(specs)}], 300)
            steps = _send_ladder(
                "crossnode", [a, b], gens, plan.cross_rates, plan.dm_duration, plan.drain_s
            )
        finally:
            for g in gens:
                g.close()
    finally:
        a.stop()
        b.stop()
    return {"pairs": n_pairs, "redis": REDIS_URL, "steps": steps}
