"""The kiosk core, driven by events and a fake clock, journaling into a real SQLite file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from device.config import KioskConfig, parse_config
from device.core.kiosk import START_TIMEOUT_S, Kiosk, Mode
from device.display.model import (
    AttractScreen,
    BootScreen,
    ClaimScreen,
    ErrorScreen,
    NowPlayingScreen,
    RevokedScreen,
    TechnicianScreen,
    VolumeScreen,
)
from device.domain import EMPTY_LIBRARY, EndReason, Library, StartedBy
from device.events import (
    ButtonDown,
    ButtonUp,
    EnrollmentChanged,
    LibraryUpdated,
    PlaybackEnded,
    PlaybackProgress,
    PlaybackStarted,
    Rotated,
    Shutdown,
    SyncProgress,
)
from device.journal.outbox import PlayJournal
from tests.conftest import make_library
from tests.fakes import FakeClock, FakeDisplay, FakePlayer

CONFIG: dict[str, Any] = {
    "audio": {"default_volume": 40, "min_volume": 20, "max_volume": 60, "volume_step": 10},
    "visitor": {"idle_timeout_s": 120},
    "display": {"driver": "none", "dim_after_s": 30, "move_every_s": 20, "sleep_after_s": 300},
    "buttons": [
        {"name": "play", "pin": 17, "press": "play_pause", "hold": "technician"},
        {"name": "next", "pin": 27, "press": "next", "hold": "next_playlist"},
        {"name": "prev", "pin": 22, "press": "previous"},
        {"name": "up", "pin": 23, "press": "volume_up"},
        {"name": "down", "pin": 24, "press": "volume_down"},
    ],
    "rotary": {"pin_a": 5, "pin_b": 6},
}


class Rig:
    def __init__(self, tmp_path: Path, journal: PlayJournal, library: Library, **sections: Any):
        document = {**CONFIG, **sections}
        self.config: KioskConfig = parse_config(document, "test.toml", tmp_path)
        self.clock = FakeClock()
        self.player = FakePlayer()
        self.display = FakeDisplay()
        self.journal = journal
        self.kiosk = Kiosk(self.config, self.player, self.display, journal, self.clock, library)
        self.kiosk.start()

    def tap(self, button: str, seconds: float = 0.1) -> None:
        self.kiosk.handle(ButtonDown(button, self.clock.now))
        self.advance(seconds)
        self.kiosk.handle(ButtonUp(button, self.clock.now))

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.kiosk.tick()

    def start_audio(self, duration_ms: int = 10_000) -> int:
        token = self.player.playing.token if self.player.playing else -1
        self.kiosk.handle(PlaybackStarted(token, duration_ms))
        return token

    def listen(self, token: int, seconds: float, step_ms: int = 250, start_ms: int = 0) -> int:
        position = start_ms
        for _ in range(int(seconds * 1000 / step_ms)):
            self.clock.advance(step_ms / 1000)
            position += step_ms
            self.kiosk.handle(PlaybackProgress(token, position))
            self.kiosk.tick()  # as the core loop does after every event
        return position


@pytest.fixture
def rig(tmp_path: Path, journal: PlayJournal) -> Rig:
    return Rig(tmp_path, journal, make_library(tmp_path / "x.flac", ("festival", 3), ("local", 2)))


def test_play_press_starts_the_featured_playlist_at_once(rig: Rig) -> None:
    rig.kiosk.handle(ButtonDown("play", rig.clock.now))
    # A button with a hold action acts on release; "prev" has none and acts on the edge.
    assert rig.player.playing is None
    rig.kiosk.handle(ButtonUp("play", rig.clock.now + 0.1))
    assert rig.player.playing is not None
    assert rig.kiosk.status.playlist_id == "festival"
    assert rig.kiosk.status.track_id == "festival-t0"
    assert rig.player.queued is not None  # the next track is queued for gapless playback


def test_a_button_without_hold_acts_on_the_edge(rig: Rig) -> None:
    rig.kiosk.handle(ButtonDown("prev", rig.clock.now))
    assert rig.player.playing is not None


def test_a_finished_track_is_journaled_once_with_what_was_heard(rig: Rig) -> None:
    rig.tap("play")
    token = rig.start_audio(duration_ms=3000)
    rig.listen(token, 2.75)
    queued = rig.player.queued
    rig.kiosk.handle(PlaybackEnded(token, "eof"))
    [play] = rig.journal.plays()
    assert play.end_reason == EndReason.FINISHED
    assert play.started_by == StartedBy.VISITOR
    assert play.listened_ms == 3000  # 2750 reported + the 250 ms tail up to the end
    assert play.track_id == "festival-t0" and play.playlist_revision == "rev1"
    assert play.isrc == "FRZ030000000" and play.clock_synced
    # mpv moved on to the queued track by itself; the core follows it.
    assert rig.kiosk.current is not None and queued is not None
    assert rig.kiosk.current.item == queued
    rig.kiosk.handle(PlaybackStarted(queued.token, 3000))
    assert rig.journal.stats().open == 1


def test_pauses_and_seeks_are_not_counted_as_listening(rig: Rig) -> None:
    rig.tap("play")
    token = rig.start_audio()
    position = rig.listen(token, 1.0)
    rig.tap("play")  # pause: mpv's position stops moving
    assert rig.player.paused and rig.kiosk.mode is Mode.PAUSED
    rig.advance(30)
    rig.tap("play")  # resume
    position = rig.listen(token, 1.0, start_ms=position)
    rig.kiosk.handle(PlaybackProgress(token, position + 5000))  # a seek forward
    rig.tap("next")
    play = rig.journal.plays()[0]
    assert play.end_reason == EndReason.SKIPPED
    assert play.listened_ms == 2000


def test_progress_is_checkpointed_so_a_crash_loses_at_most_a_second(rig: Rig) -> None:
    rig.tap("play")
    token = rig.start_audio()
    rig.listen(token, 4.0)
    [play] = rig.journal.plays()
    assert play.is_open
    assert 3000 <= play.listened_ms <= 4000


def test_a_hold_fires_its_action_and_never_the_press(rig: Rig) -> None:
    rig.kiosk.handle(ButtonDown("play", rig.clock.now))
    rig.advance(1.2)
    screen = rig.display.last()
    assert isinstance(screen, TechnicianScreen)
    rig.kiosk.handle(ButtonUp("play", rig.clock.now))
    assert rig.player.playing is None
    rows = dict(screen.rows)
    assert rows["Content"] == "2 lists, 5/5 tracks"
    assert rows["Journal"] == "0 open, 0 done"


def test_holding_next_switches_playlist(rig: Rig) -> None:
    rig.tap("play")
    rig.start_audio()
    rig.tap("next", seconds=1.5)
    assert rig.kiosk.status.playlist_id == "local"
    assert rig.kiosk.status.track_id == "local-t0"


def test_volume_stays_within_public_limits_and_is_shown(rig: Rig) -> None:
    assert rig.player.volume == 40
    for _ in range(5):
        rig.tap("up")
    assert rig.player.volume == 60
    assert rig.display.last() == VolumeScreen(60, 20, 60)
    rig.kiosk.handle(Rotated(-1, rig.clock.now))
    assert rig.player.volume == 50
    for _ in range(6):
        rig.tap("down")
    assert rig.player.volume == 20
    rig.advance(2.0)
    assert isinstance(rig.display.last(), AttractScreen)


def test_after_the_idle_timeout_a_paused_kiosk_returns_to_defaults(rig: Rig) -> None:
    rig.tap("next", seconds=1.5)  # hold: select the "local" playlist while idle
    rig.tap("play")
    token = rig.start_audio()
    rig.listen(token, 1.0)
    rig.tap("up")
    rig.tap("play")  # pause
    rig.advance(121)
    assert rig.player.volume == 40
    assert rig.kiosk.mode is Mode.IDLE
    assert rig.display.last() == AttractScreen("Festival", "Note of festival", (0, 0), False)
    assert rig.journal.plays()[0].end_reason == EndReason.STOPPED


def test_the_idle_timeout_never_cuts_a_playing_track(rig: Rig) -> None:
    rig.tap("play")
    token = rig.start_audio(duration_ms=200_000)
    position = rig.listen(token, 125, step_ms=1000)
    assert rig.kiosk.status.mode is Mode.PLAYING
    assert rig.player.queued is None  # but nothing follows it
    rig.kiosk.handle(PlaybackEnded(token, "eof"))
    assert rig.kiosk.mode is Mode.IDLE
    assert rig.journal.plays()[0].end_reason == EndReason.FINISHED
    assert position == 125_000


def test_a_missing_track_is_skipped_with_an_error_on_screen(
    tmp_path: Path, journal: PlayJournal
) -> None:
    library = make_library(tmp_path / "x.flac", ("festival", 3))
    first = library.playlists[0]
    broken = replace(first.tracks[0], media=None, problem="not in the cache")
    library = replace(library, playlists=(replace(first, tracks=(broken, *first.tracks[1:])),))
    rig = Rig(tmp_path, journal, library)
    rig.tap("play")
    assert rig.kiosk.status.track_id == "festival-t1"
    assert rig.display.last() == ErrorScreen("Track unavailable", "festival title 0")
    assert "not in the cache" in rig.kiosk.status.errors[-1]


def test_a_corrupt_file_is_skipped_and_playback_goes_on(rig: Rig) -> None:
    rig.tap("play")
    failing = rig.player.playing
    queued = rig.player.queued
    assert failing is not None and queued is not None
    rig.kiosk.handle(PlaybackEnded(failing.token, "error", "Failed to recognize file format."))
    assert rig.kiosk.current is not None and rig.kiosk.current.item == queued
    rig.kiosk.handle(PlaybackStarted(queued.token, 1000))
    assert rig.journal.stats().open == 1
    assert rig.journal.plays()[0].track_id == "festival-t1"


def test_when_no_track_can_be_played_the_kiosk_gives_up_and_says_so(rig: Rig) -> None:
    rig.tap("play")
    for _ in range(3):
        current = rig.kiosk.current
        assert current is not None
        rig.kiosk.handle(PlaybackEnded(current.item.token, "error", "broken"))
    assert rig.kiosk.mode is Mode.IDLE
    assert "could be played" in rig.kiosk.status.errors[-1]


def test_an_item_mpv_never_starts_is_replaced_by_the_next(rig: Rig) -> None:
    rig.tap("play")
    first = rig.player.playing
    rig.advance(START_TIMEOUT_S + 0.5)
    assert rig.player.playing is not None and rig.player.playing != first
    assert rig.kiosk.status.track_id == "festival-t1"


def test_the_screen_sleeps_when_idle_and_the_waking_press_does_not_act(rig: Rig) -> None:
    rig.advance(31)
    assert rig.display.last() == AttractScreen("Festival", "Note of festival", (2, 1), True)
    rig.advance(300)
    assert rig.display.asleep and rig.kiosk.status.display_asleep
    rig.tap("prev")
    assert not rig.display.asleep
    assert rig.player.playing is None
    rig.tap("prev")
    assert rig.player.playing is not None


def test_a_combination_fires_only_its_action(tmp_path: Path, journal: PlayJournal) -> None:
    combos = [{"buttons": ["prev", "up"], "action": "technician", "hold_time_s": 2}]
    rig = Rig(tmp_path, journal, make_library(tmp_path / "x", ("a", 2)), combos=combos)
    rig.kiosk.handle(ButtonDown("prev", rig.clock.now))
    rig.kiosk.handle(ButtonDown("up", rig.clock.now + 0.05))
    rig.advance(2.1)
    assert isinstance(rig.display.last(), TechnicianScreen)
    rig.kiosk.handle(ButtonUp("prev", rig.clock.now))
    rig.kiosk.handle(ButtonUp("up", rig.clock.now))
    assert rig.player.playing is None and rig.player.volume == 40


def test_autoplay_plays_the_featured_playlist_at_boot(tmp_path: Path, journal: PlayJournal) -> None:
    rig = Rig(
        tmp_path, journal, make_library(tmp_path / "x", ("a", 2)), playback={"autoplay": True}
    )
    rig.start_audio()
    assert rig.journal.plays()[0].started_by == StartedBy.AUTOPLAY


def test_autoplay_starts_when_the_content_arrives_after_boot(
    tmp_path: Path, journal: PlayJournal
) -> None:
    """The daemon's content (synced or local) arrives as an event once the core runs."""
    rig = Rig(tmp_path, journal, EMPTY_LIBRARY, playback={"autoplay": True})
    assert rig.player.playing is None
    rig.kiosk.handle(LibraryUpdated(make_library(tmp_path / "x", ("a", 2))))
    rig.start_audio()
    assert rig.journal.plays()[0].started_by == StartedBy.AUTOPLAY


