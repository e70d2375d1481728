"""Group commit: the ingester's one writer thread, fed by paho's network thread.

paho's thread only puts each message on a bounded queue. The writer takes everything waiting
(up to `max_group` messages), has the handler store it in one transaction, and only after the
commit hands the group and its answers to `deliver` (which publishes the play acks, then the
PUBACKs that let the broker forget the messages). Under load the groups grow by themselves —
whatever arrived during one commit goes into the next — so a commit (an fsync on SQLite) is paid
per group instead of per message, and an idle ingester answers a lone message at once.

When the database is unavailable, the group stays in memory unacknowledged and is tried again
with backoff; messages in memory are never acknowledged to the broker, so if the process dies
(or is stopped) with a group not committed, the broker delivers it again to the next ingester
session.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

from tenant.ingest.handlers import DatabaseUnavailable, IngestHandler, Outgoing

log = logging.getLogger(__name__)

MAX_GROUP = 500  # messages in one transaction
MAX_QUEUED = 10_000  # beyond this paho's thread waits: the broker keeps the rest
RETRY_FIRST_S = 0.5
RETRY_MAX_S = 30.0


@dataclass(frozen=True)
class Received:
    """One message from the broker, with what its PUBACK needs."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    session: int  # the connection it came on: a PUBACK is only valid on that connection


Deliver = Callable[[list[Received], list[Outgoing]], None]


class GroupWriter:
    def __init__(
        self,
        handler: IngestHandler,
        deliver: Deliver,
        *,
        max_group: int = MAX_GROUP,
        max_queued: int = MAX_QUEUED,
        name: str = "ingest-writer",
    ) -> None:
        self.handler = handler
        self.deliver = deliver
        self.max_group = max_group
        self._queue: queue.Queue[Received] = queue.Queue(max_queued)
        self._stopping = threading.Event()
        self._pending = 0  # received and not answered yet
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    @property
    def pending(self) -> int:
        """Messages received and not committed and answered yet (in memory only)."""
        with self._lock:
            return self._pending

    def start(self) -> GroupWriter:
        self._thread.start()
        return self

    def put(self, message: Received) -> bool:
        """Queue a message for the next group (on paho's thread). Waits while the queue is
        full; False once stopping (the message is left unacknowledged with the broker)."""
        with self._lock:
            self._pending += 1
        while not self._stopping.is_set():
            try:
                self._queue.put(message, timeout=0.2)
                return True
            except queue.Full:
                continue
        self._done(1)
        return False

    def stop(self) -> None:
        """Write and answer what is queued, then end; if the database is unavailable, end at
        once and leave the rest unacknowledged."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()

    # ------------------------------------------------------------------ the writer thread

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=0.2)
            except queue.Empty:
                if self._stopping.is_set():
                    return
                continue
            group = [first]
            self._take(group)
            if not self._write(group):
                return

    def _take(self, group: list[Received]) -> None:
        """Add what is waiting, up to the group's size."""
        while len(group) < self.max_group:
            try:
                group.append(self._queue.get_nowait())
            except queue.Empty:
                return

    def _write(self, group: list[Received]) -> bool:
        """Commit and answer the group; False if stopping while the database is unavailable."""
        delay = RETRY_FIRST_S
        while True:
            try:
                answers = self.handler.handle_group([(m.topic, m.payload) for m in group])
            except DatabaseUnavailable as exc:
                log.warning(
                    "database unavailable (%s): %d message(s) kept unacknowledged, "
                    "trying again in %.1f s",
                    exc,
                    len(group),
                    delay,
                )
                if self._stopping.wait(delay):
                    return False
                delay = min(2 * delay, RETRY_MAX_S)
                self._take(group)  # what came meanwhile joins the next attempt
                continue
            except Exception:  # a defect: keep ingesting the others
                log.exception("could not handle a group of %d message(s)", len(group))
                self.handler.counters.failures += 1
                answers = []
            try:
                self.deliver(group, answers)
            except Exception:
                log.exception("could not answer a group of %d message(s)", len(group))
            self._done(len(group))
            return True

    def _done(self, count: int) -> None:
        with self._lock:
            self._pending -= count
