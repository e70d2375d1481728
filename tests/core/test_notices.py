"""Notices: toasts and overlays that expire, identify, and the last errors kept."""

from __future__ import annotations

from device.core.notices import ERROR_TOAST_S, ERRORS_KEPT, Notices
from device.display.model import ErrorScreen, VolumeScreen
from tests.fakes import FakeClock


def test_a_toast_shows_until_its_time_is_up() -> None:
    clock = FakeClock()
    notices = Notices(clock)
    notices.toast("Cannot play track", "Song")
    assert notices.overlay == ErrorScreen("Cannot play track", "Song")
    assert notices.deadlines() == [clock.now + ERROR_TOAST_S]
    notices.expire(clock.now + ERROR_TOAST_S - 0.01)
    assert notices.overlay is not None
    notices.expire(clock.now + ERROR_TOAST_S)
    assert notices.overlay is None and notices.deadlines() == []


def test_a_new_overlay_replaces_the_last_one_with_its_own_time() -> None:
    clock = FakeClock()
    notices = Notices(clock)
    notices.toast("Track unavailable", "Song")
    notices.show(VolumeScreen(50, 20, 60), 1.5)
    assert notices.overlay == VolumeScreen(50, 20, 60)
    assert notices.deadlines() == [clock.now + 1.5]


def test_identify_lasts_the_seconds_asked_for() -> None:
    clock = FakeClock()
    notices = Notices(clock)
    notices.identify(30)
    assert notices.identify_until == clock.now + 30
    notices.expire(clock.now + 29)
    assert notices.identify_until is not None
    notices.expire(clock.now + 30)
    assert notices.identify_until is None


def test_only_the_last_errors_are_kept() -> None:
    notices = Notices(FakeClock())
    for n in range(ERRORS_KEPT + 3):
        notices.note_error(f"error {n}")
    assert len(notices.errors) == ERRORS_KEPT
    assert notices.errors[0] == "error 3" and notices.errors[-1] == f"error {ERRORS_KEPT + 2}"