def test_shutdown_closes_the_open_play_as_stopped(rig: Rig) -> None:
    rig.tap("play")
    token = rig.start_audio()
    rig.listen(token, 1.5)
    rig.kiosk.handle(Shutdown("test"))
    rig.kiosk.finish()
    [play] = rig.journal.plays()
    assert play.end_reason == EndReason.STOPPED and play.listened_ms == 1500


def test_now_playing_screen_follows_progress_and_pause(rig: Rig) -> None:
    rig.tap("play")
    token = rig.start_audio(duration_ms=9000)
    rig.listen(token, 2.0)
    assert rig.display.last() == NowPlayingScreen(
        "Festival", "festival title 0", "Artist 0", 2000, 9000
    )
    rig.tap("play")
    assert rig.display.last() == NowPlayingScreen(
        "Festival", "festival title 0", "Artist 0", 2000, 9000, paused=True
    )


def test_boot_screen_until_content_then_attract(tmp_path: Path, journal: PlayJournal) -> None:
    rig = Rig(tmp_path, journal, Library(()))
    assert rig.display.last() == BootScreen("unknown", "Loading music")
    rig.tap("prev")
    assert rig.player.playing is None
    assert rig.display.last() == ErrorScreen("Nothing to play", "No playlist is available yet.")
    rig.kiosk.handle(LibraryUpdated(make_library(tmp_path / "x", ("a", 1))))
    rig.advance(4)
    assert rig.display.last() == AttractScreen("A", "Note of a", (0, 0), False)
    rig.kiosk.handle(LibraryUpdated(Library(())))
    assert rig.display.last() == ErrorScreen("No music yet", "Waiting for the library's playlists.")


