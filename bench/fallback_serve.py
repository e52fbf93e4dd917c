"""`hushroom serve` on the gateway's fallback path: plain ASGI sends instead of the direct frame
writes (src/hushroom/gateway/wire.py), as when the wire's start-up self-check fails after an
upgrade of uvicorn or websockets. For the `dm_fallback` bench row, so the fallback's cost is known.

The server has no setting that turns the direct writes off, so this makes the self-check itself
report something missing: `hushroom serve` then runs exactly as it would after a failed check
(one warning in the log, `hushroom_wire_direct_writes` 0, WireProtocol never offers itself).
uvicorn runs the app in this process (one worker), so the patch is in effect when the app's
lifespan runs the check.

Run: `python -m bench.fallback_serve serve` (the same arguments and environment as
`python -m hushroom.cli`).
"""

from __future__ import annotations

from hushroom.gateway import wire

FORCED = "forced off by bench.fallback_serve"


def _forced_missing() -> list[str]:
    return [FORCED]


def main() -> None:
    wire.missing_internals = _forced_missing
    from hushroom.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
