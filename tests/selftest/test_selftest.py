"""The technician's active self-test with the real parts: the tone generated into a real media
cache and played by the real mpv (its "pcm" output written to a WAV file, so the test hears
what the sound card would get), real gpiozero buttons and encoder on MockFactory pins, the
real core over a real journal; a fake clock only paces the core's own deadlines."""

from __future__ import annotations

import hashlib
import queue
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile
from gpiozero.pins.mock import MockFactory

from contract.media import MediaCache
from device.buttons.gpio_panel import GpioPanel
from device.config import parse_config
from device.core.kiosk import Kiosk, KioskContext
from device.core.selftest import BUTTONS_S, PATTERN_S
from device.display.model import SelfTestScreen, TestPatternScreen
from device.events import Event, PlaybackEnded
from device.journal.outbox import PlayJournal
from device.player.mpv_player import MpvPlayer
from device.selftest.tone import (
    DURATION_S,
    FREQUENCY_HZ,
    RATE,
    TONE_BYTES,
    TONE_SHA256,
    ensure_test_tone,
    tone_wav,
)
from device.sim.panel import SimulatedPanel
from tests.conftest import make_library
from tests.fakes import FakeClock, FakeDisplay

CONFIG: dict[str, Any] = {
    "display": {"driver": "none", "language": "fr"},
    "buttons": [
        {"name": "play", "pin": 17, "press": "play_pause", "hold": "technician", "bounce_ms": 0},
        {"name": "next", "pin": 27, "press": "next", "bounce_ms": 0},
    ],
    "rotary": {"pin_a": 5, "pin_b": 6},
}


def test_the_tone_is_a_verified_cache_file_written_once(tmp_path: Path) -> None:
    cache = MediaCache(tmp_path / "cache")
    path = ensure_test_tone(cache)
    assert path is not None and cache.contains(path)
    assert path.read_bytes() == tone_wav()
    before = path.stat().st_mtime_ns
    assert ensure_test_tone(MediaCache(tmp_path / "cache")) == path
    assert path.stat().st_mtime_ns == before  # same bytes on every start: nothing rewritten
    with wave.open(str(path)) as tone:
        assert (tone.getframerate(), tone.getnframes()) == (RATE, int(RATE * DURATION_S))