def test_a_pending_kiosk_shows_its_claim_code_when_idle(rig: Rig) -> None:
    rig.kiosk.handle(EnrollmentChanged("pending", "Médiathèques du Sud", "KQ7M-X4PD"))
    assert rig.display.last() == ClaimScreen("Médiathèques du Sud", "KQ7M-X4PD")
    rig.kiosk.handle(EnrollmentChanged("active", "Médiathèques du Sud"))
    assert isinstance(rig.display.last(), AttractScreen)


def test_a_revoked_kiosk_stops_says_so_and_can_be_reclaimed(rig: Rig) -> None:
    rig.tap("play")
    token = rig.start_audio()
    rig.listen(token, 1.0)
    rig.kiosk.handle(EnrollmentChanged("revoked", "Médiathèques du Sud"))
    assert rig.kiosk.mode is Mode.IDLE and rig.player.playing is None
    assert rig.journal.plays()[0].end_reason == EndReason.STOPPED  # the journal is kept
    assert rig.display.last() == RevokedScreen("Médiathèques du Sud")
    rig.tap("prev")
    assert rig.player.playing is None
    rig.advance(4)
    rig.kiosk.handle(EnrollmentChanged("pending", "Médiathèques du Sud", "HT3R-9WNA"))
    assert rig.display.last() == RevokedScreen("Médiathèques du Sud", "HT3R-9WNA")
    rig.kiosk.handle(EnrollmentChanged("active", "Médiathèques du Sud"))
    rig.tap("prev")
    assert rig.player.playing is not None


