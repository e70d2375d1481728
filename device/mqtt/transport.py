"""The paho adapter: one MQTT 5 connection to the tenant's broker, kept up with backoff and jitter.

The connection runs on a thread of its own (named "mqtt"). Each attempt uses a fresh paho client,
so nothing a dead connection had queued is sent twice behind our back: the publisher and the
remote outbox decide what to send again, from their own state. The session is persistent on the
broker (``clean_start=False``) so acks and commands sent while the kiosk was away are delivered
when it is back; the subscriptions are still made again on every connect.

Callbacks run on the network thread and only hand bytes to the `LinkHandler`, whose methods put
them on queues. They never touch kiosk state and never take a lock held around `publish` (paho
holds its own message lock while it calls ``on_publish``). A little over 400 lines on purpose:
one connection's whole life, from connect to farewell, reads best in one class.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from contract.protocol import DeviceTopics, TopicAddress, parse_topic
from device.identity.credentials import MqttCredentials
from device.platform.backoff import Backoff

__all__ = ["BrokerAccount", "LinkHandler", "MqttTransport", "Outgoing", "PublishRef", "Published"]

log = logging.getLogger(__name__)

KEEPALIVE_S = 30
SESSION_EXPIRY_S = 7 * 24 * 3600  # acks and commands wait this long on the broker for us
LOOP_TIMEOUT_S = 0.5  # how often the network thread looks at `close`
STABLE_S = 30.0  # a connection that lasted this long resets the backoff
CONNECT_TIMEOUT_S = 10.0  # TCP and TLS
CONNACK_TIMEOUT_S = 30.0  # a broker that accepts the socket but never answers
# CONNACK reasons that mean "this account will not do" (revoked device, changed password).
REFUSED_REASONS = {0x84, 0x85, 0x86, 0x87, 0x8A, 0x8C}

PublishRef = tuple[int, int]
"""(connection number, paho message id): names one publish for its PUBACK."""


@dataclass(frozen=True)
class Published:
    """The broker's answer to one publish (`problem` None: PUBACKed), for its sender's mailbox."""

    ref: PublishRef
    problem: str | None


@dataclass(frozen=True)
class BrokerAccount:
    """Where and as whom to connect; the client id is the username (the broker's rules say so)."""

    host: str
    port: int
    tls: bool
    username: str
    password: str = field(repr=False)
    ca_file: Path | None = None  # None: the system's CAs
    verify_tls: bool = True

    @classmethod
    def from_credentials(
        cls, mqtt: MqttCredentials, *, ca_file: Path | None = None, verify_tls: bool = True
    ) -> BrokerAccount:
        return cls(
            mqtt.host, mqtt.port, mqtt.tls, mqtt.username, mqtt.password, ca_file, verify_tls
        )


@dataclass(frozen=True)
class Outgoing:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False


class LinkHandler(Protocol):
    """What the transport tells its owner, on the network thread: each must return at once."""

    def connected(self, generation: int) -> None: ...

    def disconnected(self, generation: int) -> None: ...

    def received(self, address: TopicAddress, payload: bytes) -> None: ...

    def published(self, ref: PublishRef, problem: str | None) -> None:
        """A PUBACK (or, for QoS 0, the send); `problem` names an error reason code."""


class MqttTransport:
    def __init__(
        self,
        account: BrokerAccount,
        topics: DeviceTopics,
        handler: LinkHandler,
        *,
        will: Outgoing,
        keepalive_s: int = KEEPALIVE_S,
        backoff: Backoff | None = None,
        refused_backoff: Backoff | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.account = account
        self.topics = topics
        self.handler = handler
        self.will = will
        self.keepalive_s = keepalive_s
        self.backoff = backoff or Backoff(base_s=1.0, cap_s=120.0)
        # A refused account is most likely a revoked device: no point in knocking every second.
        self.refused_backoff = refused_backoff or Backoff(base_s=60.0, cap_s=900.0)
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._client: paho.Client | None = None
        self._generation = 0
        self._connected = False
        self._refused: str | None = None
        self._stop = threading.Event()
        self._farewell: Outgoing | None = None
        self._farewell_timeout_s = 3.0
        self._farewell_mid: int | None = None
        self._thread: threading.Thread | None = None
        self.connections = 0  # successful CONNACKs, for tests and diagnostics

    # ------------------------------------------------------------------ API

    @property
    def connected(self) -> bool:
        with self._lock:
            return self._connected

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="mqtt", daemon=True)
        self._thread.start()

    def publish(self, message: Outgoing) -> PublishRef | None:
        """Hand a message to the connection; None when not connected (send it again later)."""
        with self._lock:
            client, generation, connected = self._client, self._generation, self._connected
        if client is None or not connected:
            return None
        info = client.publish(
            message.topic, message.payload, qos=message.qos, retain=message.retain
        )
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            log.debug("publish to %s not sent: %s", message.topic, paho.error_string(info.rc))
            return None
        return generation, info.mid

    def close(self, farewell: Outgoing | None = None, timeout_s: float = 3.0) -> None:
        """Publish `farewell` if connected (waiting up to `timeout_s` for its PUBACK), then
        disconnect cleanly so the broker does not publish the last will."""
        self._farewell = farewell
        self._farewell_timeout_s = timeout_s
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s + 5 * LOOP_TIMEOUT_S + 2)

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        where = f"{self.account.host}:{self.account.port}"
        while not self._stop.is_set():
            try:
                client = self._new_client()
                client.connect(
                    self.account.host,
                    self.account.port,
                    keepalive=self.keepalive_s,
                    clean_start=False,
                    properties=self._connect_properties(),
                )
            except (OSError, ValueError) as exc:  # refused, unreachable, TLS, bad host name
                delay = self.backoff.next_delay()
                log.info("MQTT broker %s unreachable (%s): retrying in %.1f s", where, exc, delay)
                self._stop.wait(delay)
                continue
            except Exception:
                delay = self.backoff.next_delay()
                log.exception("MQTT connection to %s failed: retrying in %.1f s", where, delay)
                self._stop.wait(delay)
                continue
            with self._lock:
                self._client = client
                self._generation += 1
                self._refused = None
            up_since = self._serve(client)
            self._stop.wait(self._delay_after(up_since, where))
        log.info("MQTT link to %s closed", where)

    def _serve(self, client: paho.Client) -> float | None:
        """Run the connection until it drops or we close; when it was up, since when."""
        up_since: float | None = None
        farewell_sent = False
        deadline = 0.0
        connack_by = self._monotonic() + CONNACK_TIMEOUT_S
        while True:
            rc = client.loop(timeout=LOOP_TIMEOUT_S)
            with self._lock:
                connected = self._connected
            if connected and up_since is None:
                up_since = self._monotonic()
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                break
            if up_since is None and self._monotonic() > connack_by:
                log.warning("MQTT broker sent no CONNACK in %.0f s: dropping", CONNACK_TIMEOUT_S)
                client.disconnect()
                break
            if not self._stop.is_set():
                continue
            if not connected:
                client.disconnect()
                break
            if not farewell_sent:
                farewell_sent = True
                self._send_farewell(client)
                deadline = self._monotonic() + self._farewell_timeout_s
            if self._farewell_mid is None:
                self._disconnect_cleanly(client)
                break
            if self._monotonic() >= deadline:
                log.warning("no PUBACK for the farewell status: disconnecting anyway")
                self._disconnect_cleanly(client)
                break
        self._lost()
        return up_since

    def _send_farewell(self, client: paho.Client) -> None:
        """Publish the farewell; `_farewell_mid` stays set until its PUBACK arrives."""
        self._farewell_mid = None
        if self._farewell is None:
            return
        message = self._farewell
        info = client.publish(
            message.topic, message.payload, qos=message.qos, retain=message.retain
        )
        if info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS and message.qos > 0:
            self._farewell_mid = info.mid

    def _disconnect_cleanly(self, client: paho.Client) -> None:
        client.disconnect()
        for _ in range(4):  # flush the DISCONNECT packet
            if client.loop(timeout=0.1) != MQTTErrorCode.MQTT_ERR_SUCCESS:
                break

    def _lost(self) -> None:
        with self._lock:
            was_connected, generation = self._connected, self._generation
            self._connected = False
            self._client = None
        if was_connected:
            self.handler.disconnected(generation)

    def _delay_after(self, up_since: float | None, where: str) -> float:
        if self._stop.is_set():
            return 0.0
        with self._lock:
            refused = self._refused
        if refused is not None:
            delay = self.refused_backoff.next_delay()
            log.error(
                "MQTT broker %s refused account %r (%s): the device may have been revoked; "
                "retrying in %.0f s",
                where,
                self.account.username,
                refused,
                delay,
            )
            return delay
        self.refused_backoff.reset()
        if up_since is not None and self._monotonic() - up_since >= STABLE_S:
            self.backoff.reset()
        delay = self.backoff.next_delay()
        log.warning("MQTT connection to %s lost: reconnecting in %.1f s", where, delay)
        return delay

    # ------------------------------------------------------------------ paho

    def _new_client(self) -> paho.Client:
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.account.username,
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        client.connect_timeout = CONNECT_TIMEOUT_S
        client.username_pw_set(self.account.username, self.account.password)
        if self.account.tls:
            context = ssl.create_default_context(
                cafile=str(self.account.ca_file) if self.account.ca_file else None
            )
            if not self.account.verify_tls:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            client.tls_set_context(context)
        client.will_set(
            self.will.topic, self.will.payload, qos=self.will.qos, retain=self.will.retain
        )
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        client.suppress_exceptions = True  # a bug in a handler must not kill the connection
        # This transport's own thread runs client.loop(), and paho then lets publish() write to
        # the socket from the caller's thread: two writers at once corrupt a TLS stream. With a
        # write-registration callback, publish() only queues and wakes the loop, which writes.
        client.on_socket_register_write = _loop_thread_writes
        return client

    @staticmethod
    def _connect_properties() -> Properties:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = SESSION_EXPIRY_S
        return properties

    def _on_connect(
        self,
        client: paho.Client,
        _userdata: Any,
        flags: Any,
        reason: ReasonCode,
        _properties: Any,
    ) -> None:
        if reason.is_failure:
            with self._lock:
                if reason.value in REFUSED_REASONS:
                    self._refused = str(reason)
            log.warning("MQTT broker refused the connection: %s", reason)
            return
        client.subscribe(
            [(self.topics.ack, 1), (self.topics.desired, 1), (self.topics.command_request, 1)]
        )
        with self._lock:
            self._connected = True
            generation = self._generation
        self.connections += 1
        log.info(
            "MQTT connected to %s:%d as %s (session %s)",
            self.account.host,
            self.account.port,
            self.account.username,
            "resumed" if getattr(flags, "session_present", False) else "new",
        )
        self.handler.connected(generation)

    def _on_subscribe(
        self,
        _client: paho.Client,
        _userdata: Any,
        _mid: int,
        reasons: list[ReasonCode],
        _properties: Any,
    ) -> None:
        for reason in reasons:
            if reason.is_failure:
                log.error("MQTT subscription refused by the broker: %s", reason)

    def _on_message(self, _client: paho.Client, _userdata: Any, message: paho.MQTTMessage) -> None:
        address = parse_topic(message.topic)
        if (
            address is None
            or address.tenant != self.topics.tenant
            or address.device_id != self.topics.device_id
        ):
            log.warning("MQTT message on unexpected topic %r ignored", message.topic[:200])
            return
        try:
            self.handler.received(address, bytes(message.payload))
        except Exception:
            log.exception("handling a message on %s failed", message.topic)

    def _on_publish(
        self,
        _client: paho.Client,
        _userdata: Any,
        mid: int,
        reason: ReasonCode,
        _properties: Any,
    ) -> None:
        # No lock here: paho holds its message lock while calling us (see module docstring).
        # Both attributes only change on this thread.
        generation = self._generation
        if mid == self._farewell_mid and self._stop.is_set():
            self._farewell_mid = None
            return
        self.handler.published((generation, mid), str(reason) if reason.is_failure else None)


def _loop_thread_writes(_client: paho.Client, _userdata: Any, _sock: Any) -> None:
    """paho's external-loop hook: nothing to do, `client.loop()` selects on the socket for
    writing whenever packets are queued (see MqttTransport._new_client)."""
