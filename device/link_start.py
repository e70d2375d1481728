"""The tenant link, built and started after READY on a thread of its own.

A tenant kiosk's link (requests, urllib3, paho, the sync, the update client and remote
administration) costs about 180 ms of imports on the development machine and seconds in an
emulated boot, and none of it is needed to play what was synced last time. So the daemon
hands the core what must hold before its first event (the desired state saved last time and
the library synced last time, both read from files), tells systemd it is ready, and only
then builds the link here while the core already answers buttons.

This module imports nothing of the link: `build` does, on the starter's thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

__all__ = ["LinkStarter", "StartedLink"]


class StartedLink:
    """What `build` made: a way to tell the sync that a content pack replaced the library,
    and what to close, in the order given (each is called once, errors logged)."""

    def __init__(
        self, content_replaced: Callable[[], None], closers: list[Callable[[], None]]
    ) -> None:
        self.content_replaced = content_replaced
        self.closers = closers


class LinkStarter:
    """Runs `build` once on a thread; `close` waits for it and closes what it made.

    Also the link's `Health`: a link that could not be built is a problem on the
    technician screen, while the kiosk keeps playing its cache.
    """

    def __init__(self, build: Callable[[], StartedLink]) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._started: StartedLink | None = None
        self._closed = False
        self._replaced_early = False
        self._thread: threading.Thread | None = None
        self.problem: str | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="link-start", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with self._lock:
            if self._closed:
                return
        try:
            started = self._build()
        except Exception as exc:
            log.exception("the tenant link could not start; playing the cache without it")
            self.problem = f"tenant link: {exc}"
            return
        with self._lock:
            self._started = started
            replaced = self._replaced_early
        if replaced:  # a content pack was imported while the link was being built
            started.content_replaced()
        log.debug("tenant link started")

    def content_replaced(self) -> None:
        """A technician's content pack became the library (device/stick)."""
        with self._lock:
            started = self._started
            if started is None:
                self._replaced_early = True
        if started is not None:
            started.content_replaced()

    def close(self) -> None:
        """Wait for a build under way (it reads files only, never the network), then close."""
        with self._lock:
            self._closed = True
        if self._thread is not None:
            self._thread.join()
        started = self._started
        if started is None:
            return
        for closer in started.closers:
            try:
                closer()
            except Exception:
                log.exception("closing the tenant link failed")
