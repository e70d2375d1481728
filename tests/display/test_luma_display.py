"""LumaDisplay against real luma devices: the dummy (wrapped to record calls) and gifanim."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from luma.core.device import dummy
from PIL import Image

from device.config import DisplayConfig
from device.display.luma_display import LumaDisplay, NullDisplay, open_display
from device.display.model import (
    AttractScreen,
    BootScreen,
    NowPlayingScreen,
    Screen,
    VolumeScreen,
)
from device.display.render import render

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

BOOT = BootScreen(version="1.0")
VOLUME = VolumeScreen(volume=50, minimum=0, maximum=100)
ATTRACT = AttractScreen(playlist="Fête de la musique", note="Le 21 juin.")
LONG_TITLE = NowPlayingScreen(
    playlist="Jazz",
    title="A title far too long for the panel, so it scrolls",
    artist="X",
    elapsed_ms=0,
    duration_ms=60_000,
)


class RecordingDummy(dummy):  # type: ignore[misc]
    """luma's dummy panel, also recording what the real driver would have been told."""

    def __init__(self) -> None:
        super().__init__(width=128, height=64, mode="1")
        self.frames: list[Image.Image] = []
        self.calls: list[tuple[str, Any]] = []
        self.fail_with: Exception | None = None
        self.block: threading.Event | None = None

    def display(self, image: Image.Image) -> None:
        if self.block is not None:
            self.block.wait(5)
        if self.fail_with is not None:
            raise self.fail_with
        super().display(image)
        self.frames.append(self.image)

    def contrast(self, level: int) -> None:
        self.calls.append(("contrast", level))

    def show(self) -> None:
        self.calls.append(("show", None))

    def hide(self) -> None:
        self.calls.append(("hide", None))

    def cleanup(self) -> None:
        self.calls.append(("cleanup", None))

    def contrasts(self) -> list[int]:
        return [arg for name, arg in self.calls if name == "contrast"]


