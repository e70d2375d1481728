"""One MQTT link for one broker account: play reports, status, heartbeat, remote administration.

Threads: "mqtt" (the connection, device/mqtt/transport.py), "mqtt-plays" (the play publisher)
and "mqtt-link" (heartbeats and remote-admin answers). Messages received are routed by their
topic: acks to the publisher's queue, desired state and commands to the RemoteInbox, which is
called on the network thread with the raw bytes and must return at once.

    link = MqttLink(account, topics, journal, inbox=admin, remote=outbox, heartbeat=source)
    link.start()
    ...
    link.close("shutdown")  # retained status offline, then a clean disconnect
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from contract.protocol import ACK, COMMAND_REQUEST, DESIRED, DeviceTopics, TopicAddress
from device.journal.outbox import PlayJournal
from device.mqtt.health import HeartbeatSource, status_payload
from device.mqtt.publisher import PlayPublisher
from device.mqtt.remote import RemoteOutbox
from device.mqtt.transport import BrokerAccount, MqttTransport, Outgoing, PublishRef
from device.ports import RemoteInbox
from device.tenant_api.backoff import Backoff

__all__ = ["HEARTBEAT_S", "MqttLink"]

log = logging.getLogger(__name__)

HEARTBEAT_S = 60.0


class MqttLink:
    def __init__(
        self,
        account: BrokerAccount,
        topics: DeviceTopics,
        journal: PlayJournal,
        *,
        inbox: RemoteInbox,
        remote: RemoteOutbox,
        heartbeat: HeartbeatSource,
        heartbeat_s: float = HEARTBEAT_S,
        boot_id: str = "",
        publisher: Callable[..., PlayPublisher] = PlayPublisher,
        backoff: Backoff | None = None,
        refused_backoff: Backoff | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.topics = topics
        self.inbox = inbox
        self.remote = remote
        self.heartbeat = heartbeat
        self.heartbeat_s = heartbeat_s
        self.firmware_version = heartbeat.firmware_version
        self.boot_id = boot_id
        self._monotonic = monotonic
        if heartbeat.outbox() is None:  # count the outbox unless the caller already does
            heartbeat.outbox = lambda: journal.stats().finished
        self.transport = MqttTransport(
            account,
            topics,
            self,
            will=Outgoing(topics.status, self._status(False, "lost"), qos=1, retain=True),
            backoff=backoff,
            refused_backoff=refused_backoff,
        )
        self.publisher = publisher(journal, topics, self.transport.publish)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._next_heartbeat = float("inf")
        self.heartbeats_sent = 0

    def start(self) -> None:
        self.remote.attach(self._wake.set)
        self._threads.append(self.publisher.start(self._stop))
        worker = threading.Thread(target=self._run, name="mqtt-link", daemon=True)
        worker.start()
        self._threads.append(worker)
        self.transport.start()

    def close(self, reason: str = "shutdown") -> None:
        """Say goodbye with a retained offline status (`reason`) and stop every thread."""
        self._stop.set()
        self._wake.set()
        self.publisher.wake()
        for thread in self._threads:
            thread.join(timeout=5)
        farewell = Outgoing(self.topics.status, self._status(False, reason), qos=1, retain=True)
        self.transport.close(farewell)
        self.remote.attach(lambda: None)

    @property
    def online(self) -> bool:
        return self.transport.connected

    def wake(self) -> None:
        """A play just ended: publish it now rather than at the next poll of the journal."""
        self.publisher.wake()

    # ------------------------------------------------------------------ LinkHandler

    def connected(self, generation: int) -> None:
        self.transport.publish(Outgoing(self.topics.status, self._status(True), retain=True))
        self.publisher.connected(generation)
        self.remote.connected()
        self._next_heartbeat = 0.0
        self._wake.set()

    def disconnected(self, generation: int) -> None:
        self.publisher.disconnected(generation)

    def received(self, address: TopicAddress, payload: bytes) -> None:
        if address.leaf == ACK:
            self.publisher.acknowledged(payload)
        elif address.leaf == DESIRED:
            self._deliver(self.inbox.on_desired, payload, "desired state")
        elif address.leaf == COMMAND_REQUEST:
            self._deliver(self.inbox.on_command, payload, "command")
        else:
            log.warning("MQTT message on %s ignored: not for the device", address.leaf)

    def published(self, ref: PublishRef, problem: str | None) -> None:
        self.publisher.published(ref, problem)
        self.remote.published(ref, problem)
        if problem is not None:
            self._wake.set()

    @staticmethod
    def _deliver(handler: Callable[[bytes], None], payload: bytes, what: str) -> None:
        try:
            handler(payload)
        except Exception:  # the inbox must not raise; if it does, the link still lives
            log.exception("handling a %s failed", what)

    # ------------------------------------------------------------------ the link's thread

    def _run(self) -> None:
        while not self._stop.is_set():
            timeout = max(0.0, min(self._next_heartbeat - self._monotonic(), 1.0))
            self._wake.wait(timeout)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.remote.pump(self.topics, self.transport.publish)
                if self._monotonic() >= self._next_heartbeat and self.transport.connected:
                    self._send_heartbeat()
            except Exception:
                log.exception("MQTT link housekeeping failed")
                self._stop.wait(1.0)

    def _send_heartbeat(self) -> None:
        self._next_heartbeat = self._monotonic() + self.heartbeat_s
        payload = self.heartbeat.encoded()
        if self.transport.publish(Outgoing(self.topics.heartbeat, payload, qos=0)) is not None:
            self.heartbeats_sent += 1

    def _status(self, online: bool, reason: str | None = None) -> bytes:
        return status_payload(
            online, firmware_version=self.firmware_version, boot_id=self.boot_id, reason=reason
        )
