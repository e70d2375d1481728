"""The reboot's safe moment, decided on the real core (device/core/kiosk.py) with a fake clock
and a real SQLite journal: never mid-play (playing or paused), outside opening hours, or
after the idle timeout with nobody listening; and the gate asks for exactly one reboot."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from device.core.schedule import parse_window
from device.domain import Library
from device.events import PlaybackEnded
from device.journal.outbox import PlayJournal
from device.update.moment import RebootGate, safe_moment
from tests.conftest import make_library
from tests.core.test_kiosk_remote import AUTOPLAY, MONDAY_8, RemoteRig, desired

HOURS = (parse_window("mon-fri", "10:00", "19:00"),)
MONDAY_11 = datetime(2026, 6, 1, 11, 0, tzinfo=UTC)
OPEN_HOURS = desired(opening_hours=HOURS)


@pytest.fixture
def library(tmp_path: Path) -> Library:
    return make_library(tmp_path / "x.flac", ("festival", 3), ("local", 2))


class Reboots:
    def __init__(self) -> None:
        self.asked = 0

    def __call__(self) -> None:
        self.asked += 1


def test_never_mid_play_even_long_after_the_visitor_left_or_at_closing(
    tmp_path: Path, journal: PlayJournal, library: Library
) -> None:
    rig = RemoteRig(tmp_path, journal, library, wall=MONDAY_11, desired=OPEN_HOURS)
    rig.tap("play")
    token = rig.start_audio(duration_ms=600_000)
    rig.listen(token, 200.0, step_ms=1000)  # the visitor left 200 s ago: idle timeout is 120 s
    assert rig.kiosk.visitor.visitor_present is False
    assert safe_moment(rig.kiosk) is None  # the track plays on: never cut
    rig.tap("play")  # paused: still mid-play while the visitor may come back
    rig.advance(100)
    assert rig.kiosk.mode.value == "paused"
    assert safe_moment(rig.kiosk) is None
    rig.advance(25)  # the idle timeout closes the paused play: now it is over
    assert rig.kiosk.mode.value == "idle"
    assert safe_moment(rig.kiosk) is not None


def test_outside_opening_hours_an_idle_kiosk_may_reboot_at_once(
    tmp_path: Path, journal: PlayJournal, library: Library
) -> None:
    rig = RemoteRig(tmp_path, journal, library, desired=desired(opening_hours=HOURS))
    assert rig.kiosk.calendar.is_open is False  # Monday 08:00
    assert safe_moment(rig.kiosk) == "outside opening hours"
    rig.set_wall(MONDAY_11)
    rig.advance(10)  # the calendar's re-check: open now, and the kiosk just booted
    assert rig.kiosk.calendar.is_open is True
    assert safe_moment(rig.kiosk) is None


def test_with_an_unsynced_clock_the_hours_do_not_count(
    tmp_path: Path, journal: PlayJournal, library: Library
) -> None:
    rig = RemoteRig(tmp_path, journal, library)
    rig.clock.synced = False
    rig.push(desired(opening_hours=HOURS))
    assert rig.kiosk.calendar.clock_unsynced
    assert safe_moment(rig.kiosk) is None  # not "closed": the time of day is unknown
    rig.advance(121)
    assert safe_moment(rig.kiosk) is not None  # but idle with nobody there is


def test_during_opening_hours_only_after_the_idle_timeout_with_nobody_listening(
    tmp_path: Path, journal: PlayJournal, library: Library
) -> None:
    rig = RemoteRig(tmp_path, journal, library, wall=MONDAY_11, desired=OPEN_HOURS)
    rig.advance(100)
    assert safe_moment(rig.kiosk) is None  # 100 s idle: under the 120 s timeout
    rig.tap("up")  # a visitor turns the volume up: presence again
    rig.advance(110)
    assert safe_moment(rig.kiosk) is None
    rig.advance(15)
    assert safe_moment(rig.kiosk) == "idle for 120 s with nobody listening"


def test_an_autoplaying_kiosk_waits_for_the_end_of_the_play(
    tmp_path: Path, journal: PlayJournal, library: Library
) -> None:
    rig = RemoteRig(
        tmp_path, journal, library, wall=MONDAY_11,
        desired=desired(opening_hours=HOURS), **AUTOPLAY,
    )  # fmt: skip
    assert rig.kiosk.mode.value == "playing"  # autoplay, nobody there
    reboots = Reboots()
    gate = RebootGate(reboots)
    gate.arm()
    token = rig.start_audio(duration_ms=300_000)
    rig.listen(token, 250.0, step_ms=1000)
    gate.on_tick(rig.kiosk)
    assert reboots.asked == 0  # mid-play, however long nobody listened
    rig.set_wall(datetime(2026, 6, 1, 19, 0, 30, tzinfo=UTC))
    rig.advance(10)  # closing time: autoplay stops, the kiosk goes idle
    assert rig.kiosk.mode.value == "idle"
    gate.on_tick(rig.kiosk)
    gate.on_tick(rig.kiosk)
    assert reboots.asked == 1 and gate.reason == "outside opening hours"


def test_the_gate_does_nothing_until_armed_and_reboots_once(
    tmp_path: Path, journal: PlayJournal, library: Library
) -> None:
    rig = RemoteRig(tmp_path, journal, library, desired=desired(opening_hours=HOURS))
    reboots = Reboots()
    gate = RebootGate(reboots)
    gate.on_tick(rig.kiosk)
    assert reboots.asked == 0  # safe, but no new slot waits
    gate.arm()
    gate.on_tick(rig.kiosk)
    gate.on_tick(rig.kiosk)
    assert reboots.asked == 1 and not gate.armed


def test_a_refused_reboot_request_is_logged_not_raised(
    tmp_path: Path, journal: PlayJournal, library: Library, caplog: pytest.LogCaptureFixture
) -> None:
    rig = RemoteRig(tmp_path, journal, library, wall=MONDAY_8, desired=desired(opening_hours=HOURS))

    def refuse() -> None:
        raise OSError("no reboot outside systemd")

    gate = RebootGate(refuse)
    gate.arm()
    gate.on_tick(rig.kiosk)
    assert "no reboot outside systemd" in caplog.text
    rig.kiosk.handle(PlaybackEnded(-1, "eof"))  # the core carries on
