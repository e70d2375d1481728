"""BrokerControl against a real mosquitto with dynamic security (no tenant service)."""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Iterator

import pytest

from contract.protocol import DeviceTopics, PayloadError
from tenant.broker.control import BrokerControl, BrokerUnavailable
from tenant.broker.process import free_port
from tenant.broker.settings import BrokerSettings
from tenant.broker.setup import new_accounts
from tests.support.broker import SecuredBroker

TENANT = "lib-a"
DEVICE = "jk-aaaaaaaaaaaaaaaaaaaa"
DESIRED = {
    "v": 1,
    "version": 1,
    "playlists": ["p1"],
}


@pytest.fixture
def control(dynsec_broker: SecuredBroker) -> Iterator[BrokerControl]:
    control = BrokerControl(dynsec_broker.settings, timeout_s=3)
    assert control.wait_connected(5)
    yield control
    control.close()


def test_an_ensured_device_connects_only_with_its_own_client_id(
    dynsec_broker: SecuredBroker, control: BrokerControl
) -> None:
    control.ensure_device(TENANT, DEVICE, DEVICE, "secret-1")

    with pytest.raises(ConnectionRefusedError, match="Not authorized"):
        dynsec_broker.probe(DEVICE, "secret-1", client_id="someone-else")
    with pytest.raises(ConnectionRefusedError, match="Not authorized"):
        dynsec_broker.probe(DEVICE, "wrong password")
    with dynsec_broker.probe(DEVICE, "secret-1") as device:
        assert not device.publish(DeviceTopics(TENANT, DEVICE).plays, b"{}").is_failure


def test_ensuring_again_keeps_a_connected_device_connected(
    dynsec_broker: SecuredBroker, control: BrokerControl
) -> None:
    control.ensure_device(TENANT, DEVICE, DEVICE, "secret-1")
    with dynsec_broker.probe(DEVICE, "secret-1") as device:
        control.ensure_device(TENANT, DEVICE, DEVICE, "secret-1")  # remembered: nothing sent
        with BrokerControl(dynsec_broker.settings) as fresh:  # a new session checks the broker
            assert fresh.wait_connected(5)
            fresh.ensure_device(TENANT, DEVICE, DEVICE, "secret-1")
        with pytest.raises(queue.Empty):  # never disconnected
            device.wait_disconnected(1)


def test_a_new_password_replaces_the_old_one(
    dynsec_broker: SecuredBroker, control: BrokerControl
) -> None:
    control.ensure_device(TENANT, DEVICE, DEVICE, "secret-1")
    control.ensure_device(TENANT, DEVICE, DEVICE, "secret-2")  # claimed again: new nonce

    with pytest.raises(ConnectionRefusedError):
        dynsec_broker.probe(DEVICE, "secret-1")
    dynsec_broker.probe(DEVICE, "secret-2").close()


def test_a_broker_that_lost_its_accounts_gets_them_back_at_the_next_ensure(
    dynsec_broker: SecuredBroker, control: BrokerControl
) -> None:
    control.ensure_device(TENANT, DEVICE, DEVICE, "secret-1")
    broker = dynsec_broker.process
    broker.stop()
    document = json.loads(broker.dynsec_file.read_text())
    document["clients"] = [c for c in document["clients"] if c["username"] != DEVICE]
    document["roles"] = [r for r in document["roles"] if not r["rolename"].startswith("jk-device")]
    broker.dynsec_file.write_text(json.dumps(document))
    broker.start()
    with pytest.raises(ConnectionRefusedError):
        dynsec_broker.probe(DEVICE, "secret-1")

    assert control.wait_connected(10)  # reconnected by itself: a new broker session
    control.ensure_device(TENANT, DEVICE, DEVICE, "secret-1")

    dynsec_broker.probe(DEVICE, "secret-1").close()


def test_removing_a_device_disconnects_it_and_refuses_it(
    dynsec_broker: SecuredBroker, control: BrokerControl
) -> None:
    control.ensure_device(TENANT, DEVICE, DEVICE, "secret-1")
    device = dynsec_broker.probe(DEVICE, "secret-1")

    control.remove_device(TENANT, DEVICE)

    assert device.wait_disconnected(5).is_failure  # "Administrative action"
    device.close()
    with pytest.raises(ConnectionRefusedError, match="Not authorized"):
        dynsec_broker.probe(DEVICE, "secret-1")
    control.remove_device(TENANT, DEVICE)  # again: nothing left, no error


