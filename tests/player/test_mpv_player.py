"""MpvPlayer against real libmpv: events, gapless playback, replacement, pause, refusals, volume.

Audio goes to mpv's null output (real time) or to its pcm output (a WAV file written as fast as
mpv decodes, so what was played can be compared sample by sample with the source). Nothing of
mpv is mocked; every wait has a deadline.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import queue
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile

from demo.tracks import SAMPLE_RATE, TrackSpec, synthesise_track
from device.domain import PlayItem
from device.events import Event, PlaybackEnded, PlaybackProgress, PlaybackStarted
from device.player import mpv_player
from device.player.mpv_player import MpvPlayer

pytestmark = pytest.mark.timeout(30)

WAIT_S = 5.0
A_FRAMES = SAMPLE_RATE  # a.flac: 1.0 s
B_FRAMES = SAMPLE_RATE * 3 // 2  # b.flac: 1.5 s
TEN_MS = SAMPLE_RATE // 100

PlayerEvent = PlaybackStarted | PlaybackProgress | PlaybackEnded


# ---------------------------------------------------------------------------------- fixtures


@dataclass(frozen=True)
class Media:
    cache: Path
    a: Path  # 1.0 s, in the cache under its sha256 like real cached media
    b: Path  # 1.5 s, another melody
    quiet: Path  # 0.5 s, tagged with a ReplayGain of -6.02 dB (half the amplitude)
    outside: Path  # a playable FLAC outside the cache


def _store(cache: Path, data: bytes) -> Path:
    """Store bytes the way the media cache does: named by the sha256 of the content."""
    path = cache / hashlib.sha256(data).hexdigest()
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    root = tmp_path_factory.mktemp("media").resolve()
    cache = root / "cache"
    cache.mkdir()
    a = synthesise_track(root / "a.flac", TrackSpec("A", "Test", 1.0))
    b = synthesise_track(root / "b.flac", TrackSpec("B", "Test", 1.5, frequency_hz=330.0))
    quiet = synthesise_track(
        root / "quiet.flac", TrackSpec("Q", "Test", 0.5, replaygain_track_db=-6.02)
    )
    return Media(
        cache,
        a=_store(cache, a.read_bytes()),
        b=_store(cache, b.read_bytes()),
        quiet=_store(cache, quiet.read_bytes()),
        outside=a,
    )


class Recorder:
    """The player's sink: keeps every event, stamped when posted, for tests to wait on."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[float, PlayerEvent]] = queue.Queue()
        self.seen: list[tuple[float, PlayerEvent]] = []

    def __call__(self, event: Event) -> None:
        assert isinstance(event, PlayerEvent), f"a player posts playback events only: {event}"
        self._queue.put((time.monotonic(), event))

    def _get(self, timeout: float) -> PlayerEvent | None:
        try:
            stamped = self._queue.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None
        self.seen.append(stamped)
        return stamped[1]

    def wait_for(
        self, match: Callable[[PlayerEvent], bool], timeout: float = WAIT_S
    ) -> list[PlayerEvent]:
        """The events up to and including the first that matches; fails at the deadline."""
        deadline = time.monotonic() + timeout
        got: list[PlayerEvent] = []
        while (event := self._get(deadline - time.monotonic())) is not None:
            got.append(event)
            if match(event):
                return got
        raise AssertionError(f"no matching event within {timeout} s; got {got}")

    def collect(self, seconds: float) -> list[PlayerEvent]:
        """Everything posted in the next `seconds`: shows that something does not happen."""
        deadline = time.monotonic() + seconds
        got: list[PlayerEvent] = []
        while (event := self._get(deadline - time.monotonic())) is not None:
            got.append(event)
        return got

    def pending(self) -> list[PlayerEvent]:
        """What was posted already, without waiting."""
        return self.collect(0.0)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def make_player(media: Media, recorder: Recorder) -> Iterator[Callable[..., MpvPlayer]]:
    players: list[MpvPlayer] = []

    def make(**options: Any) -> MpvPlayer:
        options.setdefault("mpv_log_level", "v")  # so tests can see what mpv opened
        if "audio_file" not in options:
            options.setdefault("ao", "null")
        player = MpvPlayer(recorder, media.cache, **options)
        players.append(player)
        return player

    yield make
    for player in players:
        player.close()