def eventually(check: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


@pytest.fixture
def panel() -> RecordingDummy:
    return RecordingDummy()


@pytest.fixture
def display(panel: RecordingDummy) -> Iterator[LumaDisplay]:
    shown = LumaDisplay(panel, contrast=200, dim_contrast=20, fps=50)
    yield shown
    shown.close()


def same(image: Image.Image | None, screen: Screen, elapsed_s: float = 0.0) -> bool:
    return image is not None and image.tobytes() == render(screen, (128, 64), elapsed_s).tobytes()


def test_each_new_screen_reaches_the_panel(display: LumaDisplay, panel: RecordingDummy) -> None:
    display.show(BOOT)
    eventually(lambda: len(panel.frames) == 1)
    display.show(VOLUME)
    eventually(lambda: len(panel.frames) == 2)
    assert same(panel.frames[0], BOOT)
    assert same(panel.frames[1], VOLUME)
    assert same(display.last_image, VOLUME)


def test_an_unchanged_picture_is_not_sent_again(
    display: LumaDisplay, panel: RecordingDummy
) -> None:
    playing = NowPlayingScreen("Jazz", "Take Five", "Brubeck", 83_000, 236_000)
    display.show(playing)
    eventually(lambda: len(panel.frames) == 1)
    display.show(playing)
    display.show(replace(playing, elapsed_ms=83_200))  # same m:ss, same bar: same pixels
    time.sleep(0.15)
    assert len(panel.frames) == 1


def test_show_returns_at_once_and_only_the_latest_screen_is_drawn(
    display: LumaDisplay, panel: RecordingDummy
) -> None:
    panel.block = threading.Event()  # an I2C write that takes forever
    display.show(BOOT)
    time.sleep(0.05)  # the worker is now stuck sending BOOT
    started = time.monotonic()
    for volume in range(0, 100, 10):
        display.show(VolumeScreen(volume, 0, 100))
    display.show(VOLUME)
    assert time.monotonic() - started < 0.05
    panel.block.set()
    eventually(lambda: same(panel.image, VOLUME))
    assert len(panel.frames) == 2


def recording(seen: list[tuple[Screen, float]]) -> Callable[..., Image.Image]:
    def draw(screen: Screen, size: tuple[int, int], elapsed_s: float) -> Image.Image:
        seen.append((screen, elapsed_s))
        return render(screen, size, elapsed_s)

    return draw


def test_scrolling_title_is_redrawn_as_time_passes(
    panel: RecordingDummy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("device.display.render.MARQUEE_PAUSE_S", 0.1)
    seen: list[tuple[Screen, float]] = []
    display = LumaDisplay(panel, fps=50, renderer=recording(seen))
    try:
        display.show(LONG_TITLE)
        eventually(lambda: len(panel.frames) >= 5)
        display.show(LONG_TITLE)  # the same screen again
        display.show(replace(LONG_TITLE, elapsed_ms=1_000))  # a progress update
        eventually(lambda: len(panel.frames) >= 10)
        elapsed = [e for _, e in seen]
        assert elapsed == sorted(elapsed), "the marquee restarted"
        assert len({frame.tobytes() for frame in panel.frames}) >= 10
    finally:
        display.close()


def test_screens_are_not_redrawn_while_nothing_moves(panel: RecordingDummy) -> None:
    seen: list[tuple[Screen, float]] = []
    display = LumaDisplay(panel, fps=50, renderer=recording(seen))
    try:
        display.show(ATTRACT)  # static
        time.sleep(0.15)
        display.show(LONG_TITLE)  # resting before it scrolls
        time.sleep(0.15)
        display.show(AttractScreen("Voix", "mot " * 100))  # paged every few seconds
        time.sleep(0.15)
        assert len(seen) == 3
    finally:
        display.close()


def test_static_screen_is_drawn_once(display: LumaDisplay, panel: RecordingDummy) -> None:
    display.show(ATTRACT)
    time.sleep(0.2)
    assert len(panel.frames) == 1


def test_dim_attract_screen_lowers_the_contrast(
    display: LumaDisplay, panel: RecordingDummy
) -> None:
    display.show(ATTRACT)
    eventually(lambda: panel.contrasts() == [200])
    display.show(replace(ATTRACT, dim=True))
    eventually(lambda: panel.contrasts() == [200, 20])
    display.show(VOLUME)
    eventually(lambda: panel.contrasts() == [200, 20, 200])


def test_sleep_turns_the_panel_off_and_a_new_screen_turns_it_on(
    display: LumaDisplay, panel: RecordingDummy
) -> None:
    display.show(ATTRACT)
    eventually(lambda: len(panel.frames) == 1)
    display.sleep()
    eventually(lambda: ("hide", None) in panel.calls)
    display.show(VOLUME)
    eventually(lambda: same(panel.image, VOLUME))
    assert [name for name, _ in panel.calls if name in ("show", "hide")] == ["hide", "show"]
    display.sleep()
    eventually(lambda: [n for n, _ in panel.calls].count("hide") == 2)
    display.wake()
    eventually(lambda: [n for n, _ in panel.calls].count("show") == 2)
    assert len(panel.frames) == 2  # waking alone redraws nothing: the panel kept its picture


def test_a_failing_panel_is_retried_and_logged_once(
    display: LumaDisplay, panel: RecordingDummy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="device.display.luma_display")
    panel.fail_with = OSError(121, "Remote I/O error")
    display.show(BOOT)
    eventually(lambda: display.problem is not None)
    time.sleep(0.2)  # about ten failed frames at 50 fps
    display.show(VOLUME)  # the caller never sees the error
    panel.fail_with = None
    eventually(lambda: same(panel.image, VOLUME))
    eventually(lambda: display.problem is None)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "Remote I/O error" in errors[0].getMessage()
    assert any("works again" in r.getMessage() for r in caplog.records)


def test_close_stops_drawing_and_cleans_up(panel: RecordingDummy) -> None:
    display = LumaDisplay(panel, fps=50)
    display.show(BOOT)
    eventually(lambda: len(panel.frames) == 1)
    display.close()
    display.show(VOLUME)
    display.close()
    time.sleep(0.05)
    assert len(panel.frames) == 1
    assert [name for name, _ in panel.calls].count("cleanup") == 1


# ------------------------------------------------------------------------------ factory


def test_emulated_gif_records_every_screen_in_real_time(tmp_path: Path) -> None:
    gif = tmp_path / "screen.gif"
    config = DisplayConfig(
        driver="emulated", emulator="gif", emulator_output=gif, emulator_fps=20.0
    )
    display = open_display(config)
    assert isinstance(display, LumaDisplay)
    started = time.monotonic()
    for screen in (BOOT, ATTRACT, replace(ATTRACT, dim=True), VOLUME):
        display.show(screen)
        time.sleep(0.15)
    display.close()
    recorded_ms = (time.monotonic() - started) * 1000
    with Image.open(gif) as image:
        assert image.size == (256, 128)
        frames = getattr(image, "n_frames", 1)
        total_ms = 0
        for index in range(frames):
            image.seek(index)
            total_ms += image.info.get("duration", 0)
    assert frames >= 4  # Pillow merges identical frames, keeping their time
    assert 0.5 * recorded_ms <= total_ms <= 1.5 * recorded_ms


def test_emulated_window_without_a_desktop_records_a_gif(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    gif = tmp_path / "fallback.gif"
    display = open_display(DisplayConfig(driver="emulated", emulator="window", emulator_output=gif))
    display.show(BOOT)
    eventually(lambda: display.last_image is not None)
    display.close()
    assert gif.exists()


def test_emulated_png_writes_one_file_per_new_frame(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    display = open_display(DisplayConfig(driver="emulated", emulator="png", emulator_output=folder))
    display.show(BOOT)
    eventually(lambda: len(list(folder.glob("*.png"))) >= 1)
    display.show(VOLUME)
    eventually(lambda: len(list(folder.glob("*.png"))) >= 2)
    display.close()


def test_no_display_remembers_the_screen() -> None:
    display = open_display(DisplayConfig(driver="none"))
    assert isinstance(display, NullDisplay)
    assert display.problem is None
    assert display.last_image is None
    display.show(VOLUME)
    assert display.last_screen == VOLUME
    assert same(display.last_image, VOLUME)
    display.sleep()
    display.wake()
    display.close()


def test_missing_i2c_panel_gives_a_screenless_display_naming_the_bus(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR)
    config = DisplayConfig(driver="ssd1306", interface="i2c", i2c_port=99, i2c_address=0x3D)
    display = open_display(config)
    assert isinstance(display, NullDisplay)
    assert display.problem is not None
    assert "/dev/i2c-99" in display.problem
    assert "0x3D" in display.problem
    assert any("/dev/i2c-99" in r.getMessage() for r in caplog.records)
    display.show(BOOT)
    assert display.last_screen == BOOT


def test_missing_spi_panel_gives_a_screenless_display_naming_the_device() -> None:
    config = DisplayConfig(driver="sh1106", interface="spi", spi_port=7, spi_device=1)
    display = open_display(config)
    assert isinstance(display, NullDisplay)
    assert display.problem is not None
    assert "spidev7.1" in display.problem
