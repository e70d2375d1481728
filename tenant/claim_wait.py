"""Token polls held open until their device is claimed: RFC 8628 long polling.

A pending kiosk's poll of /v1/token waits here (on a worker thread, never the event loop) for
the claim route to call `notify`, so a claim made in this process answers the held poll at
once; the poll also re-reads its device every `claim_poll_recheck_s` (tenant/enrollment.py), so
a claim made in another service process over the same database answers it within that. The
number of polls held at once is capped so waiting polls cannot take every worker thread (and
the re-reads stay cheap); past the cap a poll is answered at once, as without long polling.

How long a client is willing to wait it says with RFC 7240's `Prefer: wait=<seconds>`.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)

_Key = tuple[str, str]  # (tenant slug, device id)


def prefer_wait_s(header: str | None) -> float | None:
    """The `wait` preference of a `Prefer` header (RFC 7240), in seconds; None when absent or
    not a number of seconds (a preference the server cannot read is ignored, by the RFC)."""
    for preference in (header or "").split(","):
        name, _, value = preference.split(";")[0].partition("=")
        if name.strip().lower() == "wait":
            value = value.strip().strip('"')
            return float(value) if value.isdigit() else None
    return None


class ClaimWaits:
    """The polls held now, by device; `enter`, wait on the event, `leave` in a finally."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[_Key, list[threading.Event]] = {}
        self._held = 0
        self._closing = False

    def enter(self, slug: str, device_id: str, limit: int) -> threading.Event | None:
        """A new event to wait on for this device's claim, or None when `limit` polls wait."""
        with self._lock:
            if self._closing:
                return None
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

    def close(self) -> None:
        """The service is stopping: answer every held poll now and hold no more, so stopping
        does not wait for the holds to end (the server waits for requests in progress)."""
        with self._lock:
            self._closing = True
            for events in self._events.values():
                for event in events:
                    event.set()

    @property
    def closing(self) -> bool:
        return self._closing

    @property
    def held(self) -> int:
        with self._lock:
            return self._held