def test_sync_progress_shows_on_the_technician_screen(rig: Rig) -> None:
    rig.kiosk.handle(SyncProgress("downloading", 3, 10, 450, 1000))
    rows = dict(rig.kiosk.technician_rows())
    assert rows["Sync"] == "3/10 files, 45%"


def test_plays_after_a_claim_carry_the_tenant_and_site(rig: Rig) -> None:
    rig.kiosk.handle(
        EnrollmentChanged("active", "Médiathèques", tenant_id="med-sud", site="alcazar")
    )
    rig.tap("play")
    rig.start_audio()
    play = rig.journal.plays()[0]
    assert (play.tenant, play.site) == ("med-sud", "alcazar")


def test_without_audio_output_the_kiosk_stops_trying_after_a_few_tracks(rig: Rig) -> None:
    """mpv starts each file and fails it at once: a few error entries, then idle, no loop."""
    rig.tap("play")
    for _ in range(3):
        current = rig.kiosk.current
        assert current is not None
        rig.kiosk.handle(PlaybackStarted(current.item.token, 1000))
        rig.kiosk.handle(PlaybackEnded(current.item.token, "error", "audio output failed"))
    assert rig.kiosk.mode is Mode.IDLE
    assert [p.end_reason for p in rig.journal.plays()] == [EndReason.ERROR] * 3
    assert all(p.listened_ms == 0 for p in rig.journal.plays())
