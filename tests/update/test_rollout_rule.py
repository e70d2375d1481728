"""The tenant's rollout pause rule (tenant/firmware_rollout.py) and percentage selection:
pure functions over counts."""

from __future__ import annotations

import pytest

from tenant.firmware_rollout import Tally, in_percent, pause_verdict, tally


def test_kiosks_are_counted_by_their_last_reported_phase() -> None:
    phases = ["committed", "committed", "rolled_back", "refused", "downloading", None]
    assert tally(phases) == Tally(committed=2, failed=2, pending=2)


def test_a_rollout_pauses_only_above_the_share_of_rollbacks() -> None:
    assert not pause_verdict(Tally(committed=9, failed=1), 10).pause  # exactly 10 %: goes on
    verdict = pause_verdict(Tally(committed=8, failed=1), 10)  # 1 of 9: 11 %
    assert (
        verdict.pause
        and verdict.reason == "1 of 9 kiosks rolled back or refused: above 10 %, rollout paused"
    )
    assert not pause_verdict(Tally(pending=50)).pause  # nothing decided yet
    assert pause_verdict(Tally(failed=1, pending=50)).pause  # the first kiosk came back


def test_zero_percent_pauses_at_the_first_rollback_and_100_never() -> None:
    assert pause_verdict(Tally(committed=99, failed=1), 0).pause
    assert not pause_verdict(Tally(failed=5), 100).pause
    with pytest.raises(ValueError, match="max_rollback_percent: 101"):
        pause_verdict(Tally(), 101)


def test_a_percentage_rollout_grows_by_adding_kiosks() -> None:
    devices = [f"jk-{i:04x}" for i in range(1000)]
    ten = {d for d in devices if in_percent(d, "0.2.0", 10)}
    thirty = {d for d in devices if in_percent(d, "0.2.0", 30)}
    assert ten <= thirty
    assert 50 < len(ten) < 150 and 220 < len(thirty) < 380
    assert not any(in_percent(d, "0.2.0", 0) for d in devices)
    assert all(in_percent(d, "0.2.0", 100) for d in devices)
    assert ten != {d for d in devices if in_percent(d, "0.3.0", 10)}
