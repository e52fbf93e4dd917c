"""Abuse limits on a real `hushroom serve` over real sockets, at the default limits: clients from
different loopback source addresses, and a trusted proxy's X-Forwarded-For."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.helpers import START_TIMEOUT_S
from tests.support import databases
from tests.support.abuse import AUTH, client_from, right, wrong, wrong_logins
from tests.support.accounts import register
from tests.support.server import ServerProcess

ATTACKER, OWNER, OTHER, SPOOFER = "127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"


@pytest.fixture(scope="module")
def strict_server(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[ServerProcess]:
    # Loopback (127.0.0.1) is the trusted proxy (ServerProcess's default); scale 1: the defaults.
    tmp_path = tmp_path_factory.mktemp("strict")
    server = ServerProcess(
        databases.fresh_sqlite(sqlite_template, tmp_path),
        tmp_path / "server",
        HUSHROOM_RATE_LIMIT_SCALE="1",
    )
    server.start(START_TIMEOUT_S)
    try:
        yield server
    finally:
        server.stop()


async def test_a_thousand_wrong_logins_leave_the_owner_free(strict_server: ServerProcess) -> None:
    url = strict_server.base_url
    async with client_from(OTHER, url) as other:
        alice = await register(other, "Alice")

    started = time.monotonic()
    async with client_from(ATTACKER, url) as attacker:
        statuses = await wrong_logins([attacker], alice.email, 1000)
        elapsed = time.monotonic() - started
        refused = statuses.count(429)
        assert refused >= 950, f"only {refused} of 1000 refused"
        assert set(statuses) <= {401, 429}
        # Refused guesses are cheap (no Argon2): the thousand take seconds, not minutes.
        assert elapsed < 60, elapsed
        limited = await attacker.post(f"{AUTH}/login", json=right(alice))
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1

        # Through the trusted proxy (loopback), the client is the hop it appended.
        proxied = await attacker.post(
            f"{AUTH}/login", json=right(alice), headers={"X-Forwarded-For": "203.0.113.9"}
        )
        assert proxied.status_code == 200, proxied.text

    # The owner, from a second address, logs in at once.
    async with client_from(OWNER, url) as owner:
        ok = await owner.post(f"{AUTH}/login", json=right(alice))
        assert ok.status_code == 200, ok.text


async def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(
    strict_server: ServerProcess,
) -> None:
    async with client_from(OTHER, strict_server.base_url) as c:
        bob = await register(c, "Bob")
    async with client_from(SPOOFER, strict_server.base_url) as spoofer:
        statuses = [
            (
                await spoofer.post(
                    f"{AUTH}/login",
                    json=wrong(bob.email),
                    headers={"X-Forwarded-For": f"198.51.100.{i}"},
                )
            ).status_code
            for i in range(11)
        ]
    # Every guess counted against 127.0.0.4 whatever the header said.
    assert statuses == [401] * 10 + [429]
