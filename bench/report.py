"""results.json, PNG plots and summary.md (figures against the targets, ratios to the baseline)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# Targets: docs/decisions/0004, raised by issue 17 (performance, round two).
DM_P99_TARGET_MS = 50.0
DM_RATE_TARGET = 5_000
IDLE_CONN_TARGET = 19_500
KB_PER_CONN_TARGET = 16.0
ROOM_P99_TARGET_MS = 100.0
ROOM_TARGET_RATE = 50
CROSS_RATE = 1_000
CPU_US_TARGET = 150.0
CPU_US_AT_RATE = 2_000
SENDERS100_RATE_TARGET = 5_000
LONE_P50_TARGET_MS = 3.0
LONE_P99_TARGET_MS = 15.0
PRESENCE_TARGET = 20_000
STORM_REDIS_TARGET_S = 10.0
STORM_NODE_TARGET_S = 30.0


def _steps(results: dict[str, Any], name: str) -> list[dict[str, Any]]:
    sc = results["scenarios"].get(name) or {}
    return list(sc.get("steps") or [])


def best_rate(steps: list[dict[str, Any]], p99_ms: float) -> dict[str, Any] | None:
    """Highest offered rate delivered in full (nothing lost or unacked, ≥ 98% delivered in the
    window) with p99 within the bound."""
    ok = [
        s
        for s in steps
        if s.get("p99_ms") is not None
        and s["p99_ms"] <= p99_ms
        and s["lost"] == 0
        and s["unacked"] == 0
        and s["received"] >= 0.98 * s["sent"]
    ]
    return max(ok, key=lambda s: s["rate"]) if ok else None


def _fmt(v: Any, nd: int = 1) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.{nd}f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _mark(ok: bool | None) -> str:
    return "–" if ok is None else ("✓" if ok else "✗")


def plots(results: dict[str, Any], out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    fig, ax = plt.subplots(figsize=(7, 4.5))
    any_line = False
    for name, style in (
        ("dm", "o-"),
        ("dm_plain", "D:"),
        ("dm_senders100", "v-"),
        ("dm_fallback", "x:"),
        ("baseline", "s--"),
        ("crossnode", "^-."),
    ):
        steps = [s for s in _steps(results, name) if s.get("p50_ms") is not None]
        if not steps:
            continue
        rates = [s["rate"] for s in steps]
        ax.plot(rates, [s["p50_ms"] for s in steps], style, label=f"{name} p50")
        ax.plot(rates, [s["p99_ms"] for s in steps], style, label=f"{name} p99", alpha=0.6)
        any_line = True
    if any_line:
        ax.axhline(DM_P99_TARGET_MS, color="red", lw=0.8, ls=":", label="p99 target 50 ms")
        ax.set_yscale("log")
        ax.set_xlabel("offered rate (msg/s)")
        ax.set_ylabel("send → receive latency (ms, from scheduled send time)")
        ax.set_title("DM latency vs rate")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(out / "latency_vs_rate.png", dpi=110)
        made.append("latency_vs_rate.png")
    plt.close(fig)

    # Server CPU per message: the envelope's cost shows as the gap between dm and dm_plain.
    lines = [
        (name, style, [s for s in _steps(results, name) if s.get("server_cpu_us_per_msg")])
        for name, style in (
            ("dm", "o-"),
            ("dm_plain", "D:"),
            ("dm_senders100", "v-"),
            ("dm_fallback", "x:"),
            ("baseline", "s--"),
        )
    ]
    if any(steps for _, _, steps in lines):
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for name, style, steps in lines:
            if steps:
                rates = [s["rate"] for s in steps]
                ax.plot(rates, [s["server_cpu_us_per_msg"] for s in steps], style, label=name)
        ax.axhline(CPU_US_TARGET, color="red", lw=0.8, ls=":", label="target")
        ax.set_yscale("log")
        ax.set_xlabel("offered rate (msg/s)")
        ax.set_ylabel("server CPU per message (µs)")
        ax.set_title("Server CPU per DM vs rate (envelopes, plaintext, transport baseline)")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(out / "cpu_vs_rate.png", dpi=110)
        plt.close(fig)
        made.append("cpu_vs_rate.png")

    steps = _steps(results, "idle")
    if steps:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        conns = [s["connections"] for s in steps]
        ax.plot(conns, [s["server_rss_mb"] for s in steps], "o-", label="server RSS (MB)")
        ax.set_xlabel("authenticated idle connections")
        ax.set_ylabel("server RSS (MB)")
        ax2 = ax.twinx()
        ax2.plot(
            conns,
            [s["rss_per_connection_kb"] for s in steps],
            "s--",
            color="tab:orange",
            label="KB per connection",
        )
        ax2.axhline(KB_PER_CONN_TARGET, color="red", lw=0.8, ls=":")
        ax2.set_ylabel(f"KB per connection (target ≤ {KB_PER_CONN_TARGET:.0f})")
        ax.set_title("Server memory vs connections")
        ax.grid(alpha=0.3)
        fig.legend(loc="upper left", fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "rss_vs_connections.png", dpi=110)
        plt.close(fig)
        made.append("rss_vs_connections.png")
    return made


def _row(*cells: Any) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _head(*cells: str) -> list[str]:
    return [_row(*cells), _row(*(["---"] * len(cells)))]


def _best_rate_row(
    figure: str, target: str, steps: list[dict[str, Any]], rate_target: int, unrun: bool | None
) -> str:
    """A ladder's best rate within p99 ≤ 50 ms against its rate target; `unrun` is the mark when
    the ladder stopped below the target and nothing above it passed."""
    best = best_rate(steps, DM_P99_TARGET_MS)
    if best:
        measured = f"best {_fmt(best['rate'])} msg/s at p99 {_fmt(best['p99_ms'])} ms"
    else:
        measured = "no rate met p99 ≤ 50 ms with nothing lost"
    ran_target = any(s["rate"] >= rate_target for s in steps)
    if not ran_target:
        measured += f" (ladder top {_fmt(steps[-1]['rate'])} msg/s)"
    ok = best is not None and best["rate"] >= rate_target
    return _row(figure, target, measured, _mark(ok if ran_target or ok else unrun))


def _target_rows(results: dict[str, Any]) -> list[str]:
    sc = results["scenarios"]
    rows: list[str] = []
    dm_steps = _steps(results, "dm")
    if dm_steps:
        rows.append(
            _best_rate_row(
                "persisted DMs/s, 1 node, PostgreSQL, p99",
                "≥ 5,000 at ≤ 50 ms",
                dm_steps,
                DM_RATE_TARGET,
                unrun=False,
            )
        )
    idle_steps = _steps(results, "idle")
    if idle_steps:
        top = idle_steps[-1]
        full = top["target"] >= IDLE_CONN_TARGET
        held = f"{_fmt(top['connections'])} held (ladder top {_fmt(top['target'])})"
        rows.append(
            _row(
                "idle authenticated connections per process",
                "≥ 19,500",
                held,
                _mark(top["connections"] >= IDLE_CONN_TARGET if full else None),
            )
        )
        kb = top["rss_per_connection_kb"]
        rows.append(
            _row(
                "KB per idle connection",
                "≤ 16",
                f"{_fmt(kb, 1)} KB at {_fmt(top['connections'])}",
                _mark(kb is not None and kb <= KB_PER_CONN_TARGET),
            )
        )
    r10 = next((s for s in _steps(results, "room") if s["rate"] == ROOM_TARGET_RATE), None)
    if r10:
        p99 = r10["time_to_all"]["p99_ms"]
        full = r10["members"] >= 1_000
        ok = p99 is not None and p99 <= ROOM_P99_TARGET_MS and r10["incomplete"] == 0
        rows.append(
            _row(
                f"{r10['members']:,}-member room, {ROOM_TARGET_RATE} msg/s, time to all, p99",
                "≤ 100 ms (1,000 members)",
                f"{_fmt(p99)} ms ({r10['reached_all']}/{r10['messages']} reached all)",
                _mark(ok) + ("" if full else " (smaller room in a quick run)"),
            )
        )
    cross = sc.get("crossnode") or {}
    name = "2 nodes + Redis, cross-node DMs 1,000/s, p99"
    cross_steps = _steps(results, "crossnode")
    if cross.get("skipped"):
        rows.append(_row(name, "≤ 50 ms", f"skipped: {cross['skipped']}", "–"))
    elif cross_steps:
        c1 = next((s for s in cross_steps if s["rate"] == CROSS_RATE), None)
        if c1:
            ok = c1["p99_ms"] is not None and c1["p99_ms"] <= DM_P99_TARGET_MS and c1["lost"] == 0
            rows.append(
                _row(name, "≤ 50 ms", f"{_fmt(c1['p99_ms'])} ms, lost {c1['lost']}", _mark(ok))
            )
        else:
            c = cross_steps[-1]
            got = f"1,000/s not run; at {c['rate']}/s p99 {_fmt(c['p99_ms'])} ms"
            rows.append(_row(name, "≤ 50 ms", got, "–"))
    if dm_steps:
        cpu = [s["server_cpu_us_per_msg"] for s in dm_steps if s["server_cpu_us_per_msg"]]
        ref = next((s for s in dm_steps if s["rate"] == CPU_US_AT_RATE), None)
        v = ref["server_cpu_us_per_msg"] if ref else None
        got = f"{_fmt(v)} µs" if ref else f"{_fmt(CPU_US_AT_RATE)} msg/s not run"
        if cpu:
            got += f" (ladder range {_fmt(min(cpu))}–{_fmt(max(cpu))})"
        rows.append(
            _row(
                f"server CPU per persisted DM at {_fmt(CPU_US_AT_RATE)} msg/s",
                "≤ 150 µs",
                got,
                _mark(v <= CPU_US_TARGET if v is not None else None),
            )
        )
    rows += _issue17_rows(results)
    for figure, target, where in (
        ("resync of 1,000 missed messages incl. browser decrypt", "≤ 2 s", "web client"),
        ("web client initial JavaScript", "≤ 250 KB gzip", "web build"),
        ("vault unlock in Chromium", "≤ 1 s", "browser"),
    ):
        rows.append(_row(figure, target, f"not measured here ({where})", "–"))
    return rows


# The first columns of every ladder table (dm, crossnode, 100 senders, lone).
_LATENCY_HEAD = ("rate", "delivered/s", "p50 ms", "p99 ms", "p99.9 ms")


def _latency_cells(step: dict[str, Any]) -> list[str]:
    return [_fmt(step[k]) for k in ("rate", "delivered_rate", "p50_ms", "p99_ms", "p999_ms")]


def _dm_rows(results: dict[str, Any]) -> list[str]:
    dm_steps = _steps(results, "dm")
    base_steps = _steps(results, "baseline")
    rows = _head(
        *_LATENCY_HEAD,
        "lost",
        "unacked",
        "server µs/msg",
        "baseline p99 ms",
        "baseline µs/msg",
        "CPU ratio",
        "gen lag p99 ms",
        "load after",
    )
    by_rate = {s["rate"]: s for s in base_steps}
    for s in dm_steps:
        b = by_rate.get(s["rate"]) or {}
        ratio = None
        if b.get("server_cpu_us_per_msg") and s.get("server_cpu_us_per_msg"):
            ratio = s["server_cpu_us_per_msg"] / b["server_cpu_us_per_msg"]
        rows.append(
            _row(
                *_latency_cells(s),
                s["lost"],
                s["unacked"],
                _fmt(s["server_cpu_us_per_msg"]),
                _fmt(b.get("p99_ms")),
                _fmt(b.get("server_cpu_us_per_msg")),
                _ratio(ratio),
                _fmt(s["generator_lag_p99_ms"]),
                s["step"]["loadavg_after"],
            )
        )
    dm_rates = {d["rate"] for d in dm_steps}
    for b in base_steps:
        if b["rate"] in dm_rates:
            continue
        rows.append(
            _row(
                f"{_fmt(b['rate'])} (baseline only)",
                *(["–"] * 7),
                _fmt(b["p99_ms"]),
                _fmt(b["server_cpu_us_per_msg"]),
                "–",
                _fmt(b["generator_lag_p99_ms"]),
                b["step"]["loadavg_after"],
            )
        )
    return rows


def envelope_vs_plain(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The DM ladder with real envelopes (`dm`) and its plaintext twin (`dm_plain`), rate by
    rate: what the envelope costs the server per message."""
    env = {s["rate"]: s for s in _steps(results, "dm")}
    plain = {s["rate"]: s for s in _steps(results, "dm_plain")}
    if not plain:
        return []
    rows = []
    for rate in sorted(env.keys() | plain.keys()):
        e, p = env.get(rate, {}), plain.get(rate, {})
        ue, up = e.get("server_cpu_us_per_msg"), p.get("server_cpu_us_per_msg")
        rows.append(
            {
                "rate": rate,
                "envelope": _compared(e),
                "plain": _compared(p),
                "server_cpu_us_per_msg_delta": round(ue - up, 1) if ue and up else None,
                "server_cpu_ratio": round(ue / up, 3) if ue and up else None,
            }
        )
    return rows


