"""Entry point: `uv run python -m bench.run --quick|--full [--scenarios dm,room,...]`.

Starts the servers under test itself (PostgreSQL database `hushroom_bench`, recreated), runs the
scenarios, and writes bench/results/<UTC timestamp>/ (results.json, PNG plots, summary.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import time
import traceback
from typing import Any

from bench import accounts, report, scenarios, storms
from bench.common import REPO, cpu_plan, loadavg, machine_info, pin, set_nofile_max
from bench.servers import BENCH_DB, BENCH_ENV, recreate_database

QUICK = [
    "idle",
    "dm",
    "dm_plain",
    "dm_senders100",
    "lone",
    "dm_fallback",
    "room",
    "baseline",
    "crossnode",
]
# The storms (19,500 sockets each) run in --full only, or when named.
STORMS = ["storm_redis", "storm_node"]
ALL = QUICK + STORMS
# Scenarios on the Hushroom server (the others start their own servers or none).
NEEDS_DB = set(ALL) - {"baseline"}
RESULTS = REPO / "bench" / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="few steps, small sizes (default)")
    mode.add_argument("--full", action="store_true", help="the whole ladder")
    parser.add_argument(
        "--scenarios",
        default=None,
        help=f"comma-separated, of {ALL} (default: all; --quick leaves out the storms)",
    )
    parser.add_argument(
        "--storm-sockets",
        type=int,
        default=None,
        help="sockets in each storm (default: 2,000 quick, 19,500 full)",
    )
    parser.add_argument(
        "--storm-reconnect-spread-s",
        type=float,
        default=0.0,
        help="storm clients wait uniform(0, this) before reconnecting after close 1012 "
        "(default 0: the SDK's backoff, hushroom.client.pacing.Backoff)",
    )
    parser.add_argument(
        "--profile-rate",
        type=int,
        default=None,
        help="run py-spy on the server during the dm step at this rate, and during each storm "
        "(py-spy on PATH: `uv run --with py-spy`)",
    )
    parser.add_argument(
        "--dm-rates",
        default=None,
        help="comma-separated msg/s for the DM ladders (dm, dm_plain, baseline), e.g. 200,500",
    )
    parser.add_argument(
        "--keep-as",
        default=None,
        help="also copy the results dir to bench/results/<name> (e.g. latest-quick)",
    )
    args = parser.parse_args(argv)
    default = ALL if args.full else QUICK
    chosen = [s.strip() for s in (args.scenarios or ",".join(default)).split(",") if s.strip()]
    unknown = set(chosen) - set(ALL)
    if unknown:
        parser.error(f"unknown scenarios: {sorted(unknown)}")
    plan = scenarios.Plan.make(quick=not args.full)
    if args.dm_rates:
        try:
            plan.dm_rates = [int(r) for r in args.dm_rates.split(",") if r.strip()]
        except ValueError:
            parser.error("--dm-rates: comma-separated integers")
        if not plan.dm_rates or min(plan.dm_rates) <= 0:
            parser.error("--dm-rates: at least one rate, every rate > 0")
    if args.storm_sockets is not None:
        if args.storm_sockets < 2 * plan.storm_pairs + 10:
            parser.error(f"--storm-sockets: at least {2 * plan.storm_pairs + 10}")
        plan.storm_sockets = args.storm_sockets
    plan.storm_reconnect_spread_s = args.storm_reconnect_spread_s
    started = dt.datetime.now(dt.UTC)
    out = RESULTS / started.strftime("%Y%m%dT%H%M%SZ")
    out.mkdir(parents=True, exist_ok=True)
    server_cpus, gen_cpus = cpu_plan()
    nofile = set_nofile_max()
    pin(gen_cpus)  # the coordinator too stays off the server's core
    print(f"bench: {'full' if args.full else 'quick'} run of {chosen} → {out}", flush=True)
    print(
        f"bench: server CPUs {sorted(server_cpus)}, generator CPUs {sorted(gen_cpus)}, "
        f"open-file limit {nofile}, load {loadavg()}",
        flush=True,
    )
    results: dict[str, Any] = {
        "mode": "full" if args.full else "quick",
        "started_utc": started.isoformat(timespec="seconds"),
        "machine": machine_info(),
        "server_cpus": sorted(server_cpus),
        "generator_cpus": sorted(gen_cpus),
        "open_file_limit": nofile,
        "plan": plan.__dict__,
        "bench_server_env": BENCH_ENV,
        "scenarios": {},
        "errors": {},
    }
    t0 = time.monotonic()
    ctx: scenarios.Context | None = None
    try:
        needs_db = any(s in NEEDS_DB for s in chosen)
        if needs_db:
            print(f"bench: recreating database {BENCH_DB}", flush=True)
            url = recreate_database()
            ctx = scenarios.Context(
                plan, out, url, server_cpus, gen_cpus, profile_rate=args.profile_rate
            )
            setup = ctx.server("setup")
            try:
                n_users = scenarios.users_needed(plan, chosen)
                print(f"bench: registering {n_users} users", flush=True)
                t = time.monotonic()
                ctx.users = accounts.create_users(setup.base_url, n_users)
                results["setup"] = {
                    "users": n_users,
                    "register_login_s": round(time.monotonic() - t, 1),
                }
            finally:
                setup.stop()
        else:
            ctx = scenarios.Context(plan, out, "", server_cpus, gen_cpus)
        for name in chosen:
            print(f"bench: == {name} == (load {loadavg()})", flush=True)
            t = time.monotonic()
            try:
                if name == "idle":
                    results["scenarios"]["idle"] = scenarios.idle(ctx)
                    results["scenarios"]["idle_deflate"] = scenarios.idle_deflate(ctx)
                elif name in STORMS:
                    results["scenarios"][name] = getattr(storms, name)(ctx)
                else:
                    results["scenarios"][name] = getattr(scenarios, name)(ctx)
            except Exception as exc:  # keep the other scenarios' figures
                traceback.print_exc()
                results["errors"][name] = f"{type(exc).__name__}: {exc}"
            results.setdefault("durations_s", {})[name] = round(time.monotonic() - t, 1)
            report.write(results, out)  # after every scenario: an interrupted run keeps its figures
    finally:
        results["loadavg_at_end"] = loadavg()
        results["total_s"] = round(time.monotonic() - t0, 1)
        report.write(results, out)
    if args.keep_as:
        keep = RESULTS / args.keep_as
        shutil.rmtree(keep, ignore_errors=True)
        shutil.copytree(out, keep, ignore=shutil.ignore_patterns("*-data", "*.log"))
    print(f"bench: done in {results['total_s']:.0f}s → {out / 'summary.md'}", flush=True)
    print((out / "summary.md").read_text(), flush=True)
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
