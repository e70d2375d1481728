"""The access matrix: real devices, with the credentials of the real token answer, against a
real mosquitto whose accounts the real tenant service made (docs/protocol.md, "Accounts").

A refused publish at QoS 1 gets a PUBACK with reason 0x87 "Not authorized", a refused
subscription a SUBACK with 0x87; mosquitto keeps the connection open in both cases.
"""

from __future__ import annotations

import json

import pytest
from paho.mqtt.reasoncodes import ReasonCode

from contract.protocol import INGEST_GROUP, PLAYS, DeviceTopics, shared, wildcard
from contract.protocol.topics import DEVICE_LEAVES, TENANT_LEAVES
from tests.broker.conftest import BrokerTenant, ClaimedKiosk

NOT_AUTHORIZED = 0x87
GRANTED_QOS1 = 0x01
DESIRED = {"v": 1, "version": 1, "playlists": ["p1"]}


def topics(device: ClaimedKiosk) -> DeviceTopics:
    return DeviceTopics(device.tenant, device.device_id)


def refused(code: ReasonCode) -> bool:
    return code.value == NOT_AUTHORIZED


def test_a_claimed_device_gets_working_credentials_in_its_token_answer(
    broker_tenant: BrokerTenant,
) -> None:
    device = broker_tenant.claim()
    assert device.mqtt["username"] == device.device_id
    assert device.mqtt["port"] == broker_tenant.broker.settings.port
    with broker_tenant.connect(device) as probe:
        for leaf in DEVICE_LEAVES:
            assert not probe.publish(topics(device).topic(leaf), b"{}").is_failure, leaf
        for leaf in TENANT_LEAVES:
            assert probe.subscribe(topics(device).topic(leaf)).value == GRANTED_QOS1, leaf


def test_a_device_receives_its_desired_state_commands_and_acks(
    broker_tenant: BrokerTenant,
) -> None:
    device = broker_tenant.claim()
    own = topics(device)
    control = broker_tenant.control()
    ingester_account = broker_tenant.broker.settings.ingester
    with (
        broker_tenant.connect(device) as probe,
        broker_tenant.broker.probe(
            ingester_account.username, ingester_account.password, client_id="ingester-1"
        ) as ingester,
    ):
        for leaf in TENANT_LEAVES:
            probe.subscribe(own.topic(leaf))
        control.publish_desired(device.tenant, device.device_id, DESIRED)
        control.publish_command(
            device.tenant, device.device_id, {"v": 1, "request_id": "r1", "command": "resync"}
        )
        assert not ingester.publish(own.ack, b'{"v":1}').is_failure
        received = {probe.receive().topic for _ in range(3)}
        assert received == {own.desired, own.command_request, own.ack}
    control.close()


def test_a_device_cannot_publish_as_another_device_nor_as_the_tenant(
    broker_tenant: BrokerTenant,
) -> None:
    a, b = broker_tenant.claim(), broker_tenant.claim()
    other_tenant = broker_tenant.claim("lib-b")
    with broker_tenant.connect(a) as probe:
        for victim in (b, other_tenant):
            for leaf in DEVICE_LEAVES:
                assert refused(probe.publish(topics(victim).topic(leaf), b"{}")), (victim, leaf)
        for leaf in TENANT_LEAVES:  # not even its own acks, desired state or commands
            assert refused(probe.publish(topics(a).topic(leaf), b"{}")), leaf
        assert refused(probe.publish(f"jk/v1/lib-a/{a.device_id}/other", b"{}"))
        assert refused(probe.publish("$CONTROL/dynamic-security/v1", b'{"commands":[]}'))
        assert not probe.publish(topics(a).plays, b"{}").is_failure  # still connected, still fine


def test_a_device_cannot_read_another_devices_commands_desired_state_or_acks(
    broker_tenant: BrokerTenant,
) -> None:
    a, b = broker_tenant.claim(), broker_tenant.claim()
    control = broker_tenant.control()
    control.publish_desired(b.tenant, b.device_id, DESIRED)
    with broker_tenant.connect(a) as probe:
        for leaf in TENANT_LEAVES + DEVICE_LEAVES:
            assert refused(probe.subscribe(topics(b).topic(leaf))), leaf
        assert probe.nothing_received()  # not even the retained desired state of b
    control.close()


@pytest.mark.parametrize(
    "topic_filter",
    [
        "#",
        "jk/v1/#",
        "jk/v1/lib-a/#",
        wildcard(PLAYS, "lib-a"),
        wildcard("state/desired"),
        shared(INGEST_GROUP, wildcard(PLAYS)),
        "$share/mine/jk/v1/lib-a/+/state/desired",
        "$CONTROL/#",
        "$CONTROL/dynamic-security/v1/response",
        "$SYS/#",
    ],
)
def test_a_device_cannot_subscribe_to_tenant_wide_topics(
    broker_tenant: BrokerTenant, topic_filter: str
) -> None:
    device = broker_tenant.claim()
    with broker_tenant.connect(device) as probe:
        assert refused(probe.subscribe(topic_filter))


def test_a_device_cannot_widen_its_own_subscriptions(broker_tenant: BrokerTenant) -> None:
    device = broker_tenant.claim()
    with broker_tenant.connect(device) as probe:
        for topic_filter in (f"{topics(device).prefix}/#", f"{topics(device).prefix}/state/+"):
            assert refused(probe.subscribe(topic_filter)), topic_filter


def test_a_revoked_device_is_disconnected_and_refused_others_stay(
    broker_tenant: BrokerTenant,
) -> None:
    a, b = broker_tenant.claim(), broker_tenant.claim()
    probe_a, probe_b = broker_tenant.connect(a), broker_tenant.connect(b)

    broker_tenant.service.revoke("lib-a", a.device_id)

    assert probe_a.wait_disconnected().is_failure
    probe_a.close()
    with pytest.raises(ConnectionRefusedError, match="Not authorized"):
        broker_tenant.connect(a)
    assert not probe_b.publish(topics(b).plays, b"{}").is_failure
    probe_b.close()


def test_the_ingester_reads_plays_only_through_its_shared_group_and_acks(
    broker_tenant: BrokerTenant,
) -> None:
    device = broker_tenant.claim()
    account = broker_tenant.broker.settings.ingester
    with (
        broker_tenant.broker.probe(
            account.username, account.password, client_id="ingester-1"
        ) as ingester,
        broker_tenant.connect(device) as probe,
    ):
        assert refused(ingester.subscribe(wildcard(PLAYS)))
        assert refused(ingester.subscribe("$share/other/" + wildcard(PLAYS)))
        assert refused(ingester.subscribe(wildcard("state/desired")))
        assert refused(ingester.subscribe("$CONTROL/#"))
        assert refused(ingester.publish(topics(device).desired, b"{}"))
        assert refused(ingester.publish(topics(device).plays, b"{}"))
        for topic_filter in (shared(INGEST_GROUP, wildcard(PLAYS)), wildcard("status")):
            assert ingester.subscribe(topic_filter).value == GRANTED_QOS1, topic_filter
        probe.publish(topics(device).plays, json.dumps({"v": 1}).encode())
        assert ingester.receive().topic == topics(device).plays
        assert not ingester.publish(topics(device).ack, b"{}").is_failure