_COMPARED = (
    "delivered_rate",
    "p50_ms",
    "p99_ms",
    "lost",
    "unacked",
    "errors",
    "server_cpu_us_per_msg",
)


def _compared(step: dict[str, Any]) -> dict[str, Any]:
    return {k: step.get(k) for k in _COMPARED}


def _missing(step: dict[str, Any]) -> str:
    if step.get("lost") is None or step.get("unacked") is None:
        return "–"
    return str(step["lost"] + step["unacked"])


def _ratio(r: float | None) -> str:
    return _fmt(r, 2) + "×" if r else "–"


_SIDE_BY_SIDE = (("delivered/s", "delivered_rate"), ("p50 ms", "p50_ms"), ("p99 ms", "p99_ms"))


def _side_by_side_head(sides: str) -> list[str]:
    """Headers of the cells `_side_by_side` fills, e.g. "p50 ms env / plain"."""
    return [*(f"{label} {sides}" for label, _ in _SIDE_BY_SIDE), f"lost+unacked {sides}"]


def _side_by_side(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Two runs of one rate in "a / b" cells; a side that did not run that rate shows –."""
    return [
        *(f"{_fmt(a.get(key))} / {_fmt(b.get(key))}" for _, key in _SIDE_BY_SIDE),
        f"{_missing(a)} / {_missing(b)}",
    ]


def _envelope_rows(results: dict[str, Any]) -> list[str]:
    rows = _head(
        "rate",
        *_side_by_side_head("env / plain"),
        "server µs/msg env",
        "server µs/msg plain",
        "envelope Δ µs/msg",
        "ratio",
    )
    for c in envelope_vs_plain(results):
        e, p = c["envelope"], c["plain"]
        rows.append(
            _row(
                _fmt(c["rate"]),
                *_side_by_side(e, p),
                _fmt(e["server_cpu_us_per_msg"]),
                _fmt(p["server_cpu_us_per_msg"]),
                _fmt(c["server_cpu_us_per_msg_delta"]),
                _ratio(c["server_cpu_ratio"]),
            )
        )
    plain = results["scenarios"].get("dm_plain") or {}
    rows += [
        "",
        "`dm`: real envelopes (sealed by each sender's certified device under its DM's key set, "
        "before each step). `dm_plain`: the same pairs, rates and send path with text bodies of "
        f"{_fmt(plain.get('body_chars'))} characters (the envelopes' base64 length), in "
        "two-member public rooms (private conversations take envelopes only).",
    ]
    return rows


def _idle_rows(results: dict[str, Any]) -> list[str]:
    rows = _head(
        "connections",
        "connect/s",
        "server RSS MB",
        "KB/conn",
        "idle CPU %",
        "ping-all p50 ms",
        "p99 ms",
        "all answered ms",
        "presence frames while connecting",
        "load after",
    )
    for s in _steps(results, "idle"):
        p = s["ping_all"]
        rows.append(
            _row(
                _fmt(s["connections"]),
                _fmt(s["connect_rate_per_s"]),
                _fmt(s["server_rss_mb"]),
                _fmt(s["rss_per_connection_kb"]),
                _fmt(s["idle_cpu_pct"], 2),
                _fmt(p["p50_ms"]),
                _fmt(p["p99_ms"]),
                _fmt(p["all_answered_ms"]),
                _fmt(s.get("presence_frames_during_connect")),
                s["idle_step"]["loadavg_after"],
            )
        )
    d = results["scenarios"].get("idle_deflate")
    if d:
        rows += [
            "",
            "With permessage-deflate negotiated (browsers and the websockets client do by "
            f"default): {_fmt(d['rss_per_connection_kb'])} KB per connection at "
            f"{_fmt(d['connections'])} connections.",
        ]
    return rows


def _room_rows(results: dict[str, Any]) -> list[str]:
    presence = (results["scenarios"].get("room") or {}).get("presence_frames_during_connect")
    rows = []
    if presence:
        rows += [
            f"Presence frames received while {_fmt(presence['members_connected'])} members "
            f"connected: {_fmt(presence['total'])} ({_fmt(presence['within_2s_after'])} of them "
            "in the 2 s after the last one was ready).",
            "",
        ]
    rows += _head(
        "members",
        "msg/s",
        "reached all",
        "time-to-all p50 ms",
        "p99 ms",
        "max ms",
        "server µs/delivery",
        "server CPU %",
        "load after",
    )
    for s in _steps(results, "room"):
        t = s["time_to_all"]
        rows.append(
            _row(
                _fmt(s["members"]),
                s["rate"],
                f"{s['reached_all']}/{s['messages']}",
                _fmt(t["p50_ms"]),
                _fmt(t["p99_ms"]),
                _fmt(t["max_ms"]),
                _fmt(s["server_cpu_us_per_delivery"], 2),
                _fmt(s["server_cpu_pct"]),
                s["step"]["loadavg_after"],
            )
        )
    return rows


def _cross_rows(results: dict[str, Any]) -> list[str]:
    rows = _head(
        *_LATENCY_HEAD,
        "lost",
        "server µs/msg (both nodes)",
        "load after",
    )
    for s in _steps(results, "crossnode"):
        rows.append(
            _row(
                *_latency_cells(s),
                s["lost"],
                _fmt(s["server_cpu_us_per_msg"]),
                s["step"]["loadavg_after"],
            )
        )
    return rows


def _issue17_rows(results: dict[str, Any]) -> list[str]:
    """The rows issue 17 added: 100 senders, a lone DM, presence on connect, the storms."""
    sc = results["scenarios"]
    rows: list[str] = []
    steps = _steps(results, "dm_senders100")
    if steps:
        rows.append(
            _best_rate_row(
                "DMs/s with p99 ≤ 50 ms, only 100 sockets sending",
                "≥ 5,000",
                steps,
                SENDERS100_RATE_TARGET,
                unrun=None,
            )
        )
    lone = _steps(results, "lone")
    if lone:
        s0 = lone[0]
        ok = (
            s0.get("p50_ms") is not None
            and s0["p50_ms"] <= LONE_P50_TARGET_MS
            and s0["p99_ms"] <= LONE_P99_TARGET_MS
            and s0["lost"] == 0
            and s0["received"] == s0["sent"]
        )
        rows.append(
            _row(
                "a lone DM on an idle server, send → receipt, p50 / p99",
                "≤ 3 / ≤ 15 ms",
                f"{_fmt(s0.get('p50_ms'))} / {_fmt(s0.get('p99_ms'))} ms (max "
                f"{_fmt(s0.get('max_ms'))}, {s0['received']}/{s0['sent']} received)",
                _mark(ok),
            )
        )
    presence = (sc.get("room") or {}).get("presence_frames_during_connect")
    if presence:
        members = presence["members_connected"]
        full = members >= 1_000
        rows.append(
            _row(
                f"presence frames when {_fmt(members)} members of one room connect",
                "≤ 20,000 (1,000 members)",
                _fmt(presence["total"]),
                _mark(presence["total"] <= PRESENCE_TARGET) if full else "– (smaller room)",
            )
        )
    for name, label, target_s, origin in (
        ("storm_redis", "Redis SIGKILL + restart", STORM_REDIS_TARGET_S, "restart"),
        ("storm_node", "2 nodes behind nginx, one restarted", STORM_NODE_TARGET_S, "sigterm"),
    ):
        st = sc.get(name)
        if not st:
            continue
        t = st.get(f"all_resumed_s_after_{origin}")
        load = st["load"]
        ok = (
            t is not None
            and t <= target_s
            and st["not_resumed"] == 0
            and load["lost"] == 0
            and (name != "storm_redis" or st["closed_for_overload"] == 0)
        )
        target = f"≤ {target_s:.0f} s, 0 lost" + (
            ", 0 closed for overload" if name == "storm_redis" else ""
        )
        rows.append(
            _row(
                f"{_fmt(st['sockets'])} sockets, {label}: all resumed",
                target,
                f"{_fmt(t)} s after the {origin} ({st['resumed']}/{st['affected']} resumed), "
                f"lost {load['lost']}, closed for overload {st['closed_for_overload']}",
                _mark(ok) + ("" if st["sockets"] >= IDLE_CONN_TARGET else " (fewer sockets)"),
            )
        )
    return rows


def _ladder_rows(results: dict[str, Any], name: str) -> list[str]:
    rows = _head(
        *_LATENCY_HEAD,
        "max ms",
        "lost",
        "unacked",
        "server µs/msg",
        "server CPU %",
        "gen lag p99 ms",
        "load after",
    )
    for s in _steps(results, name):
        rows.append(
            _row(
                *_latency_cells(s),
                _fmt(s["max_ms"]),
                s["lost"],
                s["unacked"],
                _fmt(s["server_cpu_us_per_msg"]),
                _fmt(s["server_cpu_pct"]),
                _fmt(s["generator_lag_p99_ms"]),
                s["step"]["loadavg_after"],
            )
        )
    return rows


def _senders100_rows(results: dict[str, Any]) -> list[str]:
    return [
        *_ladder_rows(results, "dm_senders100"),
        "",
        "100 sender sockets, one DM each with its own receiver; open loop at the total rate "
        "(50 sends a second per socket at 5,000/s), never waiting for an ack before the next "
        "send.",
    ]


def _lone_rows(results: dict[str, Any]) -> list[str]:
    return [
        *_ladder_rows(results, "lone"),
        "",
        "One DM a second between two users on an otherwise idle server (after a warm-up and "
        "3 s of quiet); latency from the actual send (the generator's wake-up lag on its "
        "core is its own: gen lag) to the receiver's `message.new`.",
    ]


def fallback_vs_direct(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The DM ladder on the gateway's fallback path (`dm_fallback`: plain ASGI sends) next to
    the direct frame writes (`dm`), rate by rate."""
    direct = {s["rate"]: s for s in _steps(results, "dm")}
    rows = []
    for f in _steps(results, "dm_fallback"):
        d = direct.get(f["rate"], {})
        uf, ud = f.get("server_cpu_us_per_msg"), d.get("server_cpu_us_per_msg")
        rows.append(
            {
                "rate": f["rate"],
                "fallback": _compared(f),
                "direct": _compared(d) if d else None,
                "server_cpu_ratio": round(uf / ud, 3) if uf and ud else None,
            }
        )
    return rows


def _fallback_rows(results: dict[str, Any]) -> list[str]:
    rows = _head(
        "rate",
        *_side_by_side_head("fallback / direct"),
        "server µs/msg fallback",
        "server µs/msg direct",
        "CPU ratio",
    )
    for c in fallback_vs_direct(results):
        f, d = c["fallback"], c["direct"] or {}
        rows.append(
            _row(
                _fmt(c["rate"]),
                *_side_by_side(f, d),
                _fmt(f["server_cpu_us_per_msg"]),
                _fmt(d.get("server_cpu_us_per_msg")),
                _ratio(c["server_cpu_ratio"]),
            )
        )
    fb = results["scenarios"].get("dm_fallback") or {}
    rows += [
        "",
        "`dm_fallback`: the same DM ladder with the gateway on plain ASGI sends, as after a "
        "failed wire self-check (bench/fallback_serve.py makes the check fail); the server "
        "logged its fallback warning: "
        + ("yes" if fb.get("fallback_confirmed") else "NO (the row is not the fallback)")
        + ". `direct`: the `dm` ladder of the same run (– where it did not run that rate).",
    ]
    return rows


def _storm_rows(results: dict[str, Any]) -> list[str]:
    rows = _head(
        "storm",
        "sockets",
        "affected",
        "resumed",
        "last resumed s",
        "resume p50 / p99 s",
        "closes",
        "lost / late / unacked / sent",
        "load p99 during ms",
        "server CPU s (storm wall s)",
        "presence / stale frames",
    )
    for name, origin in (("storm_redis", "restart"), ("storm_node", "sigterm")):
        st = results["scenarios"].get(name)
        if not st:
            continue
        r = st[f"resume_ms_after_{origin}"]
        load = st["load"]
        during = load["latency_by_phase"]["during_storm"]
        rows.append(
            _row(
                name,
                _fmt(st["sockets"]),
                _fmt(st["affected"]),
                _fmt(st["resumed"]),
                f"{_fmt(st[f'all_resumed_s_after_{origin}'])} after {origin}",
                f"{_fmt((r['p50_ms'] or 0) / 1000, 2)} / {_fmt((r['p99_ms'] or 0) / 1000, 2)}",
                ", ".join(f"{k}: {v}" for k, v in sorted(st["closes"].items())) or "none",
                f"{load['lost']} / {load.get('late_receiver_not_back', 0)} / "
                f"{load['unacked']} / {_fmt(load['sent'])}",
                _fmt(during["p99_ms"]),
                f"{_fmt(st['server_cpu_s_storm'], 2)} ({_fmt(st['storm_wall_s'], 1)})",
                f"{_fmt(st['presence_frames'])} / {_fmt(st['stale_frames'])}",
            )
        )
    rows += [
        "",
        "`storm_redis`: one node with Redis fan-out; a private redis-server is SIGKILLed and "
        "restarted on its port 2 s later; a socket has resumed once a `sync.done` answers a "
        "`resume` it sent after its `sync.stale` (or after reconnecting, if it was closed). "
        "`storm_node`: two nodes + Redis behind nginx; node A gets SIGTERM and is started "
        "again on its port; the sockets it closed reconnect through nginx (jittered, as the "
        "SDK does) and resume. A background DM load runs throughout; `lost` counts "
        "acknowledged messages the receiver never got, live or by a resume, within 60 s after "
        "the load stopped; `late`: not received because the receiver itself was not back yet "
        "(not reconnected or not resumed). Server CPU: from "
        "the fault until every socket had resumed (storm_node: both nodes, the restarted one "
        "with its start-up). results.json has the split of a reconnect's time (backoff, "
        "ticket, handshake, auth) and the load's latency before, during and after the storm.",
    ]
    return rows


def summary(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        f"# Hushroom benchmark — {results['mode']} run, {results['started_utc']}",
        "",
        f"Machine: {m['cpu_count']} × {m['cpu_model']}, {m['ram_mb']} MB RAM, "
        f"Linux {m['kernel']}, Python {m['python']}; commit {m['git_commit']}.",
        f"Server pinned to CPUs {results['server_cpus']}, generators to "
        f"{results['generator_cpus']}. Load average at start {m['loadavg_at_start']}, at end "
        f"{results.get('loadavg_at_end')} (other suites share this machine; every step records "
        "its own load and per-core busy % in results.json).",
        "",
        "Accounts are registered over HTTP with a random 32-byte auth secret (no client-side "
        "Argon2), and the server's Argon2id cost is lowered for the setup only; see "
        "docs/performance.md for every bench-only setting.",
        "",
        "## Against the targets (docs/decisions/0004, raised by issue 17)",
        "",
        *_head("figure", "target", "measured", "ok"),
        *_target_rows(results),
        "",
    ]
    sections = (
        ("DM ladder (1 node, PostgreSQL) and the transport baseline", ("dm", "baseline"), _dm_rows),
        ("DMs: real envelopes vs plaintext bodies (same rates)", ("dm_plain",), _envelope_rows),
        ("DMs from only 100 sender sockets", ("dm_senders100",), _senders100_rows),
        ("A lone DM on an idle server", ("lone",), _lone_rows),
        ("DMs on the gateway's fallback path vs direct writes", ("dm_fallback",), _fallback_rows),
        ("Idle connections (1 process)", ("idle",), _idle_rows),
        ("Public room", ("room",), _room_rows),
        ("Cross-node DMs (2 nodes + Redis)", ("crossnode",), _cross_rows),
    )
    for title, names, fn in sections:
        if any(_steps(results, n) for n in names):
            lines += [f"## {title}", "", *fn(results), ""]
    if any(results["scenarios"].get(n) for n in ("storm_redis", "storm_node")):
        lines += ["## Storms", "", *_storm_rows(results), ""]
    cross = results["scenarios"].get("crossnode") or {}
    if cross.get("skipped"):
        lines += ["## Cross-node DMs", "", f"Skipped: {cross['skipped']}", ""]
    errs = results.get("errors") or {}
    if errs:
        lines += ["## Scenario errors", "", *(f"- {k}: {v}" for k, v in errs.items()), ""]
    lines += ["Plots: " + (", ".join(results.get("plots", [])) or "none"), ""]
    return "\n".join(lines)


def write(results: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    try:
        results["plots"] = plots(results, out)
    except Exception as exc:  # a plotting failure must not lose the figures
        results["plots"] = []
        results.setdefault("errors", {})["plots"] = repr(exc)
    results["dm_envelope_vs_plain"] = envelope_vs_plain(results)
    results["dm_fallback_vs_direct"] = fallback_vs_direct(results)
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    (out / "summary.md").write_text(summary(results))
