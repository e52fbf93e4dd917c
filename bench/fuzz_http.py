"""HTTP fuzz run (issue 14 item 9; `make bench`, not `make test`): schemathesis over every
operation of /openapi.json against a real `hushroom serve`, until at least `--requests` requests
(default 50,000) have been answered. Writes bench/results/<UTC>-fuzz-http.json and prints a
summary; exit status 1 on any 5xx, network error, crash or traceback, or too few requests.

    uv run --group bench python -m bench.fuzz_http [--requests 50000] [--workers 4]
        [--database sqlite|postgres] [--seed N] [--max-minutes 14] [--out FILE]

The same schemathesis as tests/api/test_openapi_fuzz.py (the dev group's), with its settings
(`not_a_server_error`, a Bearer token of a real-key account) and more phases (examples,
coverage, fuzzing, stateful). Generation costs ≈ 8 ms of CPU per case, so the operations are
split over `--workers` schemathesis processes (threads would share one core) that run with a
time budget (`--max-time`: fuzzing repeats until it is spent) and are stopped once the
requests are in. `bench/fuzz_http_hooks.py`, loaded into each, counts every request by
operation and status, keeps a curl reproducer of every 5xx, and puts real resource ids (a room,
a DM, users, a device, a message) into half of the generated path parameters.

`POST /auth/logout` and `/auth/logout-all` end the session whose token the fuzzer sends; they
run last, in a worker of their own with a second account's token.

Environment defaults: HUSHROOM_FUZZ_HTTP_REQUESTS, HUSHROOM_FUZZ_HTTP_WORKERS.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from bench.common import REPO
from bench.fuzz_support import (
    FuzzServer,
    header,
    loadavg,
    metric_delta,
    register_accounts,
    scan_log,
    status_classes,
    write_result,
)

SESSION_ENDING = ("/api/v1/auth/logout", "/api/v1/auth/logout-all")


def schemathesis_bin() -> str:
    return shutil.which("schemathesis") or str(Path(sys.executable).parent / "schemathesis")


def schemathesis_version() -> str:
    import importlib.metadata

    return importlib.metadata.version("schemathesis")


def load_paths(base_url: str) -> dict[str, int]:
    """Path → number of operations, from the served schema."""
    schema = httpx.get(f"{base_url}/openapi.json", timeout=30).raise_for_status().json()
    methods = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}
    return {path: len(set(ops) & methods) for path, ops in schema["paths"].items()}


def partition(paths: dict[str, int], workers: int) -> list[list[str]]:
    """Split the paths over the workers, balancing operations (greedy, largest first)."""
    groups: list[list[str]] = [[] for _ in range(workers)]
    load = [0] * workers
    for path, n in sorted(paths.items(), key=lambda kv: (-kv[1], kv[0])):
        i = load.index(min(load))
        groups[i].append(path)
        load[i] += n
    return [g for g in groups if g]


def seed_resources(base_url: str, fuzzer: Any, victim: Any) -> dict[str, list[str]]:
    """Real ids for the path parameters: a public room with a message, a DM, both users."""
    h = fuzzer.headers
    with httpx.Client(base_url=base_url, timeout=60) as c:
        room = c.post("/api/v1/rooms", json={"name": "fuzz room"}, headers=h)
        room.raise_for_status()
        room_id = room.json()["id"]
        msg = c.post(
            f"/api/v1/conversations/{room_id}/messages",
            json={"client_msg_id": uuid.uuid4().hex, "body": "fuzz"},
            headers=h,
        )
        msg.raise_for_status()
        dm = c.post("/api/v1/dms", json={"user_id": victim.user_id}, headers=h)
        dm.raise_for_status()
        devices = c.get("/api/v1/devices", headers=h).raise_for_status().json()
    device_ids = [d["device_id"] for d in devices]
    return {
        "room_id": [room_id],
        "conversation_id": [room_id, dm.json()["id"]],
        "user_id": [fuzzer.user_id, victim.user_id],
        "device_id": device_ids,
        "message_id": [msg.json()["message_id"]],
        "name": ["contacts"],
    }


class Worker:
    def __init__(
        self,
        index: int,
        paths: list[str],
        base_url: str,
        token: str,
        ids: dict[str, list[str]],
        work: Path,
        seed: int,
        max_time: int | None,
        max_examples: int | None,
        phases: str,
    ) -> None:
        self.index = index
        self.paths = paths
        self.stats_path = work / f"worker-{index}.json"
        self.out_path = work / f"worker-{index}.out"
        argv = [
            schemathesis_bin(),
            "run",
            f"{base_url}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--header",
            f"Authorization: Bearer {token}",
            "--seed",
            str(seed),
            "--phases",
            phases,
            "--request-timeout",
            "30",
            "--generation-database",
            "none",
            "--no-shrink",
            "--continue-on-failure",
            "--suppress-health-check",
            "all",
            "--workers",
            "1",
            "--no-color",
        ]
        if max_time is not None:
            argv += ["--max-time", str(max_time)]
        if max_examples is not None:
            argv += ["--max-examples", str(max_examples)]
        for path in paths:
            argv += ["--include-path", path]
        env = {
            **os.environ,
            "SCHEMATHESIS_HOOKS": "bench.fuzz_http_hooks",
            "HUSHROOM_FUZZ_STATS": str(self.stats_path),
            "HUSHROOM_FUZZ_IDS": json.dumps(ids),
            "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        }
        with self.out_path.open("wb") as out:
            self.proc = subprocess.Popen(
                argv, cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT
            )

    def stats(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.stats_path.read_text())
            return data
        except (OSError, ValueError):
            return {"requests": 0}

    def requests(self) -> int:
        return int(self.stats().get("requests", 0))

    def done(self) -> bool:
        return self.proc.poll() is not None

    def interrupt(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)

    def wait(self) -> int:
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            try:
                return self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                return self.proc.wait(timeout=10)

    def summary(self) -> dict[str, Any]:
        text = self.out_path.read_text(errors="replace")
        m = re.search(r"Test cases:\s*\n\s*(\d+) generated", text)
        failures = text.split("FAILURES", 1)[1].split("SUMMARY", 1)[0] if "FAILURES" in text else ""
        errors = (
            text.split("= ERRORS =", 1)[1].split("SUMMARY", 1)[0] if "= ERRORS =" in text else ""
        )
        return {
            "paths": self.paths,
            "exit_code": self.proc.returncode,
            "cases_generated": int(m.group(1)) if m else None,
            "requests": self.requests(),
            "last_line": text.strip().splitlines()[-1] if text.strip() else "",
            "failures_text": failures[-8000:],
            "schemathesis_errors_text": errors[-4000:],
        }


def merge(stats: list[dict[str, Any]]) -> dict[str, Any]:
    by_op: dict[str, Counter[str]] = {}
    samples: list[dict[str, Any]] = []
    net: list[dict[str, Any]] = []
    for s in stats:
        for op, counts in s.get("by_operation", {}).items():
            by_op.setdefault(op, Counter()).update(counts)
        samples += s.get("server_error_samples", [])
        net += s.get("network_error_samples", [])
    statuses: Counter[str] = Counter()
    for counts in by_op.values():
        statuses.update(counts)
    return {
        "requests": sum(int(s.get("requests", 0)) for s in stats),
        "statuses": dict(sorted(statuses.items())),
        "by_operation": {op: dict(sorted(c.items())) for op, c in sorted(by_op.items())},
        "server_error_samples": samples,
        "network_error_samples": net[:20],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz_http", description=__doc__)
    parser.add_argument(
        "--requests", type=int, default=int(os.environ.get("HUSHROOM_FUZZ_HTTP_REQUESTS", 50_000))
    )
    parser.add_argument(
        "--workers", type=int, default=int(os.environ.get("HUSHROOM_FUZZ_HTTP_WORKERS", 4))
    )
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--seed", type=int, default=20261203)
    parser.add_argument(
        "--max-minutes", type=float, default=14.0, help="wall-clock budget of the fuzzing"
    )
    parser.add_argument("--out", type=Path, help="also write the JSON report here")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.workers < 1:
        parser.error("--requests and --workers must be positive")

    result: dict[str, Any] = {
        **header("http"),
        "schemathesis": schemathesis_version(),
        "database": args.database,
        "seed": args.seed,
        "workers": args.workers,
        "target_requests": args.requests,
    }
    problems: list[str] = []
    server = FuzzServer(args.database)
    server.start()
    print(f"fuzz-http: server {server.base_url} ({args.database}), load {loadavg()}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="hushroom-fuzz-http-"))
    try:
        fuzzer, victim = register_accounts(server.base_url, ["Fuzzer", "Fuzz Victim"])
        ids = seed_resources(server.base_url, fuzzer, victim)
        paths = load_paths(server.base_url)
        main_paths = {p: n for p, n in paths.items() if p not in SESSION_ENDING}
        groups = partition(main_paths, args.workers)
        result["operations"] = sum(paths.values())
        metrics_before = server.metrics()
        rss_before, log_start = server.rss(), server.log_size()
        cpu_before = server.cpu_s()
        budget_s = int(args.max_minutes * 60)
        t0 = time.monotonic()
        workers = [
            Worker(
                i,
                group,
                server.base_url,
                fuzzer.access_token,
                ids,
                work,
                args.seed + i,
                max_time=budget_s,
                max_examples=None,
                phases="examples,coverage,fuzzing,stateful",
            )
            for i, group in enumerate(groups)
        ]
        print(
            f"fuzz-http: {len(workers)} schemathesis workers over {sum(main_paths.values())} "
            f"operations, target {args.requests:,} requests, budget {budget_s}s",
            flush=True,
        )
        last_print = 0.0
        while True:
            time.sleep(2)
            total = sum(w.requests() for w in workers)
            elapsed = time.monotonic() - t0
            if elapsed - last_print >= 30:
                last_print = elapsed
                print(
                    f"fuzz-http: {elapsed:5.0f}s {total:7,} requests "
                    f"({total / max(elapsed, 1):.0f}/s), load {loadavg()}",
                    flush=True,
                )
            if not server.alive():
                problems.append(f"server exited with {server.returncode()} during the fuzz")
                break
            if total >= args.requests or all(w.done() for w in workers):
                break
            if elapsed > budget_s + 60:
                break
        for w in workers:
            w.interrupt()
        for w in workers:
            w.wait()
        # The session-ending operations last, with the second account's token.
        tail = Worker(
            len(workers),
            list(SESSION_ENDING),
            server.base_url,
            victim.access_token,
            ids,
            work,
            args.seed + 100,
            max_time=None,
            max_examples=max(5, min(200, args.requests // 500)),
            phases="examples,coverage,fuzzing",
        )
        tail.wait()
        workers.append(tail)
        duration = time.monotonic() - t0

        # The fuzzer's session survived (else most requests were 401s) and the server answers.
        with httpx.Client(base_url=server.base_url, timeout=30) as c:
            try:
                me = c.get("/api/v1/me", headers=fuzzer.headers).status_code
                ready = c.get("/readyz").status_code
            except httpx.HTTPError:
                me = ready = 0
        alive = server.alive()
        metrics_after = server.metrics() if alive else {}
        merged = merge([w.stats() for w in workers])
        log = scan_log(server.process.log_path, log_start)
        statuses = merged["statuses"]
        server_statuses = metric_delta(
            metrics_before, metrics_after, "hushroom_http_requests_total"
        )
        five_xx_client = sum(n for s, n in statuses.items() if s.startswith("5"))
        five_xx_server = sum(n for k, n in server_statuses.items() if k.split(",")[-1][:1] == "5")
        result.update(
            {
                "requests": merged["requests"],
                "duration_s": round(duration, 1),
                "requests_per_s": round(merged["requests"] / duration, 1),
                "status_classes": status_classes(statuses),
                "statuses": statuses,
                "server_errors_5xx": five_xx_client,
                "server_5xx_by_metrics": five_xx_server,
                "network_errors": statuses.get("network_error", 0),
                "operations_exercised": len(merged["by_operation"]),
                "by_operation": merged["by_operation"],
                "server_error_samples": merged["server_error_samples"],
                "network_error_samples": merged["network_error_samples"],
                "server_metrics_requests": sum(server_statuses.values()),
                "server_metrics_by_method_status": server_statuses,
                "fuzzer_session_alive_at_end": me == 200,
                "server": {
                    "alive_at_end": alive,
                    "readyz_at_end": ready,
                    "rss_before_mb": round((rss_before or 0) / 2**20, 1),
                    "rss_after_mb": round((server.rss() or 0) / 2**20, 1),
                    "cpu_s": round((server.cpu_s() or 0) - (cpu_before or 0), 1),
                    "log": log,
                },
                "workers_detail": [w.summary() for w in workers],
                "loadavg_at_end": loadavg(),
            }
        )
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)

    if result["requests"] < args.requests:
        problems.append(f"only {result['requests']} requests of {args.requests}")
    if five_xx_client or five_xx_server:
        problems.append(f"5xx answers: {five_xx_client} seen, {five_xx_server} counted by server")
    if result["network_errors"]:
        problems.append(f"{result['network_errors']} network errors (timeouts or resets)")
    if not alive or ready != 200:
        problems.append(f"server alive={alive}, /readyz {ready} at the end")
    if log["raw_tracebacks"] or log["traceback_fields"] or log["server_fault_events"]:
        problems.append(f"server log: errors {log['server_fault_events']}, tracebacks")
    if me != 200:
        problems.append(f"the fuzzer's session ended during the run (/me {me})")
    for w in result["workers_detail"]:
        if w["failures_text"].strip():
            problems.append(f"schemathesis failures in worker over {w['paths'][:3]}…")
    result["problems"] = problems
    result["ok"] = not problems
    path = write_result("http", result, args.out)
    print_summary(result, path)
    return 0 if result["ok"] else 1


def print_summary(r: dict[str, Any], path: Path) -> None:
    s = r["server"]
    print(f"fuzz-http: {r['requests']:,} requests in {r['duration_s']}s ({r['requests_per_s']}/s)")
    print(
        f"  schemathesis {r['schemathesis']}, {r['workers']} workers, seed {r['seed']}, "
        f"{r['operations_exercised']}/{r['operations']} operations, {r['database']}"
    )
    print(f"  status classes: {r['status_classes']}")
    print(
        f"  5xx: {r['server_errors_5xx']} (server metrics: {r['server_5xx_by_metrics']}), "
        f"network errors: {r['network_errors']}; server counted {r['server_metrics_requests']:,}"
    )
    print(
        f"  server alive {s['alive_at_end']}, RSS {s['rss_before_mb']} → {s['rss_after_mb']} MB, "
        f"log +{s['log']['bytes']:,} B, error lines {s['log']['error_events']}, "
        f"tracebacks {s['log']['raw_tracebacks'] + s['log']['traceback_fields']}"
    )
    for sample in r["server_error_samples"][:5]:
        print(f"  5xx {sample['operation']}: {sample['curl'][:500]}")
    print(f"  {'OK' if r['ok'] else 'PROBLEMS: ' + '; '.join(r['problems'])}")
    print(f"  → {path}")


if __name__ == "__main__":
    sys.exit(main())
