"""The point-in-time recovery rehearsal's verdicts (bench/dr_rehearsal.py), on made-up rows: what
must be restored, what must not, and what may go either way around the target time T."""

from __future__ import annotations

from typing import Any

from bench.dr_rehearsal import CLOCK_TOLERANCE_S, Sent, checksum, iso, verify_rows

T = 1_800_000_000.0
CONV = "c0"


def _sent(cmid: str, seq: int, start: float, ack: float | None) -> Sent:
    return Sent(
        conversation_id=CONV,
        kind="room",
        client_msg_id=cmid,
        sender="u",
        text_sha256="x",
        send_start=start,
        ack_time=ack,
        seq=seq if ack is not None else None,
    )


def _row(cmid: str, seq: int, commit: float) -> dict[str, Any]:
    return {
        "conv": CONV,
        "seq": seq,
        "client_msg_id": cmid,
        "row_sha256": f"h-{cmid}",
        "commit_ts": commit,
    }


# a: acked well before T; b: in flight at T, committed just before it; c: in flight at T,
# committed just after it; d: sent after T.
SENT = [
    _sent("a", 1, T - 2.0, T - 1.9),
    _sent("b", 2, T - 0.01, T + 0.02),
    _sent("c", 3, T - 0.005, T + 0.03),
    _sent("d", 4, T + 1.0, T + 1.1),
]
ORIGINAL = [_row("a", 1, T - 1.95), _row("b", 2, T - 0.001), _row("c", 3, T + 0.001)]
ORIGINAL.append(_row("d", 4, T + 1.05))


def test_exactly_the_rows_committed_by_t_pass() -> None:
    checks = verify_rows(SENT, ORIGINAL, ORIGINAL[:2], T)
    assert checks["rows_ok"]
    assert checks["acked_before_T"] == 1
    assert checks["sent_after_T"] == 1
    assert checks["in_flight_at_T"] == 2
    assert checks["in_flight_at_T_present"] == 1
    assert checks["expected_checksum"] == checks["restored_checksum"]


def test_a_lost_acked_message_fails() -> None:
    checks = verify_rows(SENT, ORIGINAL, [_row("b", 1, T - 0.001)], T)
    assert checks["acked_before_T_lost"] == 1
    assert not checks["rows_ok"]


def test_a_message_sent_after_t_fails() -> None:
    checks = verify_rows(SENT, ORIGINAL, [*ORIGINAL[:2], _row("d", 3, T - 0.0005)], T)
    assert checks["sent_after_T_present"] == 1
    assert not checks["rows_ok"]


def test_a_row_committed_after_t_or_changed_fails() -> None:
    # Recovery went past T: c (committed after T) is there.
    assert not verify_rows(SENT, ORIGINAL, ORIGINAL[:3], T)["rows_ok"]
    # Recovery stopped early: b (committed before T, acked after) is missing.
    assert not verify_rows(SENT, ORIGINAL, ORIGINAL[:1], T)["rows_ok"]
    # Same messages, other bytes.
    changed = [ORIGINAL[0], {**ORIGINAL[1], "row_sha256": "other"}]
    assert not verify_rows(SENT, ORIGINAL, changed, T)["rows_ok"]


def test_a_wrong_seq_fails() -> None:
    restored = [{**ORIGINAL[0], "seq": 2}, {**ORIGINAL[1], "seq": 1}]
    checks = verify_rows(SENT, ORIGINAL, restored, T)
    assert checks["acked_before_T_wrong_seq"] == 1
    assert not checks["rows_ok"]


def test_the_tolerance_is_below_a_millisecond_or_equal() -> None:
    assert CLOCK_TOLERANCE_S <= 0.001
    # T is written for recovery_target_time with microseconds, in UTC.
    assert iso(T + 0.5) == "2027-01-15 08:00:00.500000+00"


def test_checksum_ignores_order_but_not_content() -> None:
    rows = ORIGINAL[:2]
    assert checksum(rows, "row_sha256") == checksum(list(reversed(rows)), "row_sha256")
    assert checksum(rows, "row_sha256") != checksum(rows[:1], "row_sha256")