def test_the_stored_tone_is_found_by_its_name_and_size_and_a_damaged_one_made_again(
    tmp_path: Path,
) -> None:
    data = tone_wav()
    assert (hashlib.sha256(data).hexdigest(), len(data)) == (TONE_SHA256, TONE_BYTES)
    cache = MediaCache(tmp_path / "cache")
    path = ensure_test_tone(cache)
    assert path is not None
    path.chmod(0o600)
    path.write_bytes(data[: len(data) // 2])  # a card that lost half the file
    assert ensure_test_tone(MediaCache(tmp_path / "cache")) == path
    assert path.read_bytes() == data


def heard_pcm(path: Path) -> tuple[np.ndarray[Any, Any], int]:
    """The samples mpv's pcm output wrote, once it stopped adding to them (a poll, not a check)."""
    size = -1
    for _ in range(100):
        if path.stat().st_size == size:
            break
        size = path.stat().st_size
        time.sleep(0.05)
    data, rate = soundfile.read(path, dtype="int16", always_2d=True)
    return np.asarray(data[:, 0]).astype(np.int32), int(rate)


class Bench:
    """A kiosk on the bench: real mpv, real buttons on mock pins, events pumped by hand."""

    def __init__(self, tmp_path: Path, journal: PlayJournal, tone: Path | None) -> None:
        self.events: queue.Queue[Event] = queue.Queue()
        self.config = parse_config(CONFIG, "bench.toml", tmp_path)
        self.output = tmp_path / "heard.wav"
        self.player = MpvPlayer(self.events.put, tmp_path / "cache", audio_file=self.output)
        self.factory = MockFactory()
        self.panel = GpioPanel(self.config.buttons, self.config.rotary, self.factory)
        self.panel.start(self.events.put)
        self.sim = SimulatedPanel(self.factory, self.config.buttons, self.config.rotary)
        # The panel stamps presses with time.monotonic(): the fake clock starts there, and only
        # moves ahead of it (a hold, the core's deadlines) when a test advances it.
        self.clock = FakeClock(now=time.monotonic())
        self.display = FakeDisplay()
        library = make_library(tmp_path / "x.flac", ("festival", 1))
        context = KioskContext(device_id="jk-bench", test_tone=tone)
        self.kiosk = Kiosk(
            self.config, self.player, self.display, journal, self.clock, library, context
        )
        self.kiosk.start()

    def pump(self) -> list[Event]:
        """Hand the core what the adapters posted so far, as its loop would."""
        taken: list[Event] = []
        while True:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                return taken
            self.kiosk.handle(event)
            taken.append(event)

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.kiosk.tick()

    def wait_for_tone_end(self) -> PlaybackEnded:
        deadline = time.monotonic() + 20  # a bound, not a measured duration
        while time.monotonic() < deadline:
            for event in self.pump():
                if isinstance(event, PlaybackEnded):
                    return event
            time.sleep(0.02)
        raise AssertionError("mpv never ended the tone")

    def close(self) -> None:
        self.panel.close()
        self.player.close()


@pytest.fixture
def bench(tmp_path: Path, journal: PlayJournal) -> Iterator[Bench]:
    tone = ensure_test_tone(MediaCache(tmp_path / "cache"))
    bench = Bench(tmp_path, journal, tone)
    yield bench
    bench.close()


def start_from_the_technician_screen(bench: Bench) -> None:
    bench.sim.press("play")
    bench.pump()
    bench.advance(1.2)  # held: the technician screen
    bench.sim.release("play")
    bench.pump()
    bench.sim.tap("play")  # ▶ on the technician screen: the self-test
    bench.pump()


def test_the_self_test_shows_a_pattern_plays_the_tone_and_ticks_each_input(
    bench: Bench,
) -> None:
    start_from_the_technician_screen(bench)
    assert bench.display.last() == TestPatternScreen()
    bench.advance(PATTERN_S)
    tone_step = bench.display.last()
    assert isinstance(tone_step, SelfTestScreen) and tone_step.step == "tone"

    ended = bench.wait_for_tone_end()
    assert ended.outcome == "eof"
    heard, rate = heard_pcm(bench.output)  # what the sound card was given
    assert np.abs(heard).max() > 50  # not silence
    loud = heard[np.abs(heard) > 0]
    crossings = np.count_nonzero(np.diff(np.signbit(loud)))
    assert crossings / 2 / (len(loud) / rate) == pytest.approx(FREQUENCY_HZ, rel=0.1)

    checks = bench.display.last()
    assert isinstance(checks, SelfTestScreen) and checks.tone == "ok"
    assert checks.checks == (
        ("play", False), ("next", False), ("molette +", False), ("molette -", False),
    )  # fmt: skip
    bench.sim.tap("next")
    bench.pump()
    bench.sim.rotate(+1, pause=0)
    bench.pump()
    ticked = bench.display.last()
    assert isinstance(ticked, SelfTestScreen) and ticked.checks == (
        ("play", False), ("next", True), ("molette +", True), ("molette -", False),
    )  # fmt: skip
    assert bench.kiosk.volume == 40  # the knob turned during the test changed no volume
    bench.sim.tap("play")
    bench.sim.rotate(-1, pause=0)
    bench.pump()
    done = bench.display.last()
    assert isinstance(done, SelfTestScreen) and done.step == "done"
    result = bench.kiosk.status.selftest
    assert result == "passed: tone ok, 4/4 inputs"
    assert not bench.kiosk.journal.stats().finished  # the tone is no play


def test_a_missing_tone_and_an_untouched_button_are_reported_for_diagnostics(
    tmp_path: Path, journal: PlayJournal
) -> None:
    bench = Bench(tmp_path, journal, tone=None)
    try:
        start_from_the_technician_screen(bench)
        bench.advance(PATTERN_S)
        bench.sim.tap("play")
        bench.sim.rotate(+1, pause=0)
        bench.sim.rotate(-1, pause=0)
        bench.pump()
        bench.advance(BUTTONS_S)
        assert bench.kiosk.status.selftest == (
            "FAILED: tone failed (no test tone in the cache), 3/4 inputs, missing next"
        )
        rows = dict(bench.kiosk.technician_rows())  # the status in English, the row in French
        assert rows["Autotest"] == (
            "ÉCHEC : son en échec (no test tone in the cache), 3/4 entrées, manque : next"
        )
        assert "self-test: tone failed" in bench.kiosk.status.errors[-1]
    finally:
        bench.close()


def test_a_tone_outside_the_cache_is_refused_by_the_player_and_the_test_says_so(
    tmp_path: Path, journal: PlayJournal
) -> None:
    stray = tmp_path / "tone.wav"
    stray.write_bytes(tone_wav())
    bench = Bench(tmp_path, journal, tone=stray)
    try:
        start_from_the_technician_screen(bench)
        bench.advance(PATTERN_S)
        ended = bench.wait_for_tone_end()
        assert ended.outcome == "error"
        checks = bench.display.last()
        assert isinstance(checks, SelfTestScreen) and checks.tone == "failed"
    finally:
        bench.close()