def started(token: int) -> Callable[[PlayerEvent], bool]:
    return lambda e: isinstance(e, PlaybackStarted) and e.token == token


def ended(token: int) -> Callable[[PlayerEvent], bool]:
    return lambda e: isinstance(e, PlaybackEnded) and e.token == token


def progressed(token: int, position_ms: int) -> Callable[[PlayerEvent], bool]:
    return lambda e: (
        isinstance(e, PlaybackProgress) and e.token == token and e.position_ms >= position_ms
    )


def without_progress(events: list[PlayerEvent]) -> list[PlayerEvent]:
    return [e for e in events if not isinstance(e, PlaybackProgress)]


def pcm_timeline(events: list[PlayerEvent]) -> list[PlayerEvent]:
    """Events without progress and durations, for runs with the pcm output.

    That output runs far ahead of real time, so by the time mpv's event thread reads a
    duration mpv may be on the next file; the player then reports None rather than a wrong
    value. The real-time tests check durations.
    """
    return [
        PlaybackStarted(e.token, None) if isinstance(e, PlaybackStarted) else e
        for e in without_progress(events)
    ]


def opened_by_mpv(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Every path mpv's file layer opened, from its own log (level "v")."""
    prefix = "mpv[file] Opening "
    return [
        r.getMessage().removeprefix(prefix)
        for r in caplog.records
        if r.getMessage().startswith(prefix)
    ]


def read_pcm(path: Path) -> np.ndarray[Any, Any]:
    """The WAV mpv's pcm output wrote, once mpv stopped adding to it (it drains after EOF)."""
    deadline = time.monotonic() + WAIT_S
    size = -1
    while path.stat().st_size != size and time.monotonic() < deadline:
        size = path.stat().st_size
        time.sleep(0.05)  # polling the file until it stops growing, not an assertion
    data, rate = soundfile.read(path, dtype="int16")
    assert rate == SAMPLE_RATE
    return np.asarray(data)


def source_pcm(path: Path) -> np.ndarray[Any, Any]:
    return np.asarray(soundfile.read(path, dtype="int16")[0])


def rms(samples: np.ndarray[Any, Any]) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


# ---------------------------------------------------------------------------------- playback


def test_a_track_reports_started_then_throttled_progress_then_eof(
    media: Media, recorder: Recorder, make_player: Callable[..., MpvPlayer]
) -> None:
    player = make_player(progress_interval_s=0.2)
    player.play(PlayItem(1, media.a))

    events = recorder.wait_for(ended(1))

    assert events[0] == PlaybackStarted(1, 1000)
    assert events[-1] == PlaybackEnded(1, "eof")
    progress = events[1:-1]
    assert progress and all(isinstance(e, PlaybackProgress) and e.token == 1 for e in progress)
    positions = [e.position_ms for e in progress if isinstance(e, PlaybackProgress)]
    assert positions == sorted(positions) and positions[-1] <= 1000
    posted_at = [t for t, e in recorder.seen if isinstance(e, PlaybackProgress)]
    assert all(later - earlier >= 0.199 for earlier, later in itertools.pairwise(posted_at))


def test_a_preloaded_track_follows_without_gap_or_cut(
    media: Media, recorder: Recorder, make_player: Callable[..., MpvPlayer], tmp_path: Path
) -> None:
    out = tmp_path / "out.wav"
    player = make_player(audio_file=out)
    player.play(PlayItem(1, media.a))
    player.preload(PlayItem(2, media.b))

    events = recorder.wait_for(ended(2))

    assert pcm_timeline(events) == [
        PlaybackStarted(1, None),
        PlaybackEnded(1, "eof"),
        PlaybackStarted(2, None),
        PlaybackEnded(2, "eof"),
    ]
    played = read_pcm(out)
    expected = np.concatenate([source_pcm(media.a), source_pcm(media.b)])
    assert abs(len(played) - (A_FRAMES + B_FRAMES)) <= TEN_MS  # no gap, nothing cut
    n = min(len(played), len(expected))
    assert np.abs(played[:n].astype(np.int32) - expected[:n]).max() <= 1  # same samples, in order


def test_the_same_file_queued_twice_keeps_its_tokens_apart(
    media: Media, recorder: Recorder, make_player: Callable[..., MpvPlayer], tmp_path: Path
) -> None:
    player = make_player(audio_file=tmp_path / "out.wav")
    player.play(PlayItem(7, media.a))
    player.preload(PlayItem(8, media.a))

    events = recorder.wait_for(ended(8))

    assert pcm_timeline(events) == [
        PlaybackStarted(7, None),
        PlaybackEnded(7, "eof"),
        PlaybackStarted(8, None),
        PlaybackEnded(8, "eof"),
    ]


def test_play_while_playing_stops_the_old_token_and_starts_the_new(
    media: Media, recorder: Recorder, make_player: Callable[..., MpvPlayer]
) -> None:
    player = make_player(progress_interval_s=0.05)
    player.play(PlayItem(1, media.b))
    recorder.wait_for(progressed(1, 100))

    player.play(PlayItem(2, media.a))
    replaced_at = time.monotonic()
    events = recorder.wait_for(ended(2))

    old = [e for e in events if e.token == 1 and not isinstance(e, PlaybackProgress)]
    assert old == [PlaybackEnded(1, "stopped")]
    assert events.index(PlaybackEnded(1, "stopped")) < events.index(PlaybackStarted(2, 1000))
    assert events[-1] == PlaybackEnded(2, "eof")
    late = [e for t, e in recorder.seen if t > replaced_at and e.token == 1]
    assert late in ([], [PlaybackEnded(1, "stopped")])


def test_a_track_replaced_before_it_started_never_reports_started(
    media: Media, recorder: Recorder, make_player: Callable[..., MpvPlayer]
) -> None:
    player = make_player()
    replaced_at: dict[int, float] = {}
    for first in (1, 3, 5, 7, 9):
        player.play(PlayItem(first, media.b))
        player.play(PlayItem(first + 1, media.a))
        replaced_at[first] = time.monotonic()
        recorder.wait_for(started(first + 1))
    player.stop()
    recorder.wait_for(ended(10))

    # Nothing starts or progresses once replaced. mpv may have started a track in the moment
    # between the two calls (a loaded machine): that was posted before the replacing play()
    # took the player's lock, so before it returned, and the track then ends "stopped".
    late = [
        e
        for at, e in recorder.seen
        if isinstance(e, PlaybackStarted | PlaybackProgress)
        and e.token in replaced_at
        and at >= replaced_at[e.token]
    ]
    assert late == []
    opened = {e.token for _, e in recorder.seen if isinstance(e, PlaybackStarted)}
    for token in replaced_at:
        ends = [e for _, e in recorder.seen if isinstance(e, PlaybackEnded) and e.token == token]
        stopped = [PlaybackEnded(token, "stopped")]
        assert ends == stopped if token in opened else ends in ([], stopped), (token, ends)


def test_preload_replaces_the_queued_item_and_none_clears_it(
    media: Media, recorder: Recorder, make_player: Callable[..., MpvPlayer]
) -> None:
    player = make_player()
    player.play(PlayItem(1, media.a))
    player.preload(PlayItem(2, media.b))
    player.preload(PlayItem(3, media.a))

    events = recorder.wait_for(started(3))
    assert without_progress(events) == [
        PlaybackStarted(1, 1000),
        PlaybackEnded(1, "eof"),
        PlaybackStarted(3, 1000),
    ]

    player.preload(None)
    recorder.wait_for(ended(3))
    assert not [e for e in recorder.collect(0.3) if isinstance(e, PlaybackStarted)]
    assert all(e.token != 2 for _, e in recorder.seen)


def test_pause_freezes_the_position_and_resume_continues(
    media: Media, recorder: Recorder, make_player: Callable[..., MpvPlayer]
) -> None:
    player = make_player(progress_interval_s=0.1)
    player.play(PlayItem(1, media.b))
    recorder.wait_for(progressed(1, 200))

    player.pause()
    reported = [e.position_ms for e in recorder.collect(0.3) if isinstance(e, PlaybackProgress)]
    assert reported, "pausing reports the position it stopped at"
    frozen = reported[-1]
    assert recorder.collect(0.5) == []  # no progress and no end while paused

    player.resume()
    events = recorder.wait_for(progressed(1, frozen + 200), timeout=2.0)
    assert not [e for e in events if isinstance(e, PlaybackEnded)]


def test_stop_ends_the_token_as_stopped(
    media: Media, recorder: Recorder, make_player: Callable[..., MpvPlayer]
) -> None:
    player = make_player()
    player.play(PlayItem(1, media.b))
    player.preload(PlayItem(2, media.a))
    recorder.wait_for(started(1))

    player.stop()

    assert recorder.wait_for(ended(1))[-1] == PlaybackEnded(1, "stopped")
    assert recorder.collect(0.3) == []  # the preloaded item was dropped too


# ---------------------------------------------------------------------------------- failures


def test_a_corrupt_cache_file_is_an_error_and_the_next_item_still_plays(
    media: Media, recorder: Recorder, make_player: Callable[..., MpvPlayer]
) -> None:
    corrupt = _store(media.cache, random.Random(1).randbytes(20_000))
    player = make_player()

    player.play(PlayItem(1, corrupt))
    events = recorder.wait_for(ended(1))
    assert not [e for e in events if isinstance(e, PlaybackStarted)]
    end = events[-1]
    assert isinstance(end, PlaybackEnded) and end.outcome == "error"
    assert end.error == f"mpv: unrecognized file format: {corrupt}"

    player.play(PlayItem(2, media.a))
    assert recorder.wait_for(started(2))[-1] == PlaybackStarted(2, 1000)


def test_a_failed_item_is_followed_by_the_preloaded_one(
    media: Media, recorder: Recorder, make_player: Callable[..., MpvPlayer]
) -> None:
    corrupt = _store(media.cache, random.Random(2).randbytes(20_000))
    player = make_player()
    player.play(PlayItem(1, corrupt))
    player.preload(PlayItem(2, media.a))

    events = without_progress(recorder.wait_for(started(2)))

    assert [(type(e), e.token) for e in events] == [(PlaybackEnded, 1), (PlaybackStarted, 2)]
    assert isinstance(events[0], PlaybackEnded) and events[0].outcome == "error"


# ---------------------------------------------------------------------------------- security


def _refused_path(case: str, media: Media) -> Path:
    cache = media.cache
    if case == "outside the cache":
        return media.outside
    if case == "dot-dot out of the cache":
        return cache / ".." / media.outside.name
    if case == "symlink in the cache to outside":
        link = cache / "link-out"
        if not link.is_symlink():
            link.symlink_to(media.outside)
        return link
    if case == "dangling symlink":
        link = cache / "dangling"
        if not link.is_symlink():
            link.symlink_to(cache / "nowhere")
        return link
    if case == "directory":
        (cache / "subdir").mkdir(exist_ok=True)
        return cache / "subdir"
    if case == "the cache itself":
        return cache
    if case == "missing file":
        return cache / ("0" * 64)
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case",
    [
        "outside the cache",
        "dot-dot out of the cache",
        "symlink in the cache to outside",
        "dangling symlink",
        "directory",
        "the cache itself",
        "missing file",
    ],
)
def test_a_path_that_is_not_a_cache_file_is_refused_before_mpv_sees_it(
    case: str,
    media: Media,
    recorder: Recorder,
    make_player: Callable[..., MpvPlayer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=mpv_player.__name__)
    path = _refused_path(case, media)
    player = make_player()

    player.play(PlayItem(1, path))
    player.preload(PlayItem(2, path))

    refusals = recorder.pending()  # posted from inside the calls, not by mpv
    assert [(type(e), e.token) for e in refusals] == [(PlaybackEnded, 1), (PlaybackEnded, 2)]
    for refusal in refusals:
        assert isinstance(refusal, PlaybackEnded) and refusal.outcome == "error"
        assert refusal.error is not None and refusal.error.startswith(f"refused: {path}: ")
    assert recorder.collect(0.2) == []
    assert opened_by_mpv(caplog) == []


def test_a_refused_play_still_stops_what_was_playing(
    media: Media, recorder: Recorder, make_player: Callable[..., MpvPlayer]
) -> None:
    player = make_player()
    player.play(PlayItem(1, media.b))
    recorder.wait_for(started(1))

    player.play(PlayItem(2, media.outside))

    refusal = [e for e in recorder.pending() if e.token == 2]  # posted from inside play()
    assert len(refusal) == 1 and isinstance(refusal[0], PlaybackEnded)
    assert refusal[0].outcome == "error"
    assert recorder.wait_for(ended(1))[-1] == PlaybackEnded(1, "stopped")


def test_mpv_is_handed_only_the_resolved_absolute_path(
    media: Media,
    recorder: Recorder,
    make_player: Callable[..., MpvPlayer],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG, logger=mpv_player.__name__)
    alias = media.cache / "alias"
    if not alias.is_symlink():
        alias.symlink_to(media.a.name)  # a relative link that stays inside the cache
    monkeypatch.chdir(media.cache)
    player = make_player()

    player.play(PlayItem(1, Path("alias")))

    recorder.wait_for(started(1))
    assert opened_by_mpv(caplog) == [str(media.a)]


PLAYLISTS = {
    "list.m3u": "{target}\n",
    "extm3u-without-extension": "#EXTM3U\n#EXTINF:1,A\n{target}\n",
    "list.pls": "[playlist]\nFile1={target}\nNumberOfEntries=1\nVersion=2\n",
    "mpv-edl": "# mpv EDL v0\n{target}\n",
    "sheet.cue": 'FILE "{target}" WAVE\n  TRACK 01 AUDIO\n    INDEX 01 00:00:00\n',
    "stream.m3u8": "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:1.0,\nfile://{target}\n#EXT-X-ENDLIST\n",
    "ffconcat": "ffconcat version 1.0\nfile '{target}'\n",
}


@pytest.mark.parametrize("name", PLAYLISTS)
def test_a_playlist_in_the_cache_is_an_error_and_its_entries_are_not_opened(
    name: str,
    media: Media,
    recorder: Recorder,
    make_player: Callable[..., MpvPlayer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=mpv_player.__name__)
    listing = media.cache / name
    listing.write_text(PLAYLISTS[name].format(target=media.b))
    player = make_player()

    player.play(PlayItem(1, listing))

    events = recorder.wait_for(ended(1))
    assert len(events) == 1 and isinstance(events[0], PlaybackEnded)
    assert events[0].outcome == "error" and str(listing) in (events[0].error or "")
    assert not [e for e in recorder.collect(0.2) if isinstance(e, PlaybackStarted)]
    assert str(media.b) not in opened_by_mpv(caplog)


@pytest.mark.parametrize("lag_s", [0.0, 0.5], ids=["prompt", "event-thread-late"])
def test_entries_of_an_expanded_playlist_never_play(
    lag_s: float,
    media: Media,
    recorder: Recorder,
    make_player: Callable[..., MpvPlayer],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The last line of defence: even an mpv allowed to read playlists plays only our items,
    also when python-mpv's thread hears of the expansion late (a loaded machine: once 1.5 s of
    the expanded entry reached the output before mpv waited at each load for that thread)."""
    monkeypatch.delitem(mpv_player.MPV_OPTIONS, "access-references")
    monkeypatch.delitem(mpv_player.MPV_OPTIONS, "demuxer")
    on_end_file = MpvPlayer._on_end_file

    def late(player: MpvPlayer, data: Any) -> None:
        time.sleep(lag_s)
        on_end_file(player, data)

    monkeypatch.setattr(MpvPlayer, "_on_end_file", late)
    listing = media.cache / "expanding.m3u"
    listing.write_text(f"{media.b}\n")
    out = tmp_path / "out.wav"
    player = make_player(audio_file=out)

    player.play(PlayItem(1, listing))
    player.preload(PlayItem(2, media.a))

    events = recorder.wait_for(ended(2))
    assert pcm_timeline(events) == [
        PlaybackEnded(1, "error", f"refused: {listing} is a playlist, not audio"),
        PlaybackStarted(2, None),
        PlaybackEnded(2, "eof"),
    ]
    assert abs(len(read_pcm(out)) - A_FRAMES) <= TEN_MS  # only a.flac reached the output


# ---------------------------------------------------------------------------------- volume, close


def test_set_volume_sets_mpv_volume_clamped_to_0_100(
    make_player: Callable[..., MpvPlayer],
) -> None:
    player = make_player()
    for asked, applied in [(35, 35.0), (0, 0.0), (100, 100.0), (140, 100.0), (-5, 0.0)]:
        player.set_volume(asked)
        assert player.volume == applied


def test_volume_scales_what_is_heard(
    media: Media, recorder: Recorder, make_player: Callable[..., MpvPlayer], tmp_path: Path
) -> None:
    out = tmp_path / "out.wav"
    player = make_player(audio_file=out)
    player.set_volume(50)

    player.play(PlayItem(1, media.a))
    recorder.wait_for(ended(1))

    ratio = rms(read_pcm(out)) / rms(source_pcm(media.a))
    assert ratio == pytest.approx(0.5**3, rel=0.02)  # mpv's volume curve is cubic


@pytest.mark.parametrize(("replaygain", "level"), [("track", 0.5), ("no", 1.0)])
def test_replaygain_tags_set_the_level(
    replaygain: str,
    level: float,
    media: Media,
    recorder: Recorder,
    make_player: Callable[..., MpvPlayer],
    tmp_path: Path,
) -> None:
    out = tmp_path / "out.wav"
    player = make_player(audio_file=out, replaygain=replaygain)

    player.play(PlayItem(1, media.quiet))
    recorder.wait_for(ended(1))

    assert rms(read_pcm(out)) / rms(source_pcm(media.quiet)) == pytest.approx(level, rel=0.02)


def test_no_user_configuration_reaches_mpv(
    media: Media,
    recorder: Recorder,
    make_player: Callable[..., MpvPlayer],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    config = tmp_path / "config" / "mpv"
    (config / "scripts").mkdir(parents=True)
    (config / "mpv.conf").write_text("volume=7\nmute=yes\n")
    (config / "scripts" / "hello.lua").write_text('mp.set_property("volume", "3")\n')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("MPV_HOME", str(config))
    player = make_player()

    player.play(PlayItem(1, media.a))
    recorder.wait_for(started(1))

    assert player.volume == 100.0


def test_close_is_idempotent_and_nothing_is_posted_after_it(
    media: Media, recorder: Recorder, make_player: Callable[..., MpvPlayer]
) -> None:
    player = make_player()
    player.play(PlayItem(1, media.b))
    recorder.wait_for(started(1))

    player.close()
    recorder.pending()  # whatever was posted before close() returned
    player.close()
    player.pause()
    player.resume()
    player.set_volume(10)
    player.preload(None)
    player.stop()
    player.play(PlayItem(2, media.a))

    assert recorder.collect(0.3) == [PlaybackEnded(2, "error", "the player is closed")]
    assert player.volume is None


def test_without_an_audio_device_a_track_ends_in_error_not_finished(tmp_path: Path) -> None:
    """No sound card (ALSA finds no PCM here): mpv reaches the end at once; that is an error."""
    cache = tmp_path / "cache"
    track = synthesise_track(cache / "a.flac", TrackSpec("A", "B", 1.0))
    events: queue.Queue[Event] = queue.Queue()
    env_card = os.environ.get("ALSA_CONFIG_PATH")
    os.environ["ALSA_CONFIG_PATH"] = str(tmp_path / "no-such-alsa.conf")
    try:
        player = MpvPlayer(events.put, cache, ao="alsa")
        try:
            player.play(PlayItem(1, track))
            ended = events.get(timeout=10)
            while not isinstance(ended, PlaybackEnded):
                ended = events.get(timeout=10)
            assert ended.outcome == "error"
            assert ended.error is not None and "audio output" in ended.error
            assert player.problem is not None
        finally:
            player.close()
    finally:
        if env_card is None:
            os.environ.pop("ALSA_CONFIG_PATH", None)
        else:
            os.environ["ALSA_CONFIG_PATH"] = env_card


def test_many_tracks_leave_no_events_queued_unread(
    media: Media,
    recorder: Recorder,
    make_player: Callable[..., MpvPlayer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """python-mpv's main handle is never read: its queue (1,000 events) must not fill up and
    make mpv log "Too many events queued" as an error after ~140 tracks."""
    player = make_player(mpv_log_level="warn")
    caplog.set_level(logging.WARNING, logger="device.player.mpv_player")
    for token in range(1, 181):  # ~7 events a track on each handle
        player.play(PlayItem(token, media.a if token % 2 else media.b))
        recorder.wait_for(started(token))
    player.stop()
    recorder.wait_for(ended(180))
    assert not [r for r in caplog.records if "too many events" in r.getMessage().lower()]
