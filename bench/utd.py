"""The "unable to decrypt" harness at benchmark scale (not a test). Prints JSON.

Runs the seeded random sequences of tests/integration/test_unable_to_decrypt.py (sends,
duplicates, dropped frames, reconnects, reloads, new devices, member changes, password changes,
device revocations, each followed by the entitled-decrypts / unentitled-refuses check) against a
fresh SQLite server, or the server at `--url`:

    uv run python -m bench.utd --sequences 10000 [--seed N] [--lanes 2] [--out FILE]

The report names the sequence count actually run, every operation's count, the number of
checked decryptions and refusals, the failures (must be 0; exit status 1 otherwise) and the time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path

from tests.integration.test_unable_to_decrypt import run_harness
from tests.support import databases
from tests.support.server import ServerProcess


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="unable-to-decrypt harness, benchmark scale")
    parser.add_argument("--sequences", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--lanes", type=int, default=2, help="concurrent harnesses")
    parser.add_argument("--url", help="an already running server (default: start one)")
    parser.add_argument("--out", type=Path, help="also write the JSON report here")
    args = parser.parse_args(argv)

    def run(url: str) -> dict[str, object]:
        report = asyncio.run(run_harness(url, args.sequences, args.seed, lanes=args.lanes))
        return {"benchmark": "unable_to_decrypt", "seed": args.seed, **report.as_json()}

    if args.url:
        result = run(args.url)
    else:
        with tempfile.TemporaryDirectory(prefix="hushroom-utd-") as tmp:
            root = Path(tmp)
            template = databases.make_sqlite_template(root / "template")
            server = ServerProcess(databases.fresh_sqlite(template, root), root / "server")
            server.start()
            try:
                result = run(server.base_url)
            finally:
                server.stop()
    text = json.dumps(result, indent=1)
    sys.stdout.write(text + "\n")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 1 if result["failure_count"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
