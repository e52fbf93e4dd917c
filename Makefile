# Hushroom: one described command per task. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
WEB := web
PYTEST_ARGS ?=
# Two pytest workers (one per core here); whole files stay on one worker, so a file's live
# server is started once. PYTEST_WORKERS=0 runs everything in one process.
PYTEST_WORKERS ?= 2

.PHONY: help install install-py install-py-runtime install-web web-build run test test-py test-wire-latest test-wheel test-web e2e lint services soak bench bench-full dr-rehearsal clean

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(CURDIR)/.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install -q uv==$(UV_VERSION)

install-py: $(UV) ## Install the Python environment from uv.lock: the server extra and the dev group (test and lint tools)
	$(UV) sync --frozen --extra server --group dev

install-py-runtime: $(UV) ## Install the server's runtime dependencies only (what make run needs)
	$(UV) sync --frozen --no-dev --extra server --inexact

install-web: ## Install the web client's npm packages from package-lock.json
	@if [ -f $(WEB)/package.json ]; then \
	  if [ ! -f $(WEB)/node_modules/.installed ] || [ $(WEB)/package-lock.json -nt $(WEB)/node_modules/.installed ]; then \
	    (cd $(WEB) && npm ci --no-audit --no-fund) && touch $(WEB)/node_modules/.installed; \
	  fi; \
	fi

install: install-py install-web ## Install everything (Python and npm)

web-build: install-web ## Build the web client into web/dist
	@if [ -f $(WEB)/package.json ]; then (cd $(WEB) && npm run build); fi

run: install-py-runtime web-build ## Migrate the embedded SQLite database and serve on http://127.0.0.1:8000
	$(UV) run --frozen --no-dev --extra server hushroom db upgrade
	$(UV) run --frozen --no-dev --extra server hushroom serve --no-upgrade

services: ## Start PostgreSQL and Redis if they are down
	@scripts/services.sh

test-py: install-py install-web services ## Python suites (every storage test on SQLite and PostgreSQL)
	$(UV) run pytest $(if $(filter-out 0,$(PYTEST_WORKERS)),-n $(PYTEST_WORKERS) --dist loadfile) --ignore=tests/packaging $(PYTEST_ARGS)

test-wheel: install-py web-build ## Build the wheel (with web/dist), install it in a fresh venv, serve from it; check the systemd units
	HUSHROOM_REQUIRE_WHEEL_TEST=1 $(UV) run pytest tests/packaging -p no:randomly

test-web: install-web ## Web client: typecheck, lint, Vitest
	@if [ -f $(WEB)/package.json ]; then (cd $(WEB) && npm run typecheck && npm run lint && npm test); fi

e2e: install web-build ## Playwright in Debian's Chromium against a real server process (web/e2e)
	@command -v chromium >/dev/null || { echo "chromium is missing: run make services (or apt-get install chromium)" >&2; exit 1; }
	cd $(WEB) && npm run e2e

test-wire-latest: install-py ## Wire tests against the newest released uvicorn and websockets (gateway/wire.py uses their internals)
	@pins="$$(printf 'uvicorn\nwebsockets\n' | $(UV) pip compile - --no-deps --no-header --no-annotate -q --python-version 3.11)"; \
	echo "== wire tests against the newest releases: $$(echo $$pins)"; \
	$(UV) run --frozen $$(for p in $$pins; do printf -- '--with %s ' "$$p"; done) pytest tests/unit/gateway/test_wire.py -q -p no:cacheprovider

test: install services lint test-py test-wire-latest test-wheel test-web e2e ## Install, start services, lint and run every suite

lint: install-py ## ruff + mypy --strict
	$(UV) run ruff check src tests bench examples hatch_build.py
	$(UV) run ruff format --check src tests bench examples hatch_build.py
	$(UV) run mypy
	$(UV) run mypy examples

SOAK_ROUNDS ?= 5
soak: install services ## Repeat the fault tests (Redis SIGKILL + restart, node kill -9) SOAK_ROUNDS times
	@for i in $$(seq $(SOAK_ROUNDS)); do \
	  echo "soak round $$i/$(SOAK_ROUNDS)"; \
	  $(UV) run pytest -p no:randomly tests/multinode/test_redis_restart.py tests/multinode/test_failover.py || exit 1; \
	done

bench: install services ## Load benchmark, quick (with 100 senders, a lone DM, the fallback path) + crypto micro-benchmarks + 10,000 unable-to-decrypt sequences + browser benches + HTTP and WebSocket fuzz + at-rest cost + PITR rehearsal (~65 min) → bench/results/
	$(UV) sync --frozen --group bench
	$(UV) run --frozen --group bench python -m bench.run --quick
	$(UV) run --frozen --group bench python -m bench.utd --sequences 10000 --out bench/results/latest-quick/utd.json
	@if grep -q '"bench:crypto"' $(WEB)/package.json 2>/dev/null; then (cd $(WEB) && npm run bench:crypto -- --quick); fi
	@if grep -q '"bench:unlock"' $(WEB)/package.json 2>/dev/null; then (cd $(WEB) && npm run build && npm run bench:unlock); fi
	@if grep -q '"bench:history"' $(WEB)/package.json 2>/dev/null; then (cd $(WEB) && npm run build && npm run bench:history); fi
	@if grep -q '"bench:keyset"' $(WEB)/package.json 2>/dev/null; then (cd $(WEB) && npm run build && npm run bench:keyset); fi
	@if grep -q '"bench:resync"' $(WEB)/package.json 2>/dev/null; then (cd $(WEB) && npm run build && npm run bench:resync); fi
	@if [ -f bench/crypto_bench.py ]; then $(UV) run --frozen --group bench python bench/crypto_bench.py; fi
	$(UV) run --frozen --group bench python -m bench.fuzz_http --out bench/results/latest-quick/fuzz-http.json
	$(UV) run --frozen --group bench python -m bench.fuzz_ws --out bench/results/latest-quick/fuzz-ws.json
	$(UV) run --frozen python bench/at_rest_cost.py
	$(UV) run --frozen python -m bench.dr_rehearsal

dr-rehearsal: install-py ## Point-in-time recovery rehearsal on a private PostgreSQL 15 (WAL archive, base backup, restore to a timestamp, verify; ~4 min) → bench/results/dr-rehearsal.json
	$(UV) run --frozen python -m bench.dr_rehearsal

bench-full: install services ## The whole benchmark ladder (up to 19,500 connections, 5,000+ DM/s, Redis and node-restart storms of 19,500 sockets; ~45 min)
	$(UV) sync --frozen --group bench
	@# A failed scenario (a missed storm) must not skip the browser benches: its status is kept
	@# and returned last.
	$(UV) run --frozen --group bench python -m bench.run --full; echo $$? > bench/results/.full-status
	@if grep -q '"bench:crypto"' $(WEB)/package.json 2>/dev/null; then (cd $(WEB) && npm run bench:crypto); fi
	@if grep -q '"bench:unlock"' $(WEB)/package.json 2>/dev/null; then (cd $(WEB) && npm run build && npm run bench:unlock); fi
	@if grep -q '"bench:resync"' $(WEB)/package.json 2>/dev/null; then (cd $(WEB) && npm run build && npm run bench:resync); fi
	@if [ -f bench/crypto_bench.py ]; then $(UV) run --frozen --group bench python bench/crypto_bench.py; fi
	@status=$$(cat bench/results/.full-status); rm -f bench/results/.full-status; exit $$status

clean: ## Remove build outputs and caches (keeps ./data)
	rm -rf .pytest_cache .mypy_cache .ruff_cache $(WEB)/dist
