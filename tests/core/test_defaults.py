"""The defaults controller: which playlist is the public default, the calendar and its re-check,
and applying the tenant's desired state, through the real core with a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from device.core.defaults import CALENDAR_CHECK_S
from device.core.desired import Calendar, ScheduledPlaylist, VolumeLimits, describe_calendar
from device.core.schedule import parse_window
from device.domain import Library, PlaylistId, StartedBy
from device.journal.outbox import PlayJournal
from tests.conftest import make_library
from tests.core.test_kiosk_remote import AUTOPLAY, RemoteRig, desired

HOURS = (parse_window("mon-fri", "10:00", "19:00"),)  # the rig's wall clock: Monday 08:00


@pytest.fixture
def library(tmp_path: Path) -> Library:
    return make_library(tmp_path / "x.flac", ("festival", 2), ("local", 2))


def test_the_default_is_the_schedule_then_the_pushed_featured_then_the_library_featured(
    tmp_path: Path, journal: PlayJournal, library: Library
) -> None:
    rig = RemoteRig(tmp_path, journal, library)
    defaults = rig.kiosk.defaults
    assert defaults.default() == (library.find(PlaylistId("festival")), StartedBy.AUTOPLAY)
    rig.push(desired(featured=PlaylistId("local")))
    assert defaults.featured_id() == "local"
    window = parse_window("mon", "07:00", "09:00")
    rig.push(desired(2, schedule=(ScheduledPlaylist(PlaylistId("festival"), window),)))
    assert defaults.default() == (library.find(PlaylistId("festival")), StartedBy.SCHEDULE)


def test_a_pushed_featured_playlist_not_in_the_library_yet_gives_way(
    tmp_path: Path, journal: PlayJournal, library: Library
) -> None:
    rig = RemoteRig(tmp_path, journal, library)
    rig.push(desired(featured=PlaylistId("still-downloading")))
    assert rig.kiosk.defaults.featured_id() == "festival"


def test_autoplay_may_run_only_when_configured_and_open(
    tmp_path: Path, journal: PlayJournal, library: Library
) -> None:
    assert not RemoteRig(tmp_path, journal, library).kiosk.defaults.may_autoplay()
    rig = RemoteRig(tmp_path, journal, library, **AUTOPLAY)
    assert rig.kiosk.defaults.may_autoplay()
    rig.push(desired(opening_hours=HOURS))
    assert not rig.kiosk.defaults.may_autoplay()


def test_the_calendar_is_checked_again_only_when_the_state_uses_the_clock(
    tmp_path: Path, journal: PlayJournal, library: Library
) -> None:
    rig = RemoteRig(tmp_path, journal, library)
    defaults = rig.kiosk.defaults
    assert defaults.deadline() is None
    rig.push(desired(volume=VolumeLimits(20, 50)))
    assert defaults.deadline() is None
    rig.push(desired(2, opening_hours=HOURS))
    assert defaults.deadline() == rig.clock.now + CALENDAR_CHECK_S
    rig.advance(CALENDAR_CHECK_S)
    assert defaults.deadline() == rig.clock.now + CALENDAR_CHECK_S


def test_the_same_desired_state_again_changes_nothing(
    tmp_path: Path, journal: PlayJournal, library: Library
) -> None:
    rig = RemoteRig(tmp_path, journal, library)
    rig.push(desired(volume=VolumeLimits(10, 30)))
    calls = len(rig.player.calls)
    rig.push(desired(volume=VolumeLimits(10, 30)))
    assert len(rig.player.calls) == calls


def test_what_autoplay_started_is_the_default_and_a_visitor_choice_is_not(
    tmp_path: Path, journal: PlayJournal, library: Library
) -> None:
    rig = RemoteRig(tmp_path, journal, library, **AUTOPLAY)
    defaults = rig.kiosk.defaults
    assert rig.kiosk.current is not None and defaults.is_default(rig.kiosk.current)
    rig.tap("next", seconds=1.5)  # the visitor picks "local"
    assert rig.kiosk.current is not None and not defaults.is_default(rig.kiosk.current)


def test_defaults_changed_before_start_wait_for_start(
    tmp_path: Path, journal: PlayJournal, library: Library
) -> None:
    rig = RemoteRig(tmp_path, journal, library, **AUTOPLAY)
    rig.kiosk.running = False  # as before the loop starts
    before = rig.kiosk.defaults.key()
    rig.push(desired(featured=PlaylistId("local")))
    assert rig.kiosk.defaults.key() != before
    assert rig.kiosk.status.playlist_id == "festival" and rig.kiosk.playback.preloaded is not None


def test_the_calendar_is_described_for_the_technician() -> None:
    assert describe_calendar(Calendar()) == "open"
    assert describe_calendar(Calendar(False)) == "closed"
    assert describe_calendar(Calendar(scheduled=PlaylistId("local"))) == "open, schedule local"
    unsynced = describe_calendar(Calendar(clock_unsynced=True))
    assert unsynced == "clock not synced: hours and schedule ignored"


def test_a_schedule_window_in_the_pushed_time_zone_is_read_there(
    tmp_path: Path, journal: PlayJournal, library: Library
) -> None:
    window = parse_window("mon", "10:00", "11:00")  # Paris, UTC+2 in June
    state = desired(schedule=(ScheduledPlaylist(PlaylistId("local"), window),))
    rig = RemoteRig(tmp_path, journal, library, wall=datetime(2026, 6, 1, 8, 30, tzinfo=UTC))
    rig.push(state)
    assert rig.kiosk.calendar.scheduled is None
    rig.push(desired(2, timezone="Europe/Paris", schedule=state.schedule))
    assert rig.kiosk.calendar.scheduled == "local"
