"""Short-lived things on top of the screen (toasts, the volume bar, identify) and recent errors.

Every controller reports through here, so one place decides what a toast looks like and how
long it stays, and the technician screen and status find the last errors in one list.
"""

from __future__ import annotations

import logging

from device.display.model import ErrorScreen, Screen
from device.ports import Clock

log = logging.getLogger(__name__)

ERROR_TOAST_S = 3.0
ERRORS_KEPT = 10


class Notices:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.overlay: Screen | None = None
        self.overlay_until = 0.0
        self.identify_until: float | None = None
        self.errors: list[str] = []

    def show(self, screen: Screen, seconds: float) -> None:
        """Put `screen` on top of everything but identify and the technician screen."""
        self.overlay = screen
        self.overlay_until = self.clock.monotonic() + seconds

    def toast(self, title: str, detail: str) -> None:
        self.show(ErrorScreen(title, detail), ERROR_TOAST_S)

    def note_error(self, message: str) -> None:
        log.error(message)
        self.errors = [*self.errors[-(ERRORS_KEPT - 1) :], message]

    def identify(self, seconds: float) -> None:
        log.info("identify requested: showing the name for %.0f s", seconds)
        self.identify_until = self.clock.monotonic() + seconds

    def deadlines(self) -> list[float]:
        candidates = []
        if self.overlay is not None:
            candidates.append(self.overlay_until)
        if self.identify_until is not None:
            candidates.append(self.identify_until)
        return candidates

    def expire(self, now: float) -> None:
        if self.overlay is not None and now >= self.overlay_until:
            self.overlay = None
        if self.identify_until is not None and now >= self.identify_until:
            self.identify_until = None
