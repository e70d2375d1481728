"""Visitor and idle policy: who is at the kiosk, and what happens when nobody is.

Button presses become actions here (a press that wakes the sleeping screen is swallowed, down
to its release); every action counts as presence; after the idle timeout the volume and the
playlist go back to the public defaults (never cutting a playing track); an idle kiosk dims
and then sleeps its screen. A plain object called on the core's thread; it reaches the other
controllers through `core`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from device.core.gestures import GestureDecoder
from device.core.status import Mode
from device.display.model import VolumeScreen
from device.domain import Action, EndReason

if TYPE_CHECKING:
    from device.config import KioskConfig
    from device.core.kiosk import Kiosk

log = logging.getLogger(__name__)


class VisitorController:
    def __init__(self, core: Kiosk) -> None:
        self.core = core
        self.clock = core.clock
        self.gestures = GestureDecoder(core.config.buttons, core.config.combos)
        now = self.clock.monotonic()
        self.last_activity = now
        self.idle_since = now
        self.visitor_present = False  # an action happened within the idle timeout
        self.technician = False
        self.asleep = False
        self._swallowed: set[str] = set()

    @property
    def config(self) -> KioskConfig:
        return self.core.config  # read each time: settings may change while the kiosk runs

    def rebind(self) -> None:
        """The buttons' and combinations' actions as configured now (new kiosk settings)."""
        self.gestures.release_all()
        self.gestures = GestureDecoder(self.config.buttons, self.config.combos)

    # ------------------------------------------------------------------ input

    def button_down(self, name: str, at: float) -> list[Action] | None:
        """The actions of a press; None for a press that only wakes the screen (swallowed)."""
        if self.asleep or name in self._swallowed:
            self._swallowed.add(name)
            self.wake()
            return None
        return self.gestures.down(name, at)

    def button_up(self, name: str, at: float) -> list[Action] | None:
        """The actions of a release; None for the release of a swallowed press."""
        if name in self._swallowed:
            self._swallowed.discard(name)
            self.gestures.up(name, at)
            return None
        return self.gestures.up(name, at)

    def rotated(self, steps: int) -> list[Action] | None:
        """One action per detent; None when turning the knob only woke the screen."""
        if self.asleep:
            self.wake()
            return None
        rotary = self.config.rotary
        if rotary is None:
            return []
        action = rotary.clockwise if steps > 0 else rotary.counter_clockwise
        return [action] * abs(steps)

    def arrived(self, now: float) -> None:
        """Any action: someone is here, and the idle timeout starts again."""
        self.last_activity = now
        self.visitor_present = True

    def change_volume(self, steps: int) -> None:
        mixer = self.core.mixer
        mixer.step(steps)
        rules = mixer.rules
        volume_bar = VolumeScreen(mixer.volume, rules.minimum, rules.maximum, self.core.language)
        self.core.notices.show(volume_bar, self.config.visitor.volume_display_s)

    # ------------------------------------------------------------------ presence

    def gone(self) -> None:
        """Nobody has touched the kiosk for a while: back to public defaults.

        A playing track is never cut: the reset waits for its end, so a listener is not
        interrupted and an unattended kiosk stops adding plays after one track.
        """
        log.info(
            "no visitor action for %.0f s: volume and playlist back to defaults",
            self.core.defaults.idle_timeout_s(),
        )
        self.visitor_present = False
        self.technician = False
        self.core.mixer.reset()
        playback, defaults = self.core.playback, self.core.defaults
        current = playback.current
        if playback.mode is Mode.PLAYING and current is not None:
            if defaults.is_default(current):
                return  # already the public default
            playback.stop_after_current()
            return
        playback.end_current(EndReason.STOPPED)
        defaults.reset_to_featured()

    def presence_deadline(self) -> float | None:
        if self.visitor_present:
            return self.last_activity + self.core.defaults.idle_timeout_s()
        return None

    def check_presence(self, now: float) -> None:
        timeout = self.core.defaults.idle_timeout_s()
        if self.visitor_present and now >= self.last_activity + timeout:
            self.gone()

    # ------------------------------------------------------------------ screen saver

    def wake(self) -> None:
        self.asleep = False
        self.idle_since = self.clock.monotonic()
        self.last_activity = self.idle_since
        self.gestures.release_all()
        self.core.display.wake()

    def went_idle(self) -> None:
        """Playback stopped: the dim, move and sleep timers start now."""
        self.idle_since = self.clock.monotonic()

    def screen_deadlines(self, mode: Mode) -> list[float]:
        """Dimming, moving the attract text (burn-in) and sleeping, while idle and awake."""
        if mode is not Mode.IDLE or self.asleep:
            return []
        display = self.config.display
        idle_for = self.clock.monotonic() - self.idle_since
        candidates = [self.idle_since + display.sleep_after_s]
        if idle_for < display.dim_after_s:
            candidates.append(self.idle_since + display.dim_after_s)
        moves = int(idle_for // display.move_every_s) + 1
        candidates.append(self.idle_since + moves * display.move_every_s)
        return candidates

    def check_sleep(self, now: float, mode: Mode) -> None:
        if (
            mode is Mode.IDLE
            and not self.asleep
            and now >= self.idle_since + self.config.display.sleep_after_s
        ):
            log.info("screen going to sleep after %.0f s idle", now - self.idle_since)
            self.asleep = True
            self.core.display.sleep()
