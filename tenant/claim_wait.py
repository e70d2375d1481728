"""Token polls held open until their device is claimed: RFC 8628 long polling, one process.

A pending kiosk's poll of /v1/token waits here (on a worker thread, never the event loop) for
the claim route to call `notify`, so a claim made in this process answers the held poll at
once. A claim made in another service process is not seen until the kiosk's next poll: that
bounds claim to token by the hold plus the interval, as without long polling. The number of
polls held at once is capped so waiting polls cannot take every worker thread; past the cap a
poll is answered at once, as before.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)

_Key = tuple[str, str]  # (tenant slug, device id)


class ClaimWaits:
    """The polls held now, by device; `enter`, wait on the event, `leave` in a finally."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[_Key, list[threading.Event]] = {}
        self._held = 0

    def enter(self, slug: str, device_id: str, limit: int) -> threading.Event | None:
        """A new event to wait on for this device's claim, or None when `limit` polls wait."""
        with self._lock:
            if self._held >= limit:
                log.info("%d token polls held already: answering %s at once", limit, device_id)
                return None
            self._held += 1
            event = threading.Event()
            self._events.setdefault((slug, device_id), []).append(event)
        log.debug("tenant %s: holding the token poll of %s", slug, device_id)
        return event

    def leave(self, slug: str, device_id: str, event: threading.Event) -> None:
        with self._lock:
            self._held -= 1
            waiting = self._events.get((slug, device_id), [])
            if event in waiting:
                waiting.remove(event)
            if not waiting:
                self._events.pop((slug, device_id), None)

    def notify(self, slug: str, device_id: str) -> None:
        """The device's standing changed (claimed, revoked): answer its held polls now."""
        with self._lock:
            for event in self._events.get((slug, device_id), []):
                event.set()

    @property
    def held(self) -> int:
        with self._lock:
            return self._held
