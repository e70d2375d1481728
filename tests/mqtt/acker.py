"""A small ingester stand-in for the device tests: receives play batches and acknowledges them
as the protocol says (docs/protocol.md), with knobs to misbehave.

The real ingester (tenant/ingest) is tested on its own and end to end; here the device's side
is under test, so the acker records everything it receives, in order.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from paho.mqtt.client import Client, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from contract.protocol import (
    INGEST_GROUP,
    PLAYS,
    DeviceTopics,
    decode,
    encode,
    parse_topic,
    shared,
    wildcard,
)


class Acker:
    """Subscribes to every device's plays through the ingesters' shared group, with a
    persistent session so batches sent while it is away wait for it on the broker."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        ca_file: str | None = None,
        client_id: str = "test-acker",
        ack: bool = True,
        ignore_first: int = 0,
        delay_s: float = 0.0,
        group: bool = True,
    ) -> None:
        self.ack = ack
        self.ignore_first = ignore_first  # batches received and not acknowledged
        self.delay_s = delay_s
        # mosquitto 2.0.11 does not restore shared subscriptions from its persistence file:
        # a test that restarts the broker and needs batches queued for the acker meanwhile
        # uses a plain subscription (the acker is the only ingester there).
        self.filter = shared(INGEST_GROUP, wildcard(PLAYS)) if group else wildcard(PLAYS)
        self.batches: list[dict[str, Any]] = []
        self.stored: dict[str, int] = {}  # event id -> seq, like the ingester's table
        self.receipts: list[int] = []  # seqs in the order they arrived (resends included)
        self.problems: list[str] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self.client = Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
        )
        if username is not None:
            self.client.username_pw_set(username, password)
        if ca_file is not None:
            self.client.tls_set(ca_certs=ca_file)
        self.client.reconnect_delay_set(0.05, 0.5)  # type: ignore[arg-type]  # floats work
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self._properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        self._properties.SessionExpiryInterval = 3600
        self.host, self.port = host, port
        self._subscribed = threading.Event()

    def start(self) -> Acker:
        self.client.connect(
            self.host, self.port, keepalive=10, clean_start=False, properties=self._properties
        )
        self.client.loop_start()
        assert self._subscribed.wait(5), "acker did not connect"
        return self

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def wait_stored(self, count: int, timeout_s: float = 30.0) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: len(self.stored) >= count, timeout_s)

    def _on_connect(self, client: Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if not reason.is_failure:
            client.subscribe(self.filter, qos=1)
            self._subscribed.set()

    def _on_message(self, client: Client, _u: Any, message: MQTTMessage) -> None:
        address = parse_topic(message.topic)
        try:
            batch = decode("play-batch", bytes(message.payload))
        except ValueError as exc:
            self.problems.append(str(exc))
            return
        assert address is not None
        if self.delay_s:
            time.sleep(self.delay_s)
        with self._changed:
            self.batches.append(batch)
            self.receipts += [play["seq"] for play in batch["plays"]]
            if self.ignore_first > 0:
                self.ignore_first -= 1
                return
            if not self.ack:
                return
            for play in batch["plays"]:
                self.stored.setdefault(play["event_id"], play["seq"])  # idempotent
            self._changed.notify_all()
        ack = {
            "v": 1,
            "batch_id": batch["batch_id"],
            "event_ids": [play["event_id"] for play in batch["plays"]],
        }
        topic = DeviceTopics(address.tenant, address.device_id).ack
        client.publish(topic, encode("play-ack", ack), qos=1)
