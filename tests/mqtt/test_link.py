"""The link's connection: routing, re-subscription, remote-admin answers, refused publishes,
TLS and a revoked account, against real mosquitto brokers."""

from __future__ import annotations

import json
import logging
import queue
import time
from pathlib import Path

import pytest
from paho.mqtt.client import Client
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from device.journal.outbox import PlayJournal
from device.mqtt.remote import RemoteOutbox
from device.mqtt.transport import BrokerAccount
from tenant.broker.control import BrokerControl
from tenant.broker.process import MosquittoProcess
from tenant.broker.roles import device_role
from tests.mqtt.acker import Acker
from tests.mqtt.conftest import (
    DEVICE,
    TENANT,
    TOPICS,
    LinkFactory,
    Recorder,
    record_plays,
    wait_for,
)
from tests.support.broker import MqttProbe, SecuredBroker

PASSWORD = "device-password-1"


def probe(broker: MosquittoProcess, client_id: str = "tenant") -> MqttProbe:
    client = MqttProbe(broker.host, broker.port, client_id=client_id)
    assert not client.connect().is_failure
    return client


def test_desired_state_and_commands_reach_the_inbox_and_nothing_else_does(
    mqtt_broker: MosquittoProcess, make_link: LinkFactory
) -> None:
    inbox = Recorder()
    link = make_link(mqtt_broker.port, inbox=inbox)
    link.start()
    assert wait_for(lambda: link.online)
    with probe(mqtt_broker) as tenant:
        tenant.publish(TOPICS.desired, b'{"v":1,"version":3}', retain=True)
        tenant.publish(TOPICS.command_request, b"not even json")
        tenant.publish(f"jk/v1/{TENANT}/jk-someone-else/cmd/request", b"{}")
    assert wait_for(lambda: inbox.desired and inbox.commands)
    assert inbox.desired == [b'{"v":1,"version":3}']
    assert inbox.commands == [b"not even json"]  # raw bytes: the inbox judges them


def test_after_a_new_broker_takes_the_port_the_link_subscribes_again(
    mqtt_broker: MosquittoProcess, make_link: LinkFactory, tmp_path: Path
) -> None:
    inbox = Recorder()
    link = make_link(mqtt_broker.port, inbox=inbox)
    link.start()
    assert wait_for(lambda: link.online)
    mqtt_broker.kill()
    # A broker with no memory of the device's session: only a new SUBSCRIBE gets it commands.
    with MosquittoProcess(tmp_path / "fresh", port=mqtt_broker.port):
        assert wait_for(lambda: link.transport.connections == 2 and link.online)
        with probe(mqtt_broker) as tenant:
            assert wait_for(
                lambda: tenant.publish(TOPICS.command_request, b'{"n":1}').value == 0, 5
            )  # 0 = Success: someone subscribes (0x10 would be "no matching subscribers")
        assert wait_for(lambda: inbox.commands == [b'{"n":1}'], 5)


class SessionListener:
    """A tenant-side client with a persistent session: what is published while it is away
    (or before it is back after a broker restart) waits for it on the broker."""

    def __init__(self, broker: MosquittoProcess, topic: str) -> None:
        self.messages: queue.Queue[bytes] = queue.Queue()
        self.client = Client(
            CallbackAPIVersion.VERSION2, client_id="listener", protocol=MQTTProtocolVersion.MQTTv5
        )
        self.client.on_message = lambda _c, _u, m: self.messages.put(bytes(m.payload))
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = 3600
        self.client.connect(broker.host, broker.port, clean_start=False, properties=properties)
        self.client.subscribe(topic, qos=1)
        self.client.loop_start()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_answers_made_offline_wait_and_the_latest_reported_state_wins(
    tmp_path: Path, make_link: LinkFactory
) -> None:
    broker = MosquittoProcess(tmp_path / "mq").start()
    listener = SessionListener(broker, TOPICS.command_result)
    assert wait_for(lambda: listener.client.is_connected())
    time.sleep(0.2)  # the SUBACK
    listener.close()
    broker.stop()  # the kiosk is offline from here on
    remote = RemoteOutbox()
    link = make_link(broker.port, remote=remote)
    link.start()
    remote.publish_reported({"v": 1, "version": 1, "status": "applied"})
    remote.publish_reported({"v": 1, "version": 2, "status": "syncing", "missing": ["jazz"]})
    for n in range(3):
        remote.publish_result({"v": 1, "request_id": f"r{n}", "command": "identify", "ok": True})
    remote.publish_result({"v": 1, "request_id": "bad", "ok": "yes"})  # invalid: dropped, logged
    with broker:
        listener = SessionListener(broker, TOPICS.command_result)
        try:
            results = [json.loads(listener.messages.get(timeout=10)) for _ in range(3)]
            assert [r["request_id"] for r in results] == ["r0", "r1", "r2"]
            time.sleep(0.3)
            assert listener.messages.empty()
        finally:
            listener.close()
        with probe(broker, "newcomer") as newcomer:
            newcomer.subscribe(TOPICS.reported)
            reported = newcomer.receive()
            assert reported.retain and json.loads(reported.payload)["version"] == 2
            assert newcomer.nothing_received(0.3)


