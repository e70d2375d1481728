"""What remote administration answers (reported state, command results), held until it is sent.

`RemoteOutbox` implements device.ports.RemotePublisher. It outlives any one MQTT connection
(and any one set of broker credentials): the remote admin publishes into it whenever it likes,
and the link's thread sends what is pending each time it is connected. The reported state is
"latest wins" (only the newest is kept); results are queued, oldest first, bounded. A message is
only forgotten once the broker has PUBACKed it; anything unconfirmed when the connection drops
is sent again on the next one.
"""

from __future__ import annotations

import logging
import queue
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from contract.protocol import DeviceTopics, PayloadError, encode
from device.mqtt.transport import Outgoing, PublishRef

__all__ = ["RemoteOutbox"]

log = logging.getLogger(__name__)

MAX_RESULTS = 100


@dataclass(frozen=True)
class _Reported:
    payload: bytes


@dataclass(frozen=True)
class _Result:
    payload: bytes


@dataclass(frozen=True)
class _Published:
    ref: PublishRef
    problem: str | None


@dataclass(frozen=True)
class _Connected:
    pass


_Event = _Reported | _Result | _Published | _Connected


class RemoteOutbox:
    def __init__(self, max_results: int = MAX_RESULTS) -> None:
        self.max_results = max_results
        self._events: queue.SimpleQueue[_Event] = queue.SimpleQueue()
        self._wake: Callable[[], None] = lambda: None
        # Owned by the link's thread (see `pump`):
        self._reported: bytes | None = None
        self._reported_ref: PublishRef | None = None
        self._results: deque[bytes] = deque()
        self._unconfirmed: dict[PublishRef, bytes] = {}
        self._held: list[bytes] = []  # refused by the broker: tried again on the next connect

    # ------------------------------------------------------------------ RemotePublisher

    def publish_reported(self, payload: dict[str, Any]) -> None:
        encoded = self._encode("reported-state", payload)
        if encoded is not None:
            self._events.put(_Reported(encoded))
            self._wake()

    def publish_result(self, payload: dict[str, Any]) -> None:
        encoded = self._encode("command-result", payload)
        if encoded is not None:
            self._events.put(_Result(encoded))
            self._wake()

    @staticmethod
    def _encode(schema: Any, payload: dict[str, Any]) -> bytes | None:
        try:
            return encode(schema, payload)
        except (PayloadError, TypeError, ValueError) as exc:
            log.error("not publishing an invalid %s: %s", schema, exc)
            return None

    # ------------------------------------------------------------------ the link's side

    def attach(self, wake: Callable[[], None]) -> None:
        """Call `wake` (from any thread) whenever something is waiting to be sent."""
        self._wake = wake

    def connected(self) -> None:
        self._events.put(_Connected())

    def published(self, ref: PublishRef, problem: str | None) -> None:
        self._events.put(_Published(ref, problem))

    @property
    def pending(self) -> int:
        """Messages not yet confirmed by the broker (link thread only)."""
        return (
            (self._reported is not None)
            + len(self._results)
            + len(self._unconfirmed)
            + len(self._held)
        )

    def pump(self, topics: DeviceTopics, send: Callable[[Outgoing], PublishRef | None]) -> None:
        """Apply what happened, then send what is pending; on the link's thread only."""
        while True:
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                break
            self._apply(event)
        if self._reported is not None and self._reported_ref is None:
            message = Outgoing(topics.reported, self._reported, qos=1, retain=True)
            self._reported_ref = send(message)
        while self._results:
            ref = send(Outgoing(topics.command_result, self._results[0], qos=1))
            if ref is None:
                break
            self._unconfirmed[ref] = self._results.popleft()

    def _apply(self, event: _Event) -> None:
        if isinstance(event, _Reported):
            self._reported, self._reported_ref = event.payload, None  # the latest wins
        elif isinstance(event, _Result):
            self._results.append(event.payload)
            while len(self._results) > self.max_results:
                self._results.popleft()
                log.warning(
                    "more than %d command results waiting: oldest dropped", self.max_results
                )
        elif isinstance(event, _Connected):
            # Whatever the last connection did not confirm goes first, in its order.
            back = list(self._unconfirmed.values()) + self._held
            self._results.extendleft(reversed(back))
            self._unconfirmed.clear()
            self._held.clear()
            self._reported_ref = None
        elif isinstance(event, _Published):
            self._on_puback(event.ref, event.problem)

    def _on_puback(self, ref: PublishRef, problem: str | None) -> None:
        if ref == self._reported_ref:
            if problem is None:
                self._reported = None
            else:
                log.error(
                    "broker refused the reported state (%s): sent again on reconnect", problem
                )
            self._reported_ref = None if problem is None else (-1, -1)  # hold until reconnect
        elif ref in self._unconfirmed:
            payload = self._unconfirmed.pop(ref)
            if problem is not None:
                log.error("broker refused a command result (%s): sent again on reconnect", problem)
                self._held.append(payload)
