"""One MQTT link for one broker account: play reports, status, heartbeat, remote administration.

Threads: "mqtt" (the connection, device/mqtt/transport.py), "mqtt-plays" (the play publisher),
"mqtt-remote" (remote-admin answers, device/mqtt/remote.py) and "mqtt-link" (heartbeats); the
last three are device/platform/mailbox.py Mailboxes. Messages received are routed by their
topic: acks to the publisher's mailbox, desired state and commands to the RemoteInbox, which is
called on the network thread with the raw bytes and must return at once.

    link = MqttLink(account, topics, journal, inbox=admin, remote=outbox, heartbeat=source)
    link.start()
    ...
    link.close("shutdown")  # retained status offline, then a clean disconnect
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from contract.protocol import ACK, COMMAND_REQUEST, DESIRED, DeviceTopics, TopicAddress
from device.journal.outbox import PlayJournal
from device.mqtt.health import HeartbeatSource, status_payload
from device.mqtt.publisher import PlayPublisher
from device.mqtt.remote import RemoteOutbox
from device.mqtt.transport import BrokerAccount, MqttTransport, Outgoing, PublishRef
from device.platform.backoff import Backoff
from device.platform.mailbox import Mailbox
from device.ports import RemoteInbox

__all__ = ["FLUSH_S", "HEARTBEAT_S", "MqttLink"]

log = logging.getLogger(__name__)

HEARTBEAT_S = 60.0
FLUSH_S = 3.0  # at a clean stop, how long finished plays may take to be acknowledged


@dataclass(frozen=True)
class _Connected:
    """A (re)connect: a heartbeat goes out at once."""


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
        flush_s: float = FLUSH_S,
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
        self.flush_s = flush_s
        self._monotonic = monotonic
        self.transport = MqttTransport(
            account,
            topics,
            self,
            will=Outgoing(topics.status, self._status(False, "lost"), qos=1, retain=True),
            backoff=backoff,
            refused_backoff=refused_backoff,
        )
        self.publisher = publisher(journal, topics, self.transport.publish)
        self._next_heartbeat = float("inf")  # owned by the "mqtt-link" thread
        self._heartbeats: Mailbox[_Connected] = Mailbox(
            "mqtt-link",
            self._on_connected,
            tick=self._beat_if_due,
            next_deadline=lambda: self._next_heartbeat if self.transport.connected else None,
            max_wait_s=1.0,
            monotonic=monotonic,
        )
        self.heartbeats_sent = 0

    def start(self) -> None:
        self.publisher.start()
        self.remote.start(self.topics, self.transport.publish)
        self._heartbeats.start()
        self.transport.start()

    def close(self, reason: str = "shutdown") -> None:
        """Say goodbye with a retained offline status (`reason`) and stop every thread.

        While connected, the plays finished last (the one the stop ended) are first given up
        to `flush_s` to be acknowledged, so that they do not wait for the next start."""
        self._heartbeats.stop()
        self.remote.stop()
        if self.transport.connected and self.publisher.flush(self.flush_s):
            log.info("every finished play delivered before closing")
        self.publisher.close()
        farewell = Outgoing(self.topics.status, self._status(False, reason), qos=1, retain=True)
        self.transport.close(farewell)

    @property
    def online(self) -> bool:
        return self.transport.connected

    # ------------------------------------------------------------------ LinkHandler

    def connected(self, generation: int) -> None:
        self.transport.publish(Outgoing(self.topics.status, self._status(True), retain=True))
        self.publisher.connected(generation)
        self.remote.connected()
        self._heartbeats.post(_Connected())

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

    @staticmethod
    def _deliver(handler: Callable[[bytes], None], payload: bytes, what: str) -> None:
        try:
            handler(payload)
        except Exception:  # the inbox must not raise; if it does, the link still lives
            log.exception("handling a %s failed", what)

    # ------------------------------------------------------------------ the "mqtt-link" thread

    def _on_connected(self, _message: _Connected) -> None:
        self._next_heartbeat = self._monotonic()

    def _beat_if_due(self) -> None:
        if self._monotonic() >= self._next_heartbeat and self.transport.connected:
            self._send_heartbeat()

    def _send_heartbeat(self) -> None:
        self._next_heartbeat = self._monotonic() + self.heartbeat_s
        payload = self.heartbeat.encoded()
        if self.transport.publish(Outgoing(self.topics.heartbeat, payload, qos=0)) is not None:
            self.heartbeats_sent += 1

    def _status(self, online: bool, reason: str | None = None) -> bytes:
        return status_payload(
            online, firmware_version=self.firmware_version, boot_id=self.boot_id, reason=reason
        )
