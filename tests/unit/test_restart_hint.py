"""The SDK's reading of a restarting server's `reconnect_within_ms` close hint."""

from __future__ import annotations

import pytest

from hushroom.client.pacing import restart_spread_s
from hushroom.gateway.protocol import reconnect_spread_ms


def test_a_restart_close_gives_its_spread_in_seconds() -> None:
    assert restart_spread_s(1012, "server restarting; reconnect_within_ms=4750") == 4.75


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (1012, "server restarting"),  # a node from before the hint: the backoff applies
        (1013, "try again later; reconnect_within_ms=4000"),  # only a restart's close counts
        (None, ""),
        (1012, "reconnect_within_ms=-5"),
    ],
)
def test_no_usable_hint_leaves_the_backoff(code: int | None, reason: str) -> None:
    assert restart_spread_s(code, reason) is None


def test_an_outsized_hint_is_capped_at_a_minute() -> None:
    assert restart_spread_s(1012, "server restarting; reconnect_within_ms=999999") == 60.0


def test_the_servers_close_reason_is_read_back_by_the_sdk() -> None:
    # The reason the gateway writes (tests/unit/gateway/test_protocol.py checks its frame).
    reason = f"server restarting; reconnect_within_ms={reconnect_spread_ms(9_750)}"
    assert restart_spread_s(1012, reason) == 4.875
