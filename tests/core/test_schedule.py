"""Weekly windows, opening hours and the choice of the public default playlist (pure rules)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from device.core.desired import (
    ALWAYS_OPEN,
    Calendar,
    DesiredState,
    ScheduledPlaylist,
    calendar_for,
    default_playlist,
)
from device.core.schedule import WindowError, parse_days, parse_window
from device.domain import PlaylistId, StartedBy
from tests.conftest import make_library

MONDAY = datetime(2026, 6, 1)  # a Monday


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """Local time `day` days after Monday 1 June 2026 (0 = Monday)."""
    return MONDAY.replace(day=1 + day, hour=hour, minute=minute)


def test_days_are_single_days_ranges_and_lists() -> None:
    assert parse_days("mon") == {0}
    assert parse_days("mon-fri") == {0, 1, 2, 3, 4}
    assert parse_days("sat,sun") == {5, 6}
    assert parse_days("tue,thu-sat") == {1, 3, 4, 5}
    assert parse_days("fri-mon") == {4, 5, 6, 0}  # a range may wrap over the week-end
    with pytest.raises(WindowError, match="expected days like"):
        parse_days("monday")


def test_a_day_window_includes_its_start_and_excludes_its_end() -> None:
    window = parse_window("mon-sat", "10:00", "19:00")
    assert not window.contains(at(0, 9, 59))
    assert window.contains(at(0, 10, 0))
    assert window.contains(at(5, 18, 59))
    assert not window.contains(at(0, 19, 0))
    assert not window.contains(at(6, 12, 0))  # Sunday


def test_a_window_ending_at_midnight_or_24_00_covers_the_evening() -> None:
    for end in ("24:00", "00:00"):
        window = parse_window("fri", "20:00", end)
        assert window.contains(at(4, 23, 59))
        assert not window.contains(at(5, 0, 0))


def test_an_overnight_window_belongs_to_the_day_it_starts() -> None:
    window = parse_window("fri", "22:00", "02:00")
    assert window.overnight
    assert window.contains(at(4, 22, 0))
    assert window.contains(at(5, 1, 59))  # Saturday night, still Friday's window
    assert not window.contains(at(5, 2, 0))
    assert not window.contains(at(3, 23, 0))  # Thursday
    assert not window.contains(at(4, 1, 0))  # Friday early morning: Thursday's night


@pytest.mark.parametrize(
    ("days", "start", "end", "problem"),
    [
        ("mon", "10:00", "10:00", "from and to are both 10:00"),
        ("mon", "24:00", "10:00", "from: 24:00 can only end a window"),
        ("mon", "9:00", "10:00", "from: expected a time HH:MM, got '9:00'"),
        ("mon", "09:00", "25:00", "to: expected a time HH:MM"),
        ("weekdays", "09:00", "10:00", "days: expected days like"),
    ],
)
def test_a_bad_window_names_its_field(days: str, start: str, end: str, problem: str) -> None:
    with pytest.raises(WindowError, match=problem):
        parse_window(days, start, end)


def test_window_description_reads_back() -> None:
    assert parse_window("sat,sun", "09:30", "24:00").describe() == "sat,sun 09:30-24:00"


HOURS = DesiredState(
    version=1,
    playlists=(PlaylistId("festival"), PlaylistId("local")),
    opening_hours=(parse_window("mon-fri", "10:00", "19:00"),),
    schedule=(ScheduledPlaylist(PlaylistId("local"), parse_window("wed", "14:00", "16:00")),),
)


def test_calendar_follows_hours_and_schedule() -> None:
    assert calendar_for(HOURS, at(0, 9)) == Calendar(is_open=False)
    assert calendar_for(HOURS, at(0, 10)) == Calendar(is_open=True)
    assert calendar_for(HOURS, at(2, 15)) == Calendar(is_open=True, scheduled=PlaylistId("local"))
    assert calendar_for(HOURS, at(5, 15)) == Calendar(is_open=False)


def test_without_a_synced_clock_hours_and_schedule_are_ignored() -> None:
    assert calendar_for(HOURS, None) == Calendar(is_open=True, clock_unsynced=True)
    no_clock_rules = DesiredState(version=1, playlists=())
    assert calendar_for(no_clock_rules, None) == ALWAYS_OPEN
    assert calendar_for(None, at(0, 3)) == ALWAYS_OPEN


def test_default_playlist_prefers_schedule_then_pushed_then_document(tmp_path: Path) -> None:
    library = make_library(tmp_path / "x.flac", ("festival", 1), ("local", 1), ("jazz", 1))
    document_default = library.featured_playlist()
    assert document_default is not None

    def chosen(desired: DesiredState | None, calendar: Calendar) -> tuple[str | None, StartedBy]:
        playlist, started_by = default_playlist(library, desired, calendar)
        return (playlist.id if playlist else None), started_by

    pushed = DesiredState(version=2, playlists=(), featured=PlaylistId("jazz"))
    assert chosen(None, ALWAYS_OPEN) == (document_default.id, StartedBy.AUTOPLAY)
    assert chosen(pushed, ALWAYS_OPEN) == ("jazz", StartedBy.AUTOPLAY)
    scheduled = Calendar(scheduled=PlaylistId("local"))
    assert chosen(pushed, scheduled) == ("local", StartedBy.SCHEDULE)
    # Not downloaded yet: the next rule answers, the kiosk never waits in silence.
    absent = DesiredState(version=3, playlists=(), featured=PlaylistId("not-here"))
    assert chosen(absent, Calendar(scheduled=PlaylistId("gone"))) == (
        document_default.id,
        StartedBy.AUTOPLAY,
    )
