"""The device's side of the MQTT protocol, as a small paho client for the tenant's tests.

It publishes what a kiosk publishes (play batches, status, heartbeat, reported state, command
results) and collects what the tenant sends it (acks, desired states, commands). The real
kiosk (device/mqtt/) is tested against the real tenant in the integration tests; these tests
check the tenant's half of the contract.
"""

from __future__ import annotations

import queue
import threading
import uuid
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from contract.protocol import DeviceTopics, decode, encode
from tenant.broker.process import MosquittoProcess

Json = dict[str, Any]
WAIT_S = 10.0


def play(
    tenant: str,
    device_id: str,
    seq: int,
    *,
    track_id: str = "trk-0",
    listened_ms: int = 45_000,
    site: str = "centre",
    started_wall_ms: int = 1_780_000_000_000,
    clock_synced: bool = True,
    **overrides: Any,
) -> Json:
    """One finished play report, valid against the play-batch schema."""
    report: Json = {
        "event_id": str(uuid.uuid4()),
        "seq": seq,
        "tenant": tenant,
        "site": site,
        "device_id": device_id,
        "firmware_version": "0.4.0",
        "boot_id": "boot-1",
        "playlist_id": "p1",
        "playlist_revision": "rev1",
        "track_id": track_id,
        "isrc": None,
        "track_duration_ms": 180_000,
        "started_by": "visitor",
        "started_wall_ms": started_wall_ms,
        "clock_synced": clock_synced,
        "started_uptime_ms": 1000 * seq,
        "listened_ms": listened_ms,
        "end_reason": "finished",
        "ended_wall_ms": started_wall_ms + listened_ms,
        "error": None,
    }
    report.update(overrides)
    return report


class DeviceSide:
    """One kiosk's MQTT connection (anonymous broker), collecting what the tenant sends."""

    def __init__(
        self,
        broker: MosquittoProcess,
        tenant: str,
        device_id: str,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.topics = DeviceTopics(tenant, device_id)
        self.acks: queue.Queue[Json] = queue.Queue()
        self.desired: queue.Queue[Json] = queue.Queue()
        self.commands: queue.Queue[Json] = queue.Queue()
        self.on_ack: Callable[[Json], None] | None = None  # called on paho's thread, first
        # How the kiosk answers a desired state: (status, extra fields of reported-state).
        self.answer_desired: Callable[[Json], tuple[str, Json]] | None = None
        # How it answers a command: the fields of command-result besides v and request_id.
        self.answer_command: Callable[[Json], Json] | None = None
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=device_id,
            protocol=mqtt.MQTTv5,
        )
        if credentials is not None:
            self.client.username_pw_set(*credentials)
        self.client.reconnect_delay_set(3600, 3600)  # no retry behind the test's back
        self.client.on_message = self._on_message
        connack: queue.Queue[ReasonCode] = queue.Queue()
        self.client.on_connect = lambda _c, _u, _f, reason, _p: connack.put(reason)
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *_args: subscribed.set()
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        reason = connack.get(timeout=WAIT_S)
        if reason.is_failure:
            self.close()
            raise ConnectionRefusedError(f"{device_id}: {reason}")
        self.client.subscribe(
            [
                (self.topics.ack, SubscribeOptions(qos=1)),
                (self.topics.desired, SubscribeOptions(qos=1)),
                (self.topics.command_request, SubscribeOptions(qos=1)),
            ]
        )
        assert subscribed.wait(WAIT_S), "the broker did not grant the subscriptions"

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        payload = bytes(message.payload)
        if message.topic == self.topics.ack:
            ack = decode("play-ack", payload)
            if self.on_ack is not None:
                self.on_ack(ack)
            self.acks.put(ack)
        elif message.topic == self.topics.desired and payload:
            desired = decode("desired-state", payload)
            self.desired.put(desired)
            if self.answer_desired is not None:
                status, extra = self.answer_desired(desired)
                body = {"v": 1, "version": desired["version"], "status": status, **extra}
                self.client.publish(
                    self.topics.reported, encode("reported-state", body), qos=1, retain=True
                )
        elif message.topic == self.topics.command_request:
            request = decode("command-request", payload)
            self.commands.put(request)
            if self.answer_command is not None:
                body = {"v": 1, "request_id": request["request_id"], **self.answer_command(request)}
                self.client.publish(
                    self.topics.command_result, encode("command-result", body), qos=1
                )

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=qos, retain=retain).wait_for_publish(WAIT_S)

    def send_plays(self, plays: list[Json], batch_id: str | None = None) -> str:
        batch_id = batch_id or uuid.uuid4().hex
        body = {"v": 1, "batch_id": batch_id, "plays": plays}
        self.publish(self.topics.plays, encode("play-batch", body, check=False))
        return batch_id

    def status(self, online: bool, **extra: Any) -> None:
        body = {"v": 1, "online": online, **extra}
        self.publish(self.topics.status, encode("status", body), retain=True)

    def heartbeat(self, **extra: Any) -> None:
        body = {"v": 1, "uptime_s": 60, "firmware_version": "0.4.0", **extra}
        self.publish(self.topics.heartbeat, encode("heartbeat", body), qos=0)

    def reported(self, version: int, status: str, **extra: Any) -> None:
        body = {"v": 1, "version": version, "status": status, **extra}
        self.publish(self.topics.reported, encode("reported-state", body), retain=True)

    def result(self, request_id: str | None, ok: bool, **extra: Any) -> None:
        body = {"v": 1, "request_id": request_id, "ok": ok, **extra}
        self.publish(self.topics.command_result, encode("command-result", body))

    def next_ack(self, timeout: float = WAIT_S) -> Json:
        return self.acks.get(timeout=timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
