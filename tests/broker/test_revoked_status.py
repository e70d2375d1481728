"""A revoked kiosk does not stay `online: true`: the broker sends no last will for a client it
disconnects itself, so the service says offline ("revoked") and deletes the retained status.
Real mosquitto with dynamic security, the real tenant service over HTTP."""

from __future__ import annotations

import json

from contract.protocol import DeviceTopics
from contract.protocol.topics import STATUS, wildcard
from tenant.broker.control import BrokerControl
from tenant.broker.roles import CONTROL_TOPIC, SERVICE_ROLE
from tests.broker.conftest import BrokerTenant, ClaimedKiosk
from tests.support.broker import MqttProbe, SecuredBroker

TENANT = "lib-a"
DEVICE = "jk-aaaaaaaaaaaaaaaaaaaa"
ONLINE = json.dumps({"v": 1, "online": True, "boot_id": "b1"}).encode()


def statuses(broker: SecuredBroker) -> MqttProbe:
    """A reader of every status of the tenant, as an ingester (retained ones arrive first)."""
    account = broker.settings.ingester
    probe = broker.probe(account.username, account.password, client_id="status-reader")
    assert not probe.subscribe(wildcard(STATUS, TENANT)).is_failure
    return probe


def online(broker_tenant: BrokerTenant, kiosk: ClaimedKiosk) -> MqttProbe:
    """The kiosk connected as the firmware connects: a retained online status, a last will."""
    topic = DeviceTopics(TENANT, kiosk.device_id).status
    will = json.dumps({"v": 1, "online": False, "reason": "lost"}).encode()
    probe = broker_tenant.connect(kiosk, will=(topic, will))
    assert not probe.publish(topic, ONLINE, retain=True).is_failure
    return probe


def test_revoking_a_kiosk_says_it_is_offline_then_leaves_no_retained_status(
    broker_tenant: BrokerTenant,
) -> None:
    broker = broker_tenant.broker
    kiosk, other = broker_tenant.claim(), broker_tenant.claim()
    device, neighbour = online(broker_tenant, kiosk), online(broker_tenant, other)
    with statuses(broker) as reader:
        seen = {reader.receive().topic: True for _ in range(2)}
        assert set(seen) == {DeviceTopics(TENANT, k.device_id).status for k in (kiosk, other)}

        broker_tenant.service.revoke(TENANT, kiosk.device_id)

        assert device.wait_disconnected().is_failure
        said = reader.receive()
        assert said.topic == DeviceTopics(TENANT, kiosk.device_id).status
        assert json.loads(said.payload) == {"v": 1, "online": False, "reason": "revoked"}
        cleared = reader.receive()
        assert cleared.topic == said.topic and cleared.payload == b""
    with statuses(broker) as late_reader:  # what an ingester or admin connecting now sees
        only = late_reader.receive()
        assert only.topic == DeviceTopics(TENANT, other.device_id).status
        assert only.retain and only.payload == ONLINE
        assert late_reader.nothing_received()
    device.close()
    neighbour.close()


def test_a_service_role_from_an_older_setup_gains_the_right_when_the_service_connects(
    dynsec_broker: SecuredBroker,
) -> None:
    service = dynsec_broker.settings.service
    removal = {
        "command": "removeRoleACL",
        "rolename": SERVICE_ROLE,
        "acltype": "publishClientSend",
        "topic": wildcard(STATUS),
    }
    with dynsec_broker.probe(service.username, service.password, client_id="old-setup") as old:
        old.client.publish(CONTROL_TOPIC, json.dumps({"commands": [removal]}), qos=1)
        old.wait_disconnected()  # the broker drops a role's clients when the role changes
    with dynsec_broker.probe(service.username, service.password, client_id="old-setup") as old:
        refused = old.publish(DeviceTopics(TENANT, DEVICE).status, b"", retain=True)
        assert refused.is_failure  # as a broker set up by the previous version
    with BrokerControl(dynsec_broker.settings, timeout_s=3) as control:
        assert control.wait_connected(5)
        control.ensure_device(TENANT, DEVICE, DEVICE, "secret-1")
        with dynsec_broker.probe(DEVICE, "secret-1") as device:
            status = DeviceTopics(TENANT, DEVICE).status
            assert not device.publish(status, ONLINE, retain=True).is_failure
            control.remove_device(TENANT, DEVICE)  # raises if the broker refused the clearing
    with statuses(dynsec_broker) as reader:
        assert reader.nothing_received()
