"""Hours in the site's time zone across daylight-saving changes, the site's choice for a
visitor's play outside opening hours, and a playlist's own hours: the real core, a fake clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from device.core.defaults import CALENDAR_CHECK_S
from device.core.opening import next_opening
from device.core.schedule import parse_window
from device.display.model import ErrorScreen
from device.domain import Library, PlaylistId, StartedBy
from device.journal.outbox import PlayJournal
from tests.conftest import make_library
from tests.core.test_kiosk_remote import AUTOPLAY, RemoteRig, desired

PARIS = ZoneInfo("Europe/Paris")
DAILY = (parse_window("mon-sun", "10:00", "19:00"),)


@pytest.fixture
def library(tmp_path: Path) -> Library:
    return make_library(tmp_path / "x.flac", ("festival", 2), ("local", 2))


def at(rig: RemoteRig, moment: datetime) -> None:
    rig.set_wall(moment)
    rig.advance(CALENDAR_CHECK_S)


@pytest.mark.parametrize(
    ("before", "after"),
    [  # the same UTC moment, 08:30, on the Saturday and the Sunday of each change
        (datetime(2026, 3, 28, 8, 30, tzinfo=UTC), datetime(2026, 3, 29, 8, 30, tzinfo=UTC)),
        (datetime(2026, 10, 24, 8, 30, tzinfo=UTC), datetime(2026, 10, 25, 8, 30, tzinfo=UTC)),
    ],
    ids=["march", "october"],
)
def test_opening_hours_are_read_in_paris_on_both_sides_of_a_daylight_saving_change(
    tmp_path: Path, journal: PlayJournal, library: Library, before: datetime, after: datetime
) -> None:
    rig = RemoteRig(tmp_path, journal, library, wall=before)
    rig.push(desired(opening_hours=DAILY, timezone="Europe/Paris"))
    paris_before = before.astimezone(PARIS).hour * 60 + before.astimezone(PARIS).minute
    assert rig.kiosk.calendar.is_open == (paris_before >= 600)
    at(rig, after)
    paris_after = after.astimezone(PARIS).hour * 60 + after.astimezone(PARIS).minute
    assert rig.kiosk.calendar.is_open == (paris_after >= 600)
    assert rig.kiosk.calendar.is_open != (paris_before >= 600)  # the change moved it


def test_march_opens_at_ten_in_summer_time_and_october_at_ten_in_winter_time() -> None:
    march = next_opening(DAILY, datetime(2026, 3, 29, 0, 30, tzinfo=PARIS))
    october = next_opening(DAILY, datetime(2026, 10, 25, 0, 30, tzinfo=PARIS))
    assert march is not None and march.astimezone(UTC) == datetime(2026, 3, 29, 8, tzinfo=UTC)
    assert october is not None
    assert october.astimezone(UTC) == datetime(2026, 10, 25, 9, tzinfo=UTC)


def test_a_window_starting_in_the_skipped_hour_opens_just_after_the_gap() -> None:
    night = (parse_window("sun", "02:30", "04:00"),)
    moment = next_opening(night, datetime(2026, 3, 29, 0, 0, tzinfo=PARIS))
    assert moment is not None and moment.astimezone(UTC) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def test_outside_hours_a_visitor_may_play_by_default(
    tmp_path: Path, journal: PlayJournal, library: Library
) -> None:
    rig = RemoteRig(tmp_path, journal, library)  # Monday 08:00 UTC
    rig.push(desired(opening_hours=DAILY, timezone="UTC"))
    assert not rig.kiosk.calendar.is_open
    rig.tap("play")
    assert rig.player.playing is not None


def test_a_site_that_refuses_when_closed_says_when_it_opens_again(
    tmp_path: Path, journal: PlayJournal, library: Library
) -> None:
    rig = RemoteRig(tmp_path, journal, library, wall=datetime(2026, 10, 25, 8, 30, tzinfo=UTC))
    rig.push(desired(opening_hours=DAILY, timezone="Europe/Paris", when_closed="refuse"))
    rig.tap("play")
    assert rig.player.playing is None
    assert rig.display.last() == ErrorScreen("Closed", "Back at 10:00.")
    at(rig, datetime(2026, 10, 25, 9, 0, tzinfo=UTC))  # 10:00 in Paris, winter time
    rig.tap("play")
    assert rig.player.playing is not None


def test_refusing_when_closed_names_the_next_day_in_french(
    tmp_path: Path, journal: PlayJournal, library: Library
) -> None:
    rig = RemoteRig(tmp_path, journal, library, wall=datetime(2026, 6, 1, 20, 0, tzinfo=UTC))
    weekdays = (parse_window("mon", "10:00", "19:00"), parse_window("wed", "14:00", "18:00"))
    rig.push(desired(opening_hours=weekdays, when_closed="refuse", language="fr", timezone="UTC"))
    rig.tap("play")
    assert rig.display.last() == ErrorScreen("Fermé", "Retour à mer 14:00.")


def test_an_unsynced_clock_never_refuses(
    tmp_path: Path, journal: PlayJournal, library: Library
) -> None:
    rig = RemoteRig(tmp_path, journal, library)
    rig.clock.synced = False
    rig.push(desired(opening_hours=DAILY, when_closed="refuse"))
    rig.tap("play")
    assert rig.player.playing is not None


def with_hours(library: Library, playlist: str, spec: tuple[str, str, str]) -> Library:
    window = parse_window(*spec)
    return replace(
        library,
        playlists=tuple(
            replace(p, hours=(window,)) if p.id == playlist else p for p in library.playlists
        ),
    )


def test_a_playlist_outside_its_hours_is_skipped_and_not_started(
    tmp_path: Path, journal: PlayJournal, library: Library
) -> None:
    library = with_hours(library, "local", ("mon", "14:00", "15:00"))
    rig = RemoteRig(tmp_path, journal, library)  # Monday 08:00 UTC
    rig.tap("next", seconds=1.5)  # next playlist: "local" is not offered, back to "festival"
    assert rig.kiosk.playback.selected == "festival"
    rig.kiosk.playback.selected = PlaylistId("local")  # chosen before its hours closed
    rig.tap("play")
    assert rig.player.playing is None
    assert rig.display.last() == ErrorScreen("Not available now", "'Local' from 14:00.")
    at(rig, datetime(2026, 6, 1, 14, 0, tzinfo=UTC))
    rig.tap("next", seconds=1.5)
    rig.tap("next", seconds=1.5)  # festival, then local, now inside its hours
    assert rig.kiosk.playback.selected == "local"
    rig.tap("play")
    current = rig.kiosk.playback.current
    assert current is not None and current.track.id == "local-t0"


def test_a_playlist_whose_hours_all_passed_shows_when_it_comes_back(
    tmp_path: Path, journal: PlayJournal, library: Library
) -> None:
    library = make_library(tmp_path / "x.flac", ("night", 1))
    library = with_hours(library, "night", ("tue", "22:00", "23:00"))
    rig = RemoteRig(tmp_path, journal, library)  # Monday 08:00 UTC
    rig.tap("play")
    assert rig.player.playing is None
    assert rig.display.last() == ErrorScreen("Not available now", "'Night' from tue 22:00.")


def test_autoplay_of_a_playlist_outside_its_hours_waits_silently_then_starts_it(
    tmp_path: Path, journal: PlayJournal, library: Library
) -> None:
    library = with_hours(library, "festival", ("mon", "14:00", "15:00"))
    rig = RemoteRig(tmp_path, journal, library, **AUTOPLAY)  # Monday 08:00 UTC
    assert rig.player.playing is None
    assert not isinstance(rig.display.last(), ErrorScreen)
    rig.advance(CALENDAR_CHECK_S)  # the kiosk runs on, idle
    assert rig.player.playing is None
    at(rig, datetime(2026, 6, 1, 14, 0, tzinfo=UTC))  # its hours begin: autoplay starts it
    current = rig.kiosk.playback.current
    assert current is not None and current.playlist.id == "festival"
    assert current.started_by is StartedBy.AUTOPLAY
