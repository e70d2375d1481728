"""Keyboard control of the simulated kiosk in a terminal: each key presses a simulated button."""

from __future__ import annotations

import logging
import sys
import termios
import threading
import tty
from collections.abc import Callable

from device.config import KioskConfig
from device.domain import Action
from device.sim.panel import SimulatedPanel

log = logging.getLogger(__name__)

KEYS = {
    " ": Action.PLAY_PAUSE,
    "n": Action.NEXT,
    "p": Action.PREVIOUS,
    "l": Action.NEXT_PLAYLIST,
    "+": Action.VOLUME_UP,
    "=": Action.VOLUME_UP,
    "-": Action.VOLUME_DOWN,
    "t": Action.TECHNICIAN,
}
HELP = (
    "keys: space play/pause, n next, p previous, l next playlist, +/- volume, t technician, q quit"
)


def gesture_for(config: KioskConfig, action: Action) -> tuple[str, str, float] | None:
    """Which simulated gesture produces `action`: ("tap"|"hold"|"rotate", target, seconds)."""
    for button in config.buttons:
        if button.press is action:
            return ("tap", button.name, 0.08)
    for button in config.buttons:
        if button.hold is action:
            return ("hold", button.name, button.hold_time_s + 0.3)
    rotary = config.rotary
    if rotary is not None and action in (rotary.clockwise, rotary.counter_clockwise):
        return ("rotate", "+1" if action is rotary.clockwise else "-1", 0.0)
    return None


class Keyboard:
    def __init__(self, config: KioskConfig, panel: SimulatedPanel, quit: Callable[[], None]):
        self.config = config
        self.panel = panel
        self.quit = quit

    def start(self) -> bool:
        if not sys.stdin.isatty():
            return False
        threading.Thread(target=self._read, name="keyboard", daemon=True).start()
        log.info(HELP)
        return True

    def _read(self) -> None:
        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
        try:
            tty.setcbreak(fd)
            while key := sys.stdin.read(1):
                if key in ("q", "\x04"):
                    self.quit()
                    return
                action = KEYS.get(key)
                gesture = gesture_for(self.config, action) if action else None
                if gesture is None:
                    log.info(HELP)
                    continue
                kind, target, seconds = gesture
                if kind == "rotate":
                    self.panel.rotate(int(target))
                else:
                    self.panel.hold(target, seconds)
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)
