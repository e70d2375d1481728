"""A display that keeps looking for its panel: a loose I2C cable must not need a reboot.

While the panel is missing, screens go to a NullDisplay (so the control socket and the
technician screen still work) and a background thread retries with backoff; once the panel
answers, it takes over and shows the current screen at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from device.display.luma_display import LumaDisplay, NullDisplay
from device.display.model import Screen
from device.platform.backoff import Backoff

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)

Opener = Callable[[], LumaDisplay | NullDisplay]


class ReconnectingDisplay:
    """Implements device.ports.Display and device.ports.Health."""

    def __init__(
        self, opener: Opener, first: NullDisplay, *, base_s: float = 5.0, cap_s: float = 60.0
    ) -> None:
        self._opener = opener
        self._current: LumaDisplay | NullDisplay = first
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._asleep = False
        self._screen: Screen | None = None
        self._backoff = Backoff(base_s=base_s, cap_s=cap_s, jitter=False)
        self._thread = threading.Thread(target=self._retry, name="display-retry", daemon=True)
        self._thread.start()

    @property
    def problem(self) -> str | None:
        with self._lock:
            return self._current.problem

    @property
    def last_image(self) -> Image.Image | None:
        with self._lock:
            return self._current.last_image

    def show(self, screen: Screen) -> None:
        with self._lock:
            self._screen = screen
            self._current.show(screen)

    def sleep(self) -> None:
        with self._lock:
            self._asleep = True
            self._current.sleep()

    def wake(self) -> None:
        with self._lock:
            self._asleep = False
            self._current.wake()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        with self._lock:
            self._current.close()

    def _retry(self) -> None:
        while not self._stop.wait(self._backoff.next_delay()):
            found = self._opener()
            if isinstance(found, NullDisplay):
                continue
            with self._lock:
                screen = self._screen
                if screen is not None:
                    found.show(screen)
                if self._asleep:
                    found.sleep()
                self._current = found
            log.info("display found: the screen is back")
            return


OpenedDisplay = LumaDisplay | NullDisplay | ReconnectingDisplay
"""What the daemon drives: each also keeps its `last_image` for the control socket."""


def open_display_with_retry(
    opener: Opener, *, base_s: float = 5.0, cap_s: float = 60.0
) -> OpenedDisplay:
    """The display, or one that keeps retrying when the panel is missing (not when 'none')."""
    display = opener()
    if isinstance(display, NullDisplay) and display.problem is not None:
        return ReconnectingDisplay(opener, display, base_s=base_s, cap_s=cap_s)
    return display
