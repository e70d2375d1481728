"""The button panel over gpiozero: buttons and an optional rotary encoder.

gpiozero's callbacks run on its pin threads; they only stamp the edge with the monotonic
clock and post an event. Gestures (hold, combinations) are decided by the core, where they
are deterministic and testable. The pin factory is either given (gpiozero's MockFactory in
simulation and tests) or opened by `open_pin_factory` (device/buttons/pin_factory.py) when the
buttons attach, so a GPIO chip that appears late is found by the same retry.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from device.config import ButtonConfig, RotaryConfig
from device.events import ButtonDown, ButtonUp, EventSink, Rotated
from device.platform.backoff import Backoff

log = logging.getLogger(__name__)


class GpioPanel:
    """Implements device.ports.EventSource and device.ports.Health for the configured buttons
    and encoder."""

    def __init__(
        self,
        buttons: tuple[ButtonConfig, ...],
        rotary: RotaryConfig | None,
        pin_factory: Any = None,
        *,
        open_pin_factory: Callable[[], Any] | None = None,
    ) -> None:
        self.buttons = buttons
        self.rotary = rotary
        self.pin_factory = pin_factory
        self._open_pin_factory = open_pin_factory
        self._devices: list[Any] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.problem: str | None = None

    def start(
        self, sink: EventSink, *, retry_base_s: float = 10.0, retry_cap_s: float = 60.0
    ) -> None:
        """Attach the buttons; when the GPIO chip is missing, keep trying in the background."""
        if self._attach(sink):
            return
        stop = self._stop = threading.Event()
        backoff = Backoff(base_s=retry_base_s, cap_s=max(retry_base_s, retry_cap_s), jitter=False)

        def retry() -> None:
            while not stop.wait(backoff.next_delay()):
                if self._attach(sink):
                    log.info("buttons attached: GPIO is back")
                    return

        threading.Thread(target=retry, name="gpio-retry", daemon=True).start()

    def _attach(self, sink: EventSink) -> bool:
        from gpiozero import Button, RotaryEncoder
        from gpiozero.exc import GPIOZeroError

        with self._lock:
            if self._devices:
                return True
            if not self.buttons and self.rotary is None:
                return True  # nothing to attach: no pin factory to open either
            try:
                if self.pin_factory is None and self._open_pin_factory is not None:
                    self.pin_factory = self._open_pin_factory()
                self._attach_locked(sink, Button, RotaryEncoder)
            except (GPIOZeroError, OSError, RuntimeError) as exc:
                # No GPIO chip (a laptop, a broken board): the kiosk still plays and says why.
                for device in self._devices:
                    device.close()
                self._devices.clear()
                self._close_opened_factory()
                problem = f"buttons unavailable: {exc}"
                if problem != self.problem:
                    log.error("%s (retrying in the background)", problem)
                self.problem = problem
                return False
            self.problem = None
            return True

    def _attach_locked(self, sink: EventSink, button: Any, rotary_encoder: Any) -> None:
        for config in self.buttons:
            device = button(
                config.pin,
                pull_up=config.pull_up,
                bounce_time=config.bounce_ms / 1000 if config.bounce_ms else None,
                pin_factory=self.pin_factory,
            )
            self._devices.append(device)
            device.when_pressed = _edge(sink, ButtonDown, config.name)
            device.when_released = _edge(sink, ButtonUp, config.name)
        if self.rotary is not None:
            encoder = rotary_encoder(
                self.rotary.pin_a, self.rotary.pin_b, pin_factory=self.pin_factory
            )
            self._devices.append(encoder)
            encoder.when_rotated_clockwise = lambda: sink(Rotated(+1, time.monotonic()))
            encoder.when_rotated_counter_clockwise = lambda: sink(Rotated(-1, time.monotonic()))

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            for device in self._devices:
                device.close()
            self._devices.clear()
            self._close_opened_factory()

    def _close_opened_factory(self) -> None:
        """A factory this panel opened is closed with it (and opened afresh on a retry)."""
        if self._open_pin_factory is not None and self.pin_factory is not None:
            self.pin_factory.close()
            self.pin_factory = None


def _edge(sink: EventSink, kind: type[ButtonDown] | type[ButtonUp], name: str) -> Any:
    def callback() -> None:
        sink(kind(name, time.monotonic()))

    return callback
