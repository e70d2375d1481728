"""Switching mpv's real audio-device while a track plays: the play goes on, its journal entry
stays the same. mpv's null output lists the machine's devices and accepts every switch, so
the switch itself (the property, the reload) is real even where no sound card exists."""

from __future__ import annotations

import hashlib
import queue
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from demo.tracks import TrackSpec, synthesise_track
from device.config import parse_config
from device.core.kiosk import Kiosk, Mode
from device.domain import (
    DurationMs,
    EndReason,
    Library,
    PlayItem,
    Playlist,
    PlaylistId,
    Track,
    TrackId,
)
from device.events import (
    ButtonDown,
    ButtonUp,
    Event,
    PlaybackEnded,
    PlaybackProgress,
    PlaybackStarted,
    Shutdown,
    SoundCard,
    SoundCardsChanged,
)
from device.journal.outbox import PlayJournal
from device.platform.clock import SystemClock
from device.player.mpv_player import MpvPlayer
from tests.conftest import IDENTITY
from tests.fakes import FakeDisplay

pytestmark = pytest.mark.timeout(30)


@pytest.fixture(scope="module")
def cached_track(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("output")
    source = synthesise_track(root / "long.flac", TrackSpec("Long", "Test", 2.5))
    data = source.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    path = root / "cache" / "media" / sha[:2] / sha
    path.parent.mkdir(parents=True)
    path.write_bytes(data)
    return path


def _wait(predicate: Any, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_mpv_lists_its_outputs_and_switches_without_ending_the_track(cached_track: Path) -> None:
    events: queue.Queue[Event] = queue.Queue()
    player = MpvPlayer(events.put, cached_track.parents[2], ao="null", progress_interval_s=0.1)
    try:
        names = [o.name for o in player.outputs()]
        assert "auto" in names and len(names) >= 2
        assert player.output == "auto"
        player.play(PlayItem(1, cached_track))
        seen: list[Event] = []

        def progressed_past(ms: int) -> bool:
            while not events.empty():
                seen.append(events.get())
            return any(isinstance(e, PlaybackProgress) and e.position_ms > ms for e in seen)

        _wait(lambda: progressed_past(400))
        player.set_output(names[1])
        assert player.output == names[1]
        _wait(lambda: progressed_past(1000))
        player.set_output("auto")
        assert player.output == "auto"
        switched_back = len(seen)
        _wait(lambda: any(isinstance(e, PlaybackEnded) for e in seen) or progressed_past(10**9))
    finally:
        player.close()
    assert [type(e) for e in seen if not isinstance(e, PlaybackProgress)] == [
        PlaybackStarted,
        PlaybackEnded,
    ]
    assert seen[-1] == PlaybackEnded(1, "eof")
    positions = [e.position_ms for e in seen if isinstance(e, PlaybackProgress)]
    assert positions == sorted(positions)  # never went back to the start
    # It went on playing after the second switch, from where it was, to the end of the file
    # (how far the last progress report got depends on the machine's load, not on the switch).
    assert any(isinstance(e, PlaybackProgress) for e in seen[switched_back:-1])


def test_the_kiosk_moves_a_playing_track_between_outputs_and_journals_one_play(
    cached_track: Path, tmp_path: Path
) -> None:
    """The real loop: real mpv, real journal; a 'card' that mpv lists as a device appears,
    then goes, while the track plays."""
    events: queue.Queue[Event] = queue.Queue()
    player = MpvPlayer(events.put, cached_track.parents[2], ao="null")
    outputs = player.outputs()
    card_output = outputs[1]  # e.g. "alsa", "Default (alsa)"
    card = SoundCard(1, card_output.name, card_output.description, usb=True)
    config = parse_config(
        {
            "audio": {"preferred_outputs": [card_output.description]},
            "display": {"driver": "none"},
            "buttons": [{"name": "play", "pin": 17, "press": "play_pause"}],
        },
        "test.toml",
        tmp_path,
    )
    track = Track(TrackId("t1"), "Long", "Test", cached_track, duration_ms=DurationMs(2500))
    library = Library((Playlist(PlaylistId("p"), "P", "", "r1", (track,)),), PlaylistId("p"))
    journal = PlayJournal(tmp_path / "journal.sqlite3", IDENTITY)
    kiosk = Kiosk(config, player, FakeDisplay(), journal, SystemClock(), library, events=events)
    loop = threading.Thread(target=kiosk.run, daemon=True)
    loop.start()
    try:
        kiosk.post(ButtonDown("play", time.monotonic()))
        kiosk.post(ButtonUp("play", time.monotonic()))
        _wait(lambda: kiosk.status.position_ms > 500)
        kiosk.post(SoundCardsChanged((card,)))
        _wait(lambda: player.output == card_output.name)
        _wait(lambda: kiosk.status.position_ms > 1200)
        kiosk.post(SoundCardsChanged(()))
        _wait(lambda: player.output == "auto")
        _wait(lambda: kiosk.status.mode is Mode.IDLE)
    finally:
        kiosk.post(Shutdown("test"))
        loop.join(timeout=10)
        player.close()
    [play] = journal.plays()
    journal.close()
    assert play.end_reason == EndReason.FINISHED
    assert 2300 <= play.listened_ms <= 2600
