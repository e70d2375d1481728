"""Backoff: exponential ceilings, full jitter below them, a cap, a floor, and a reset."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from device.platform.backoff import Backoff


class Script:
    """An injected random source returning the values given, in order."""

    def __init__(self, *values: float) -> None:
        self.values = list(values)

    def __call__(self) -> float:
        return self.values.pop(0)


def test_ceilings_double_from_the_base_up_to_the_cap() -> None:
    backoff = Backoff(base_s=1.0, cap_s=10.0, rand=lambda: 0.999999)
    delays = [backoff.next_delay() for _ in range(7)]
    assert delays == pytest.approx([1, 2, 4, 8, 10, 10, 10], rel=1e-5)


def test_delays_are_jittered_uniformly_below_the_ceiling() -> None:
    backoff = Backoff(base_s=1.0, cap_s=100.0, rand=Script(0.5, 0.25, 0.5, 0.0))
    assert backoff.next_delay() == 0.5  # 0.5 of 1
    assert backoff.next_delay() == 0.5  # 0.25 of 2
    assert backoff.next_delay() == 2.0  # 0.5 of 4
    assert backoff.next_delay() == 0.1  # never below the floor: no busy loop


def test_a_success_starts_again_from_the_base() -> None:
    backoff = Backoff(base_s=1.0, cap_s=60.0, rand=lambda: 0.999999)
    for _ in range(5):
        backoff.next_delay()
    backoff.reset()
    assert backoff.failures == 0
    assert backoff.next_delay() == pytest.approx(1.0, rel=1e-5)


def test_thousands_of_failures_stay_at_the_cap_without_overflowing() -> None:
    backoff = Backoff(base_s=1.0, cap_s=300.0, rand=lambda: 0.999999)
    for _ in range(5000):
        delay = backoff.next_delay()
    assert delay == pytest.approx(300.0, rel=1e-5)


@pytest.mark.parametrize(
    ("base_s", "cap_s", "factor", "floor_s"),
    [(0, 1, 2, None), (5, 1, 2, None), (1, 5, 0.5, None), (1, 5, 2, 2.0)],
    ids=["zero-base", "cap-below-base", "shrinking", "floor-above-base"],
)
def test_nonsensical_settings_are_refused(
    base_s: float, cap_s: float, factor: float, floor_s: float | None
) -> None:
    with pytest.raises(ValueError):
        Backoff(base_s, cap_s, factor=factor, floor_s=floor_s)


@given(
    base=st.floats(0.01, 10),
    extra=st.floats(0, 1000),
    draws=st.lists(st.floats(0, 1, exclude_max=True), min_size=1, max_size=40),
)
def test_every_delay_lies_between_the_floor_and_the_cap(
    base: float, extra: float, draws: list[float]
) -> None:
    backoff = Backoff(base_s=base, cap_s=base + extra, rand=Script(*draws))
    for n, _ in enumerate(draws, start=1):
        delay = backoff.next_delay()
        assert backoff.floor_s <= delay <= max(backoff.floor_s, backoff.ceiling(n))
        assert delay <= base + extra


def test_without_jitter_a_hardware_retry_waits_the_base_then_doubles_up_to_the_cap() -> None:
    backoff = Backoff(base_s=5.0, cap_s=60.0, jitter=False, rand=lambda: 0.0)
    assert [backoff.next_delay() for _ in range(6)] == [5.0, 10.0, 20.0, 40.0, 60.0, 60.0]
    backoff.reset()
    assert backoff.next_delay() == 5.0
