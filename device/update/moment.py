"""When a kiosk with a new slot installed may reboot: the safe moment, decided on the core.

Never in the middle of a play (playing or paused): a listener is never cut off. Otherwise,
outside opening hours (the tenant's calendar, with a synced clock), or once nobody has touched
the kiosk for its idle timeout. An always-open kiosk that autoplays without pause therefore
waits for a moment between plays that are idle (a visitor's stop, the end of a playlist
without loop) or for a calendar that closes; the update is reported as waiting meanwhile.

`RebootGate.on_tick` runs on the core's thread (the kiosk's `on_tick`, beside the watchdog
keep-alive) so it reads the controllers' state without a lock; the update client arms it
from its own thread with a plain flag.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from device.core.status import Mode

if TYPE_CHECKING:
    from device.core.kiosk import Kiosk

log = logging.getLogger(__name__)


def safe_moment(kiosk: Kiosk) -> str | None:
    """Why a reboot would hurt nobody now, or None while it would (call on the core thread)."""
    if kiosk.mode is not Mode.IDLE:
        return None  # playing or paused: mid-play
    calendar = kiosk.calendar
    if not calendar.is_open and not calendar.clock_unsynced:
        return "outside opening hours"
    visitor = kiosk.visitor
    timeout = kiosk.config.visitor.idle_timeout_s
    quiet_for = kiosk.clock.monotonic() - visitor.last_activity  # a press, or a screen woken
    if not visitor.visitor_present and quiet_for >= timeout:
        return f"idle for {timeout:.0f} s with nobody listening"
    return None


class RebootGate:
    """Reboots (once) at the first safe moment after `arm`; `reboot` writes the request."""

    def __init__(self, reboot: Callable[[], None]) -> None:
        self._reboot = reboot
        self._armed = threading.Event()
        self.done = False
        self.reason: str | None = None

    def arm(self) -> None:
        """From any thread: a new slot waits; reboot at the next safe moment."""
        self._armed.set()

    def disarm(self) -> None:
        """From any thread: the slot that waited is being rewritten; no reboot into it."""
        self._armed.clear()

    @property
    def armed(self) -> bool:
        return self._armed.is_set() and not self.done

    def on_tick(self, kiosk: Kiosk) -> None:
        """On the core's thread, after every round."""
        if not self.armed:
            return
        reason = safe_moment(kiosk)
        if reason is None:
            return
        log.warning("rebooting into the updated slot: %s", reason)
        self.done = True
        self.reason = reason
        try:
            self._reboot()
        except OSError as exc:
            log.error("the update's reboot could not be asked: %s", exc)
