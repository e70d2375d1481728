"""The playback controller: sequencing, gapless following, failures and the start timeout,
driven through the real core with a fake clock over a real journal."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from device.core.playback import START_TIMEOUT_S
from device.core.status import Mode
from device.domain import EndReason, Library, PlayItem, StartedBy
from device.events import PlaybackEnded, PlaybackStarted
from device.journal.outbox import PlayJournal
from tests.conftest import make_library
from tests.core.test_kiosk import Rig


@pytest.fixture
def rig(tmp_path: Path, journal: PlayJournal) -> Rig:
    return Rig(tmp_path, journal, make_library(tmp_path / "x.flac", ("festival", 3), ("local", 2)))


def queued_track(rig: Rig) -> str | None:
    preloaded = rig.kiosk.playback.preloaded
    return preloaded.track.id if preloaded else None


def test_previous_early_in_a_track_goes_back_and_later_restarts_it(rig: Rig) -> None:
    rig.tap("next")  # starts the first track
    rig.tap("next")
    assert rig.kiosk.status.track_id == "festival-t1"
    token = rig.start_audio()
    rig.listen(token, 2.0)
    rig.tap("prev")
    assert rig.kiosk.status.track_id == "festival-t0"
    token = rig.start_audio()
    rig.listen(token, 4.0)
    rig.tap("prev")
    assert rig.kiosk.status.track_id == "festival-t0"
    assert [p.end_reason for p in rig.journal.plays()] == [EndReason.SKIPPED, EndReason.SKIPPED]


def test_at_the_end_of_a_playlist_nothing_is_queued_and_the_kiosk_goes_idle(rig: Rig) -> None:
    rig.kiosk.playback.start_playlist(rig.kiosk.library.playlists[1], StartedBy.VISITOR)
    assert queued_track(rig) == "local-t1"
    token = rig.start_audio()
    rig.kiosk.handle(PlaybackEnded(token, "eof"))
    assert rig.kiosk.status.track_id == "local-t1" and queued_track(rig) is None
    assert rig.kiosk.current is not None
    token = rig.kiosk.current.item.token  # mpv moved on to the queued item by itself
    rig.kiosk.handle(PlaybackStarted(token, 10_000))
    rig.kiosk.handle(PlaybackEnded(token, "eof"))
    assert rig.kiosk.mode is Mode.IDLE and rig.kiosk.status.playlist_id == "local"


def test_a_looping_playlist_queues_its_first_track_after_the_last(
    tmp_path: Path, journal: PlayJournal
) -> None:
    library = make_library(tmp_path / "x.flac", ("festival", 2))
    rig = Rig(tmp_path, journal, library, playback={"at_playlist_end": "loop"})
    rig.tap("next")
    rig.tap("next")
    assert rig.kiosk.status.track_id == "festival-t1"
    assert queued_track(rig) == "festival-t0"


def test_a_stop_from_the_player_ends_the_play_and_keeps_the_selection(rig: Rig) -> None:
    rig.tap("next", seconds=1.5)  # select "local"
    rig.tap("play")
    token = rig.start_audio()
    rig.kiosk.handle(PlaybackEnded(token, "stopped"))
    assert rig.kiosk.mode is Mode.IDLE and rig.kiosk.selected == "local"
    assert rig.journal.plays()[0].end_reason == EndReason.STOPPED


def test_a_queued_item_that_fails_before_its_turn_is_forgotten(rig: Rig) -> None:
    rig.tap("play")
    queued = rig.kiosk.playback.preloaded
    assert queued is not None
    rig.kiosk.handle(PlaybackEnded(queued.item.token, "error", "no such file"))
    assert rig.kiosk.playback.preloaded is None
    assert rig.kiosk.status.track_id == "festival-t0" and rig.kiosk.mode is Mode.PLAYING


def test_stopping_after_the_current_track_unqueues_and_a_visitor_queues_again(rig: Rig) -> None:
    rig.tap("play")
    rig.kiosk.playback.stop_after_current()
    assert rig.player.queued is None and rig.kiosk.playback.reset_pending
    rig.tap("up")  # any action: the visitor is back
    assert not rig.kiosk.playback.reset_pending
    assert queued_track(rig) == "festival-t1" and rig.player.queued is not None


def test_the_start_timeout_is_a_deadline_only_until_audio_starts(rig: Rig) -> None:
    assert rig.kiosk.playback.deadline() is None
    rig.tap("play")
    assert rig.kiosk.playback.deadline() == rig.clock.now + START_TIMEOUT_S
    assert rig.kiosk.next_deadline() is not None
    rig.start_audio()
    assert rig.kiosk.playback.deadline() is None


def test_an_unavailable_track_is_skipped_when_queueing(
    tmp_path: Path, journal: PlayJournal
) -> None:
    library = make_library(tmp_path / "x.flac", ("festival", 3))
    festival = library.playlists[0]
    gap = replace(festival.tracks[1], media=None, problem="still downloading")
    festival = replace(festival, tracks=(festival.tracks[0], gap, festival.tracks[2]))
    rig = Rig(tmp_path, journal, Library((festival,), featured=festival.id))
    rig.tap("play")
    assert queued_track(rig) == "festival-t2"
    assert rig.kiosk.status.errors == ("skipped 'festival title 1': still downloading",)


def test_next_playlist_while_idle_only_selects_and_wraps_around(rig: Rig) -> None:
    playback = rig.kiosk.playback
    playback.next_playlist()
    assert (playback.selected, playback.mode) == ("local", Mode.IDLE)
    playback.next_playlist()
    assert playback.selected == "festival" and rig.player.playing is None


def test_a_started_event_for_another_item_opens_no_play(rig: Rig) -> None:
    rig.tap("play")
    rig.kiosk.handle(PlaybackStarted(999, 10_000))
    assert rig.journal.stats().open == 0 and rig.kiosk.playback.deadline() is not None


def test_a_skip_starts_the_next_track_before_the_journal_closes_the_skipped_play(
    rig: Rig,
) -> None:
    """The close is a durable write a busy disk can slow down: the press must not wait for it.

    The player is asked to play while the skipped play is still open in the journal; right
    after, the skipped play is closed with what was heard, and exactly once.
    """
    open_when_asked: list[int] = []
    play = rig.player.play

    def play_noting_the_journal(item: PlayItem) -> None:
        open_when_asked.append(sum(p.end_reason is None for p in rig.journal.plays()))
        play(item)

    rig.player.play = play_noting_the_journal  # type: ignore[method-assign]
    rig.tap("next")  # starts the first track: nothing in the journal yet
    token = rig.start_audio()
    rig.listen(token, 2.0)
    rig.tap("next")  # skips it
    rig.start_audio()
    rig.tap("next", seconds=1.5)  # held: the next playlist, while playing: also a skip
    assert open_when_asked == [0, 1, 1]
    plays = rig.journal.plays()
    assert [p.end_reason for p in plays] == [EndReason.SKIPPED, EndReason.SKIPPED]
    assert plays[0].listened_ms == 2000
