"""Hushroom load benchmark: `uv run python -m bench.run --quick|--full` (see docs/performance.md).

Never imported by the test suites: it needs the `bench` dependency group (matplotlib, psutil).
"""
