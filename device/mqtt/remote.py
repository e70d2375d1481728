"""What remote administration answers (reported state, command results), held until it is sent.

`RemoteOutbox` implements device.ports.RemotePublisher. It outlives any one MQTT connection
(and any one set of broker credentials): the remote admin publishes into it whenever it likes,
and its thread ("mqtt-remote", a device/platform/mailbox.py Mailbox) runs while an MQTT link
does, sending what is pending each time that link is connected. Between links the mailbox
keeps what was posted. The reported state is "latest wins" (only the newest is kept); results
are queued, oldest first, bounded. A message is only forgotten once the broker has PUBACKed it;
anything unconfirmed when the connection drops is sent again on the next one.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from contract.protocol import DeviceTopics, PayloadError, encode
from device.mqtt.transport import Outgoing, Published, PublishRef
from device.platform.mailbox import Mailbox

__all__ = ["RemoteOutbox"]

log = logging.getLogger(__name__)

MAX_RESULTS = 100
RETRY_S = 1.0  # how often pending answers are tried again while the connection is down


@dataclass(frozen=True)
class _Reported:
    payload: bytes


@dataclass(frozen=True)
class _Result:
    payload: bytes


@dataclass(frozen=True)
class _Connected:
    pass


_Event = _Reported | _Result | Published | _Connected

Send = Callable[[Outgoing], PublishRef | None]


class RemoteOutbox:
    def __init__(self, max_results: int = MAX_RESULTS) -> None:
        self.max_results = max_results
        self._mailbox: Mailbox[_Event] = Mailbox(
            "mqtt-remote", self._apply, tick=self._send_pending, max_wait_s=RETRY_S
        )
        # Set by `start` before the thread runs, cleared by `stop` after it ended:
        self._topics: DeviceTopics | None = None
        self._send: Send | None = None
        # Owned by the mailbox's thread:
        self._reported: bytes | None = None
        self._reported_ref: PublishRef | None = None
        self._results: deque[bytes] = deque()
        self._unconfirmed: dict[PublishRef, bytes] = {}
        self._held: list[bytes] = []  # refused by the broker: tried again on the next connect

    # ------------------------------------------------------------------ RemotePublisher

    def publish_reported(self, payload: dict[str, Any]) -> None:
        encoded = self._encode("reported-state", payload)
        if encoded is not None:
            self._mailbox.post(_Reported(encoded))

    def publish_result(self, payload: dict[str, Any]) -> None:
        encoded = self._encode("command-result", payload)
        if encoded is not None:
            self._mailbox.post(_Result(encoded))

    @staticmethod
    def _encode(schema: Any, payload: dict[str, Any]) -> bytes | None:
        try:
            return encode(schema, payload)
        except (PayloadError, TypeError, ValueError) as exc:
            log.error("not publishing an invalid %s: %s", schema, exc)
            return None

    # ------------------------------------------------------------------ the link's side

    def start(self, topics: DeviceTopics, send: Send) -> None:
        """Send what is pending through `send` (an MqttLink's transport) until `stop`."""
        self._topics, self._send = topics, send
        self._mailbox.start()

    def stop(self) -> None:
        """The link is closing: keep everything for the next one."""
        self._mailbox.stop()
        self._topics, self._send = None, None

    def connected(self) -> None:
        self._mailbox.post(_Connected())

    def published(self, ref: PublishRef, problem: str | None) -> None:
        self._mailbox.post(Published(ref, problem))

    # ------------------------------------------------------------------ the mailbox's thread

    def _send_pending(self) -> None:
        topics, send = self._topics, self._send
        if topics is None or send is None:
            return
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
        elif isinstance(event, Published):
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
