"""Real mosquitto brokers for tests, and a blocking MQTT 5 client that reports reason codes.

    with anonymous_broker(tmp_path / "mq") as broker:          # anyone may do anything
        ...
    with secured_broker(tmp_path / "mq", tls=True) as broker:  # dynamic security (+ TLS)
        broker.settings        # BrokerSettings: host, port, CA, service and ingester accounts
        broker.process.stop(); broker.process.start()
        probe = broker.probe("jk-…", "password")             # connected MqttProbe
        probe.subscribe("jk/v1/lib-a/jk-…/state/desired")      # -> SUBACK reason code

Pytest fixtures `mqtt_broker` (anonymous), `dynsec_broker` and `tls_broker` (secured, with TLS
and a CA made by the test) are registered in tests/conftest.py. The secured broker is set up
as `jukebox tenant broker-setup` does it (tenant/broker/setup.py): service and ingester
accounts, default deny.
"""

from __future__ import annotations

import queue
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paho.mqtt.client import Client, ConnectFlags, DisconnectFlags, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from tenant.broker.process import BrokerTls, MosquittoProcess
from tenant.broker.settings import BrokerSettings
from tenant.broker.setup import new_accounts, write_dynsec_file
from tenant.broker.tls import make_broker_tls

__all__ = ["MqttProbe", "SecuredBroker", "anonymous_broker", "secured_broker"]

TIMEOUT_S = 5.0


@dataclass
class SecuredBroker:
    process: MosquittoProcess
    settings: BrokerSettings
    tls: BrokerTls | None

    def probe(
        self, username: str, password: str, client_id: str | None = None, **kwargs: Any
    ) -> MqttProbe:
        """A connected client (client id = username unless given); raises if refused."""
        probe = MqttProbe(
            self.settings.host,
            self.settings.port,
            username=username,
            password=password,
            client_id=client_id or username,
            ca_file=self.tls.ca_file if self.tls else None,
            **kwargs,
        )
        reason = probe.connect()
        if reason.is_failure:
            raise ConnectionRefusedError(f"{username}: {reason}")
        return probe


@contextmanager
def anonymous_broker(folder: Path) -> Iterator[MosquittoProcess]:
    with MosquittoProcess(folder) as broker:
        yield broker


@contextmanager
def secured_broker(
    folder: Path, *, tls: bool = False, hostnames: tuple[str, ...] = ("localhost", "127.0.0.1")
) -> Iterator[SecuredBroker]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    service, ingester = new_accounts()
    broker_tls = make_broker_tls(folder / "tls", hostnames) if tls else None
    process = MosquittoProcess(
        folder, dynsec_admin=(service.username, service.password), tls=broker_tls
    )
    write_dynsec_file(process.dynsec_file, service, ingester)
    settings = BrokerSettings(
        host=hostnames[0] if tls else process.host,
        port=process.port,
        service=service,
        ingester=ingester,
        tls=tls,
        ca_file=broker_tls.ca_file if broker_tls else None,
    )
    with process:
        yield SecuredBroker(process, settings, broker_tls)


class MqttProbe:
    """A paho client driven step by step: every call waits for the broker's answer and
    returns its reason code, so tests assert on exactly what the broker said."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        client_id: str = "",
        ca_file: Path | None = None,
        tls: bool = False,
        will: tuple[str, bytes] | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.client = Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
        )
        if username is not None:
            self.client.username_pw_set(username, password)
        if ca_file is not None or tls:
            context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
            self.client.tls_set_context(context)
        if will is not None:
            self.client.will_set(will[0], will[1], qos=1, retain=True)
        self.client.reconnect_delay_set(3600, 3600)  # a probe never reconnects by itself
        self.messages: queue.Queue[MQTTMessage] = queue.Queue()
        self.disconnects: queue.Queue[ReasonCode] = queue.Queue()
        self._connack: queue.Queue[ReasonCode] = queue.Queue()
        self._acks: dict[int, queue.Queue[Any]] = {}
        self._lock = threading.Lock()
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_publish = self._on_publish
        self.client.on_message = lambda _c, _u, message: self.messages.put(message)

    def connect(self) -> ReasonCode:
        """CONNACK's reason code (TLS failures raise ssl.SSLError here)."""
        self.client.connect(self.host, self.port, keepalive=30)
        self.client.loop_start()
        return self._connack.get(timeout=TIMEOUT_S)

    def subscribe(self, topic_filter: str, qos: int = 1) -> ReasonCode:
        result, mid = self.client.subscribe(topic_filter, qos)  # never under our lock
        assert result == MQTTErrorCode.MQTT_ERR_SUCCESS and mid is not None, result
        waiter = self._waiter(mid)
        codes: list[ReasonCode] = waiter.get(timeout=TIMEOUT_S)
        return codes[0]

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> ReasonCode:
        """PUBACK's reason code (QoS 1); QoS 0 has no answer: Success once sent."""
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        waiter = self._waiter(info.mid)
        assert info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS, info.rc
        code: ReasonCode = waiter.get(timeout=TIMEOUT_S)
        return code

    def receive(self, timeout_s: float = TIMEOUT_S) -> MQTTMessage:
        return self.messages.get(timeout=timeout_s)

    def nothing_received(self, wait_s: float = 0.5) -> bool:
        try:
            self.messages.get(timeout=wait_s)
        except queue.Empty:
            return True
        return False

    def wait_disconnected(self, timeout_s: float = TIMEOUT_S) -> ReasonCode:
        return self.disconnects.get(timeout=timeout_s)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> MqttProbe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _waiter(self, mid: int) -> queue.Queue[Any]:
        """The answer's queue, made by whoever comes first: the caller, or paho's callback
        (which runs holding paho's own lock: calling paho under ours could deadlock)."""
        with self._lock:
            return self._acks.setdefault(mid, queue.Queue())

    def _on_connect(
        self, _c: Client, _u: Any, _f: ConnectFlags, reason: ReasonCode, _p: Properties | None
    ) -> None:
        self._connack.put(reason)

    def _on_disconnect(
        self, _c: Client, _u: Any, _f: DisconnectFlags, reason: ReasonCode, _p: Properties | None
    ) -> None:
        self.disconnects.put(reason)

    def _on_subscribe(
        self, _c: Client, _u: Any, mid: int, codes: list[ReasonCode], _p: Properties | None
    ) -> None:
        self._waiter(mid).put(codes)

    def _on_publish(
        self, _c: Client, _u: Any, mid: int, code: ReasonCode, _p: Properties | None
    ) -> None:
        self._waiter(mid).put(code)
