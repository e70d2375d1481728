"""A missing panel is looked for again, and shows the current screen once it answers."""

from __future__ import annotations

import time

from luma.core.device import dummy

from device.display.luma_display import LumaDisplay, NullDisplay
from device.display.model import BootScreen, ErrorScreen
from device.display.reconnect import ReconnectingDisplay, open_display_with_retry


def test_the_panel_is_found_later_and_shows_the_current_screen() -> None:
    panel = dummy(width=128, height=64, mode="1")
    attempts: list[float] = []

    def opener() -> LumaDisplay | NullDisplay:
        attempts.append(time.monotonic())
        if len(attempts) < 3:
            return NullDisplay(problem="no ssd1306 display on I2C bus /dev/i2c-1 address 0x3C")
        return LumaDisplay(panel)

    display = open_display_with_retry(opener, base_s=0.05, cap_s=0.2)
    assert isinstance(display, ReconnectingDisplay)
    assert display.problem is not None and "0x3C" in display.problem
    display.show(BootScreen("0.1.0"))
    display.show(ErrorScreen("No music yet", "Waiting."))
    deadline = time.monotonic() + 10
    while panel.image is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert panel.image is not None, "the panel never received the current screen"
    assert display.problem is None
    assert len(attempts) == 3
    display.close()


def test_no_display_configured_is_not_retried() -> None:
    calls: list[int] = []

    def opener() -> NullDisplay:
        calls.append(1)
        return NullDisplay()

    assert isinstance(open_display_with_retry(opener), NullDisplay)
    assert calls == [1]
