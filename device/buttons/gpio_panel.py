"""The button panel over gpiozero: buttons and an optional rotary encoder.

gpiozero's callbacks run on its pin threads; they only stamp the edge with the monotonic
clock and post an event. Gestures (hold, combinations) are decided by the core, where they
are deterministic and testable. The pin factory is chosen once at start: the real one on a
Pi, gpiozero's MockFactory in simulation and tests.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from device.config import ButtonConfig, RotaryConfig
from device.events import ButtonDown, ButtonUp, EventSink, Rotated

log = logging.getLogger(__name__)


class GpioPanel:
    """Implements device.ports.EventSource for the configured buttons and encoder."""

    def __init__(
        self,
        buttons: tuple[ButtonConfig, ...],
        rotary: RotaryConfig | None,
        pin_factory: Any = None,
    ) -> None:
        self.buttons = buttons
        self.rotary = rotary
        self.pin_factory = pin_factory
        self._devices: list[Any] = []
        self.problem: str | None = None

    def start(self, sink: EventSink) -> None:
        from gpiozero import Button, RotaryEncoder
        from gpiozero.exc import GPIOZeroError

        try:
            for config in self.buttons:
                button = Button(
                    config.pin,
                    pull_up=config.pull_up,
                    bounce_time=config.bounce_ms / 1000 if config.bounce_ms else None,
                    pin_factory=self.pin_factory,
                )
                button.when_pressed = _edge(sink, ButtonDown, config.name)
                button.when_released = _edge(sink, ButtonUp, config.name)
                self._devices.append(button)
            if self.rotary is not None:
                encoder = RotaryEncoder(
                    self.rotary.pin_a, self.rotary.pin_b, pin_factory=self.pin_factory
                )
                encoder.when_rotated_clockwise = lambda: sink(Rotated(+1, time.monotonic()))
                encoder.when_rotated_counter_clockwise = lambda: sink(Rotated(-1, time.monotonic()))
                self._devices.append(encoder)
        except (GPIOZeroError, OSError, RuntimeError) as exc:
            # No GPIO chip (a laptop, a broken board): the kiosk still plays and says why.
            self.problem = f"buttons unavailable: {exc}"
            log.error("%s", self.problem)

    def close(self) -> None:
        for device in self._devices:
            device.close()
        self._devices.clear()


def _edge(sink: EventSink, kind: type[ButtonDown] | type[ButtonUp], name: str) -> Any:
    def callback() -> None:
        sink(kind(name, time.monotonic()))

    return callback
