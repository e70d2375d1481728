"""The core applying the tenant's desired state (volume limits, featured playlist, opening hours,
schedule) and the identify command, driven by events and a fake clock over a real journal."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from device.config import parse_config
from device.core.desired import DesiredState, ScheduledPlaylist, VolumeLimits
from device.core.kiosk import CALENDAR_CHECK_S, Kiosk, KioskContext, Mode
from device.core.schedule import parse_window
from device.display.model import AttractScreen, IdentifyScreen, NowPlayingScreen
from device.domain import EndReason, Library, PlaylistId, StartedBy
from device.events import DesiredStateReceived, IdentifyRequested, PlaybackEnded
from device.journal.outbox import PlayJournal
from tests.conftest import make_library
from tests.core.test_kiosk import CONFIG, Rig
from tests.fakes import FakeClock, FakeDisplay, FakePlayer

LISTS = (PlaylistId("festival"), PlaylistId("local"))
MONDAY_8 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)  # a Monday morning, before opening


class RemoteRig(Rig):
    """Like the kiosk tests' rig, with the wall clock set and zone fixed (UTC)."""

    def __init__(
        self,
        tmp_path: Path,
        journal: PlayJournal,
        library: Library,
        *,
        wall: datetime = MONDAY_8,
        desired: DesiredState | None = None,
        **sections: Any,
    ) -> None:
        self.config = parse_config(
            {**CONFIG, "device": {"name": "Salle 2"}, **sections}, "test.toml", tmp_path
        )
        self.clock = FakeClock()
        self.set_wall(wall)
        self.player = FakePlayer()
        self.display = FakeDisplay()
        self.journal = journal
        self.kiosk = Kiosk(
            self.config,
            self.player,
            self.display,
            journal,
            self.clock,
            library,
            context=KioskContext(device_id="jk-aaaabbbbccccddddeeee"),
            timezone=UTC,
        )
        if desired is not None:  # as the daemon does with the saved state, before the loop
            self.kiosk.handle(DesiredStateReceived(desired))
        self.kiosk.start()

    def set_wall(self, moment: datetime) -> None:
        self.clock.wall_ms = int(moment.timestamp() * 1000) - int((self.clock.now - 1000) * 1000)

    def push(self, desired: DesiredState) -> None:
        self.kiosk.handle(DesiredStateReceived(desired))

    def finish_track(self) -> None:
        token = self.start_audio(duration_ms=1000)
        self.listen(token, 1.0)
        self.kiosk.handle(PlaybackEnded(token, "eof"))


def mode(rig: RemoteRig) -> Mode:
    return rig.kiosk.status.mode


def desired(version: int = 1, **fields: Any) -> DesiredState:
    return DesiredState(version=version, playlists=LISTS, **fields)


@pytest.fixture
def library(tmp_path: Path) -> Library:
    return make_library(tmp_path / "x.flac", ("festival", 2), ("local", 2))


AUTOPLAY: dict[str, Any] = {"playback": {"autoplay": True}}


def test_volume_limits_clamp_the_volume_at_once_and_bound_the_buttons(
    tmp_path: Path, journal: PlayJournal, library: Library
) -> None:
    rig = RemoteRig(tmp_path, journal, library)  # configured 20-60, default 40
    rig.push(desired(volume=VolumeLimits(10, 30)))
    assert rig.kiosk.volume == 30 and rig.player.volume == 30
    rig.tap("up")
    assert rig.player.volume == 30
    rig.tap("down")
    assert rig.player.volume == 20
    rig.push(desired(2))  # no limits any more: the configured ones again
    assert (rig.kiosk.rules.minimum, rig.kiosk.rules.maximum) == (20, 60)
    rig.tap("up")
    rig.tap("up")
    assert rig.player.volume == 40


def test_the_idle_reset_default_volume_stays_inside_the_tenant_limits(
    tmp_path: Path, journal: PlayJournal, library: Library
) -> None:
    rig = RemoteRig(tmp_path, journal, library)
    rig.push(desired(volume=VolumeLimits(50, 70)))
    assert rig.player.volume == 50  # 40 was below the new minimum
    rig.tap("up")
    rig.advance(121)  # the visitor left: back to the default, inside the limits
    assert rig.player.volume == 50