def test_a_refused_publish_is_retried_and_delivered_once_allowed(
    dynsec_broker: SecuredBroker, kiosk_journal: PlayJournal, make_link: LinkFactory
) -> None:
    settings = dynsec_broker.settings
    control = BrokerControl(settings)
    acker = None
    try:
        assert control.wait_connected(5)
        control.ensure_device(TENANT, DEVICE, DEVICE, PASSWORD)
        acl = {"rolename": device_role(TENANT, DEVICE), "acltype": "publishClientSend"}
        control._request([{"command": "removeRoleACL", **acl, "topic": TOPICS.plays}])
        acker = Acker(
            settings.host,
            settings.port,
            username=settings.ingester.username,
            password=settings.ingester.password,
        ).start()
        ids = record_plays(kiosk_journal, 150)
        link = make_link(
            settings.port,
            account=BrokerAccount(settings.host, settings.port, False, DEVICE, PASSWORD),
        )
        link.start()
        assert wait_for(lambda: link.publisher.stats.puback_failures >= 2)  # PUBACK 0x87
        assert acker.receipts == [] and kiosk_journal.stats().finished == 150
        control._request(
            [{"command": "addRoleACL", **acl, "topic": TOPICS.plays, "allow": True, "priority": 0}]
        )
        assert acker.wait_stored(150)
        assert wait_for(lambda: kiosk_journal.stats().total == 0)
        assert set(acker.stored) == set(ids)
    finally:
        if acker is not None:
            acker.close()
        control.close()


def test_over_tls_plays_flow_and_a_revoked_account_backs_off_keeping_its_plays(
    tls_broker: SecuredBroker,
    kiosk_journal: PlayJournal,
    make_link: LinkFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = tls_broker.settings
    assert settings.ca_file is not None
    control = BrokerControl(settings)
    acker = None
    try:
        assert control.wait_connected(5)
        control.ensure_device(TENANT, DEVICE, DEVICE, PASSWORD)
        acker = Acker(
            settings.host,
            settings.port,
            username=settings.ingester.username,
            password=settings.ingester.password,
            ca_file=str(settings.ca_file),
        ).start()
        # Without the tenant's CA, the system's CAs do not vouch for this broker: no connection.
        untrusted = make_link(
            settings.port,
            account=BrokerAccount(settings.host, settings.port, True, DEVICE, PASSWORD),
        )
        untrusted.start()
        assert wait_for(lambda: untrusted.transport.backoff.failures >= 1)
        assert not untrusted.online
        untrusted.close()

        account = BrokerAccount(
            settings.host, settings.port, True, DEVICE, PASSWORD, ca_file=settings.ca_file
        )
        link = make_link(settings.port, account=account)
        link.start()
        ids = record_plays(kiosk_journal, 20)
        assert acker.wait_stored(20)
        assert set(acker.stored) == set(ids)
        assert wait_for(lambda: kiosk_journal.stats().total == 0)

        caplog.set_level(logging.ERROR, logger="device.mqtt.transport")
        control.remove_device(TENANT, DEVICE)  # revoked: the broker drops and refuses it
        assert wait_for(lambda: link.transport.refused_backoff.failures >= 1)
        assert any("may have been revoked" in r.getMessage() for r in caplog.records)
        record_plays(kiosk_journal, 5)
        assert not link.online
        assert kiosk_journal.stats().finished == 5  # kept for a later claim
    finally:
        if acker is not None:
            acker.close()
        control.close()
