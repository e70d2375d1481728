"""Presses simulated buttons by driving gpiozero MockFactory pins.

Keyboard, control socket and demo all go through these pins, so a simulated press takes the
same path as a real one: pin edge, gpiozero debounce and callbacks, GpioPanel, core event.
"""

from __future__ import annotations

import time
from typing import Any

from device.config import ButtonConfig, RotaryConfig


class UnknownButton(KeyError):
    pass


class SimulatedPanel:
    def __init__(
        self, factory: Any, buttons: tuple[ButtonConfig, ...], rotary: RotaryConfig | None
    ) -> None:
        self.factory = factory
        self.buttons = {b.name: b for b in buttons}
        self.rotary = rotary

    def _pin(self, name: str) -> Any:
        button = self.buttons.get(name)
        if button is None:
            known = ", ".join(self.buttons) or "none"
            raise UnknownButton(f"no button named '{name}' (buttons: {known})")
        return self.factory.pin(button.pin), button

    def press(self, name: str) -> None:
        pin, button = self._pin(name)
        if button.pull_up:
            pin.drive_low()
        else:
            pin.drive_high()

    def release(self, name: str) -> None:
        pin, button = self._pin(name)
        if button.pull_up:
            pin.drive_high()
        else:
            pin.drive_low()

    def tap(self, name: str, seconds: float = 0.08) -> None:
        """A short press: longer than the debounce time, shorter than any hold."""
        self.press(name)
        time.sleep(seconds)
        self.release(name)

    def hold(self, name: str, seconds: float) -> None:
        self.tap(name, seconds)

    def rotate(self, steps: int, pause: float = 0.005) -> None:
        """Clockwise for positive steps, in the quadrature order gpiozero's encoder decodes."""
        if self.rotary is None:
            raise UnknownButton("no rotary encoder is configured")
        a = self.factory.pin(self.rotary.pin_a)
        b = self.factory.pin(self.rotary.pin_b)
        first, second = (a, b) if steps > 0 else (b, a)
        for _ in range(abs(steps)):
            for pin, level in ((first, False), (second, False), (first, True), (second, True)):
                pin.drive_high() if level else pin.drive_low()
                time.sleep(pause)