def test_a_pushed_featured_playlist_is_what_an_idle_kiosk_shows(
    tmp_path: Path, journal: PlayJournal, library: Library
) -> None:
    rig = RemoteRig(tmp_path, journal, library)
    assert rig.kiosk.status.playlist_id == "festival"
    rig.push(desired(featured=PlaylistId("local")))
    assert rig.kiosk.status.playlist_id == "local"
    screen = rig.display.last()
    assert isinstance(screen, AttractScreen) and screen.playlist == "Local"
    rig.push(desired(2, featured=None))  # back to the synced document's featured playlist
    assert rig.kiosk.status.playlist_id == "festival"


def test_autoplay_moves_to_a_new_featured_playlist_after_the_current_track(
    tmp_path: Path, journal: PlayJournal, library: Library
) -> None:
    rig = RemoteRig(tmp_path, journal, library, **AUTOPLAY)
    assert rig.kiosk.status.playlist_id == "festival" and mode(rig) is Mode.PLAYING
    rig.push(desired(featured=PlaylistId("local")))
    assert rig.kiosk.status.track_id == "festival-t0"  # not cut
    assert rig.player.queued is None  # but nothing more of it is queued
    rig.finish_track()
    assert rig.kiosk.status.playlist_id == "local"
    rig.start_audio()
    assert [(p.playlist_id, p.started_by) for p in journal.plays()] == [
        ("festival", StartedBy.AUTOPLAY),
        ("local", StartedBy.AUTOPLAY),
    ]


def test_a_visitor_choice_stands_until_the_idle_reset(
    tmp_path: Path, journal: PlayJournal, library: Library
) -> None:
    rig = RemoteRig(tmp_path, journal, library)
    rig.tap("play")
    rig.push(desired(featured=PlaylistId("local")))
    assert rig.kiosk.status.playlist_id == "festival"
    assert rig.player.queued is not None  # the visitor's playlist goes on
    rig.advance(121)
    rig.finish_track()  # the reset waits for the end of the track
    assert mode(rig) is Mode.IDLE and rig.kiosk.status.playlist_id == "local"


def test_outside_opening_hours_there_is_no_autoplay_but_visitors_may_play(
    tmp_path: Path, journal: PlayJournal, library: Library
) -> None:
    hours = desired(opening_hours=(parse_window("mon-fri", "10:00", "19:00"),))
    rig = RemoteRig(tmp_path, journal, library, desired=hours, **AUTOPLAY)
    assert mode(rig) is Mode.IDLE and rig.player.playing is None
    rig.tap("play")
    assert mode(rig) is Mode.PLAYING
    assert rig.kiosk.current is not None
    assert rig.kiosk.current.started_by is StartedBy.VISITOR


def test_autoplay_starts_at_opening_time_and_stops_at_closing_time(
    tmp_path: Path, journal: PlayJournal, library: Library
) -> None:
    hours = desired(opening_hours=(parse_window("mon-fri", "10:00", "19:00"),))
    rig = RemoteRig(tmp_path, journal, library, desired=hours, **AUTOPLAY)
    rig.set_wall(datetime(2026, 6, 1, 9, 59, 58, tzinfo=UTC))
    rig.advance(CALENDAR_CHECK_S)
    assert mode(rig) is Mode.PLAYING
    assert rig.kiosk.current is not None
    assert rig.kiosk.current.started_by is StartedBy.AUTOPLAY
    rig.start_audio()
    rig.set_wall(datetime(2026, 6, 1, 18, 59, 58, tzinfo=UTC))
    rig.advance(CALENDAR_CHECK_S)
    assert mode(rig) is Mode.IDLE and rig.player.playing is None
    [play] = journal.plays()
    assert play.end_reason == EndReason.STOPPED
    assert ("Remote", "v1, closed") in rig.kiosk.technician_rows()


