"""A thread that owns some state and takes messages: the one way this firmware writes that loop.

Other threads never touch the owner's state; they `post` a message (or `wake` the owner) and
return at once. The mailbox's thread takes one message at a time, hands it to `handle`, then
calls `tick` for whatever time made due, and waits for the next message no longer than the
owner's next deadline (and never longer than `max_wait_s`, so a keep-alive can ride on it).
An exception in `handle` or `tick` is logged and the loop goes on with the next message: a bug
must not silence a thread that others post to.

    box: Mailbox[Ack | Connected] = Mailbox(
        "mqtt-plays", publisher.handle, tick=publisher.pump, next_deadline=publisher.due
    )
    box.start()          # its own thread, or box.run() on the calling thread
    box.post(Connected(1))
    box.stop()           # from any thread, the owner's own included

The kiosk core (`Kiosk.run` in device/core/kiosk.py) runs on one of these on the main thread,
over the event queue its adapters were handed (`inbox`), with `drain=False`: a tick after every
message, so a button's deadline is looked at as soon as its edge is handled. `drain=True`
handles every waiting message before one tick, for owners whose tick is costly (the play
publisher reads SQLite in it). `Shutdown` calls `stop()` from the owner's own thread, which
ends the loop after this round's tick.

A stopped mailbox keeps the messages it has not handled; `start` (or `run`) again goes on with
them. The remote outbox (device/mqtt/remote.py) relies on that: its thread runs only while an
MQTT link does, and what remote administration posts in between waits for the next link.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

__all__ = ["Mailbox"]

log = logging.getLogger(__name__)

M = TypeVar("M")


class _Signal:
    """Wakes the loop without a message (`wake`, `stop`)."""


_WAKE = _Signal()


class Mailbox(Generic[M]):
    def __init__(
        self,
        name: str,
        handle: Callable[[M], None],
        *,
        tick: Callable[[], None] | None = None,
        next_deadline: Callable[[], float | None] | None = None,
        max_wait_s: float = 1.0,
        min_wait_s: float = 0.0,
        drain: bool = True,
        monotonic: Callable[[], float] = time.monotonic,
        inbox: queue.Queue[Any] | None = None,
    ) -> None:
        """`next_deadline` is on the `monotonic` clock (None: nothing due); `min_wait_s` keeps
        an owner whose deadline stays in the past from spinning. `inbox` is a queue that
        adapters were already handed to put messages in (the core's event queue); by default
        the mailbox has its own."""
        if not 0 <= min_wait_s <= max_wait_s:
            raise ValueError("mailbox needs 0 <= min_wait_s <= max_wait_s")
        self.name = name
        self._handle = handle
        self._tick = tick
        self._next_deadline = next_deadline
        self.max_wait_s = max_wait_s
        self.min_wait_s = min_wait_s
        self.drain = drain
        self._monotonic = monotonic
        self._queue: queue.Queue[Any] | queue.SimpleQueue[M | _Signal] = (
            inbox if inbox is not None else queue.SimpleQueue()
        )
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._running_on: int | None = None  # the ident of the thread in `run`

    # ------------------------------------------------------------------ any thread

    def post(self, message: M) -> None:
        """Queue `message` for the owner; never blocks."""
        self._queue.put(message)

    def wake(self) -> None:
        """Run the owner's tick now rather than at its next deadline."""
        self._queue.put(_WAKE)

    @property
    def running(self) -> bool:
        return self._running_on is not None

    def start(self) -> None:
        """Run the loop on a new (daemon) thread named after the mailbox."""
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError(f"mailbox {self.name} is already running")
        self._stopping.clear()
        self._thread = threading.Thread(target=self._serve, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """End the loop after the message in hand; wait for its thread unless called on it."""
        self._stopping.set()
        self._queue.put(_WAKE)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=timeout_s)
            if thread.is_alive():
                log.warning("mailbox %s did not stop within %.1f s", self.name, timeout_s)

    # ------------------------------------------------------------------ the owner's thread

    def run(self) -> None:
        """Serve messages on the calling thread until `stop`."""
        self._stopping.clear()
        self._serve()

    def _serve(self) -> None:
        self._running_on = threading.get_ident()
        try:
            while not self._stopping.is_set():
                self._round()
        finally:
            self._running_on = None

    def _round(self) -> None:
        try:
            item = self._queue.get(timeout=self._wait_s())
        except queue.Empty:
            item = _WAKE
        self._deliver(item)
        while self.drain and not self._stopping.is_set():
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            self._deliver(item)
        if self._tick is not None:
            try:
                self._tick()
            except Exception:
                log.exception("%s: tick failed", self.name)

    def _deliver(self, item: M | _Signal) -> None:
        if isinstance(item, _Signal):
            return
        try:
            self._handle(item)
        except Exception:
            log.exception("%s: handling %r failed", self.name, item)

    def _wait_s(self) -> float:
        deadline = None
        if self._next_deadline is not None:
            try:
                deadline = self._next_deadline()
            except Exception:
                log.exception("%s: next deadline failed", self.name)
        if deadline is None:
            return self.max_wait_s
        return min(self.max_wait_s, max(self.min_wait_s, deadline - self._monotonic()))