def test_removal_by_one_tenant_leaves_the_same_device_claimed_by_another(
    dynsec_broker: SecuredBroker, control: BrokerControl
) -> None:
    control.ensure_device("lib-a", DEVICE, DEVICE, "secret-a")
    control.ensure_device("lib-b", DEVICE, DEVICE, "secret-b")  # the kiosk moved to lib-b

    control.remove_device("lib-a", DEVICE)

    with dynsec_broker.probe(DEVICE, "secret-b") as device:
        assert not device.subscribe(DeviceTopics("lib-b", DEVICE).desired).is_failure
        assert device.subscribe(DeviceTopics("lib-a", DEVICE).desired).is_failure


def test_desired_state_is_retained_for_the_device_and_can_be_cleared(
    dynsec_broker: SecuredBroker, control: BrokerControl
) -> None:
    topics = DeviceTopics(TENANT, DEVICE)
    control.ensure_device(TENANT, DEVICE, DEVICE, "secret-1")
    control.publish_desired(TENANT, DEVICE, DESIRED)

    with dynsec_broker.probe(DEVICE, "secret-1") as device:
        device.subscribe(topics.desired)
        message = device.receive()
        assert message.retain and json.loads(message.payload) == DESIRED

    control.clear_desired(TENANT, DEVICE)
    with dynsec_broker.probe(DEVICE, "secret-1") as device:
        device.subscribe(topics.desired)
        assert device.nothing_received()


def test_a_command_reaches_the_connected_device(
    dynsec_broker: SecuredBroker, control: BrokerControl
) -> None:
    topics = DeviceTopics(TENANT, DEVICE)
    control.ensure_device(TENANT, DEVICE, DEVICE, "secret-1")
    command = {"v": 1, "request_id": "r1", "command": "identify", "args": {"seconds": 5}}
    with dynsec_broker.probe(DEVICE, "secret-1") as device:
        device.subscribe(topics.command_request)
        control.publish_command(TENANT, DEVICE, command)
        assert json.loads(device.receive().payload) == command


def test_a_payload_outside_the_schema_is_refused_before_sending(control: BrokerControl) -> None:
    with pytest.raises(PayloadError, match="command-request"):
        control.publish_command(TENANT, DEVICE, {"v": 1, "request_id": "r1", "command": "format"})


def test_calls_fail_at_once_while_the_broker_is_down(
    dynsec_broker: SecuredBroker, control: BrokerControl
) -> None:
    dynsec_broker.process.stop()
    started = time.monotonic()
    with pytest.raises(BrokerUnavailable, match=r"getRole\+getClient: not connected"):
        control.ensure_device(TENANT, DEVICE, DEVICE, "secret-1")
    with pytest.raises(BrokerUnavailable, match=r"publish to jk/v1/lib-a/.*/state/desired"):
        control.publish_desired(TENANT, DEVICE, DESIRED)
    assert time.monotonic() - started < control.timeout_s  # no request handler waits it out


def test_a_service_account_the_broker_refuses_is_reported_as_unavailable(
    dynsec_broker: SecuredBroker,
) -> None:
    settings = dynsec_broker.settings
    wrong = BrokerSettings(
        settings.host, settings.port, settings.ingester, settings.ingester
    )  # the ingester may not use $CONTROL
    with (
        BrokerControl(wrong, timeout_s=1) as control,
        pytest.raises(BrokerUnavailable, match="not connected"),
    ):
        control.ensure_device(TENANT, DEVICE, DEVICE, "secret-1")


def test_no_broker_listening_is_reported_as_unavailable() -> None:
    settings = BrokerSettings("127.0.0.1", free_port(), *new_accounts())
    with (
        BrokerControl(settings, timeout_s=0.5) as control,
        pytest.raises(BrokerUnavailable, match=f"127.0.0.1:{settings.port}"),
    ):
        control.remove_device(TENANT, DEVICE)


def test_the_service_restores_a_default_access_of_deny_when_it_connects(
    dynsec_broker: SecuredBroker, control: BrokerControl
) -> None:
    control.ensure_device(TENANT, DEVICE, DEVICE, "secret-1")
    broker = dynsec_broker.process
    broker.stop()
    document = json.loads(broker.dynsec_file.read_text())
    document["defaultACLAccess"] = dict.fromkeys(document["defaultACLAccess"], True)
    broker.dynsec_file.write_text(json.dumps(document))
    broker.start()

    assert control.wait_connected(10)
    deadline = time.monotonic() + 10
    while True:
        with dynsec_broker.probe(DEVICE, "secret-1") as device:
            if device.subscribe("jk/v1/#").value == 0x87:
                break
        assert time.monotonic() < deadline, "the default access stayed 'allow'"
        time.sleep(0.2)
