"""The ingester: an MQTT 5 client that stores what the kiosks publish and acknowledges plays.

    ingester = Ingester(store, load_broker_settings(data_dir), client_id="jk-ingest-1", now_ms=…)
    ingester.start()   # connected and subscribed
    ...
    ingester.stop()    # the broker keeps its session: batches wait there until it is back

Plays come through the shared subscription `$share/jk-ingest/jk/v1/+/+/plays`, so several
ingesters (each with its own client id) share the work; status, heartbeats, reported states and
command results come to every ingester (idempotent upserts). The session is persistent
(clean_start false, a session expiry), so QoS 1 batches published while an ingester is down
wait in the broker for it.

paho's network thread only queues each message for the writer thread (writer.py), which
stores whatever is waiting in one transaction, then publishes the play acks and only then the
PUBACKs (paho's manual_ack): a message the ingester received but did not commit — it crashed,
was stopped, or the database was down — is still the broker's, and delivered again when the
session resumes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from contract.protocol import (
    COMMAND_RESULT,
    HEARTBEAT,
    INGEST_GROUP,
    PLAYS,
    REPORTED,
    STATUS,
    shared,
    wildcard,
)
from tenant.broker.client import mqtt_client
from tenant.broker.settings import BrokerSettings
from tenant.ingest.handlers import IngestCounters, IngestHandler, Outgoing
from tenant.ingest.writer import GroupWriter, Received
from tenant.store import TenantStore

log = logging.getLogger(__name__)

SESSION_EXPIRY_S = 7 * 24 * 3600  # how long the broker keeps batches for a stopped ingester
KEEPALIVE_S = 30
# QoS 1 messages the broker may have in flight to us, unacknowledged: the largest group the
# writer can take at once (MQTT 5 Receive Maximum; mosquitto's default would be 20).
RECEIVE_MAXIMUM = 2000
MAX_INFLIGHT_OUT = 1000  # play acks published and not yet PUBACKed by the broker

SUBSCRIPTIONS = (
    (shared(INGEST_GROUP, wildcard(PLAYS)), 1),
    (wildcard(STATUS), 1),
    (wildcard(REPORTED), 1),
    (wildcard(COMMAND_RESULT), 1),
    (wildcard(HEARTBEAT), 0),
)


class IngestError(RuntimeError):
    """The ingester could not connect or subscribe; says why."""


class Ingester:
    def __init__(
        self,
        store: TenantStore,
        broker: BrokerSettings,
        *,
        client_id: str,
        now_ms: Callable[[], int],
        session_expiry_s: int = SESSION_EXPIRY_S,
    ) -> None:
        self.broker = broker
        self.client_id = client_id
        self.session_expiry_s = session_expiry_s
        self.handler = IngestHandler(store, now_ms)
        self._subscribed = threading.Event()
        self._refused: str | None = None
        self._session = 0  # connections made: a PUBACK is valid only on its message's
        self._writer: GroupWriter | None = None
        self._client = self._make_client()

    @property
    def counters(self) -> IngestCounters:
        return self.handler.counters

    @property
    def subscribed(self) -> bool:
        return self._subscribed.is_set()

    @property
    def pending(self) -> int:
        """Messages received and not yet committed and acknowledged (only in memory)."""
        return 0 if self._writer is None else self._writer.pending

    def start(self, timeout: float | None = 10.0) -> Ingester:
        """Connect (retrying with backoff in the background) and, unless `timeout` is None,
        wait until every subscription is granted."""
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = self.session_expiry_s
        properties.ReceiveMaximum = RECEIVE_MAXIMUM
        self._writer = GroupWriter(self.handler, self._deliver, name=f"{self.client_id}-writer")
        self._writer.start()
        self._client.connect_async(
            self.broker.host,
            self.broker.port,
            keepalive=KEEPALIVE_S,
            clean_start=False,
            properties=properties,
        )
        self._client.loop_start()
        if timeout is not None and not self._subscribed.wait(timeout):
            self.stop()
            why = self._refused or "no answer"
            raise IngestError(
                f"ingester {self.client_id}: not subscribed at "
                f"{self.broker.host}:{self.broker.port} after {timeout:g} s ({why})"
            )
        return self

    def stop(self) -> None:
        """Store and acknowledge what was received, then disconnect; the broker keeps the
        session (and queues batches) for the next start. What could not be stored (the
        database is unavailable) is left unacknowledged: the broker delivers it again."""
        writer, self._writer = self._writer, None  # messages arriving now are not ours
        if writer is not None:
            writer.stop()
        self._client.disconnect()
        self._client.loop_stop()
        self._subscribed.clear()
        self._client = self._make_client()

    def __enter__(self) -> Ingester:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ paho callbacks

    def _make_client(self) -> mqtt.Client:
        client = mqtt_client(self.broker, self.broker.ingester, self.client_id)
        client.manual_ack_set(True)  # PUBACK after the commit (_deliver), not on receipt
        client.max_inflight_messages_set(MAX_INFLIGHT_OUT)
        client.reconnect_delay_set(min_delay=1, max_delay=5)  # back soon after a broker restart
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_disconnect = self._on_disconnect
        return client

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: Any,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            self._refused = f"connection refused: {reason}"
            log.error("ingester %s: %s", self.client_id, self._refused)
            return
        self._session += 1
        log.info(
            "ingester %s connected to %s:%d (session %s)",
            self.client_id,
            self.broker.host,
            self.broker.port,
            "resumed" if flags.session_present else "new",
        )
        client.subscribe([(topic, SubscribeOptions(qos=qos)) for topic, qos in SUBSCRIPTIONS])

    def _on_subscribe(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _mid: int,
        reasons: list[ReasonCode],
        _properties: Properties | None,
    ) -> None:
        refused = [
            f"{topic}: {reason}"
            for (topic, _qos), reason in zip(SUBSCRIPTIONS, reasons, strict=False)
            if reason.is_failure
        ]
        if refused:
            self._refused = "subscription refused: " + "; ".join(refused)
            log.error("ingester %s: %s", self.client_id, self._refused)
            return
        self._subscribed.set()

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        payload = bytes(message.payload)
        log.debug("received %s (%d bytes, mid %d)", message.topic, len(payload), message.mid)
        writer = self._writer
        received = Received(message.topic, payload, message.mid, message.qos, self._session)
        if writer is None or not writer.put(received):
            log.debug("stopping: %s left to the broker", message.topic)

    def _deliver(self, group: list[Received], answers: list[Outgoing]) -> None:
        """On the writer thread, once the group is committed: the play acks, then the
        PUBACKs of the messages that came on the current connection (the broker delivers
        those of an older one again, and they are stored again idempotently)."""
        client = self._client
        for answer in answers:
            client.publish(answer.topic, answer.payload, qos=1)
        for message in group:
            if message.qos > 0 and message.session == self._session:
                client.ack(message.mid, message.qos)

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        self._subscribed.clear()
        if reason.is_failure:
            log.warning("ingester %s disconnected (%s); reconnecting", self.client_id, reason)