def test_within_a_schedule_window_its_playlist_is_the_default(
    tmp_path: Path, journal: PlayJournal, library: Library
) -> None:
    window = parse_window("mon", "09:00", "10:00")
    schedule = desired(schedule=(ScheduledPlaylist(PlaylistId("local"), window),))
    rig = RemoteRig(tmp_path, journal, library, desired=schedule, **AUTOPLAY)
    rig.start_audio()  # autoplay of the featured playlist before the window
    rig.set_wall(datetime(2026, 6, 1, 8, 59, 58, tzinfo=UTC))
    rig.advance(CALENDAR_CHECK_S)
    assert rig.kiosk.status.playlist_id == "festival" and rig.player.queued is None
    rig.finish_track()
    rig.start_audio()
    assert [(p.playlist_id, p.started_by) for p in journal.plays()] == [
        ("festival", StartedBy.AUTOPLAY),
        ("local", StartedBy.SCHEDULE),
    ]
    rig.tap("play")  # a visitor pauses: presence...
    rig.advance(121)  # ...then leaves: the idle reset returns to the schedule's playlist
    assert rig.kiosk.status.playlist_id == "local"
    assert rig.kiosk.current is not None
    assert rig.kiosk.current.started_by is StartedBy.SCHEDULE


def test_with_an_unsynced_clock_hours_are_ignored_and_the_technician_is_told(
    tmp_path: Path, journal: PlayJournal, library: Library
) -> None:
    hours = desired(opening_hours=(parse_window("sat", "10:00", "11:00"),))
    rig = RemoteRig(tmp_path, journal, library, **AUTOPLAY)
    rig.clock.synced = False
    rig.push(hours)
    assert rig.kiosk.calendar.clock_unsynced
    assert mode(rig) is Mode.PLAYING  # closed on Monday, but the clock cannot tell
    rows = dict(rig.kiosk.technician_rows())
    assert rows["Remote"] == "v1, clock not synced: hours and schedule ignored"
    rig.clock.synced = True  # NTP answered: now the hours apply
    rig.advance(CALENDAR_CHECK_S)
    assert mode(rig) is Mode.IDLE


def test_identify_shows_the_name_then_gives_the_screen_back(
    tmp_path: Path, journal: PlayJournal, library: Library
) -> None:
    rig = RemoteRig(tmp_path, journal, library, display={"driver": "none", "sleep_after_s": 60})
    rig.advance(61)
    assert rig.display.asleep
    rig.kiosk.handle(IdentifyRequested(10))
    assert not rig.display.asleep
    assert rig.display.last() == IdentifyScreen("Salle 2", "jk-aaaabbbbccccddddeeee")
    rig.tap("play")  # buttons still work; the name stays on top
    rig.start_audio()
    assert rig.display.last() == IdentifyScreen("Salle 2", "jk-aaaabbbbccccddddeeee")
    rig.advance(10)
    assert isinstance(rig.display.last(), NowPlayingScreen)


def test_a_saved_state_applied_before_start_autoplays_its_featured_playlist_once(
    tmp_path: Path, journal: PlayJournal, library: Library
) -> None:
    rig = RemoteRig(tmp_path, journal, library, desired=desired(featured=LISTS[1]), **AUTOPLAY)
    assert rig.kiosk.status.playlist_id == "local"
    assert [call for call, _ in rig.player.calls].count("play") == 1


def test_hours_are_read_in_the_pushed_time_zone(
    tmp_path: Path, journal: PlayJournal, library: Library
) -> None:
    hours = (parse_window("mon-fri", "10:00", "19:00"),)
    # 08:30 UTC is 10:30 in Paris (summer time): open there, closed by the kiosk's own UTC.
    wall = datetime(2026, 6, 1, 8, 30, tzinfo=UTC)
    rig = RemoteRig(tmp_path, journal, library, wall=wall, **AUTOPLAY)
    rig.push(desired(opening_hours=hours))
    assert not rig.kiosk.calendar.is_open and mode(rig) is Mode.IDLE
    rig.push(desired(2, opening_hours=hours, timezone="Europe/Paris"))
    assert rig.kiosk.calendar.is_open and mode(rig) is Mode.PLAYING
