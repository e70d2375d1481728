"""The MQTT link runs while the kiosk holds a broker account: started when the claim is
active (or at boot with stored credentials and the tenant's API down), stopped on revocation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from device.config import TenantConfig
from device.events import EnrollmentChanged
from device.identity.credentials import Credentials, MqttCredentials
from device.journal.outbox import PlayJournal
from device.mqtt.supervisor import MqttSetup, MqttSupervisor
from tenant.broker.process import MosquittoProcess
from tests.mqtt.acker import Acker
from tests.mqtt.conftest import (
    DEVICE,
    IDENTITY,
    TENANT,
    TOPICS,
    Recorder,
    record_plays,
    wait_for,
)
from tests.support.broker import MqttProbe


def credentials(port: int, password: str = "pw-1") -> Credentials:
    return Credentials(
        tenant_url="http://127.0.0.1:1/t/lib-a",
        device_id=DEVICE,
        tenant_id=TENANT,
        tenant_name="Library A",
        site="centre",
        device_name="Hall",
        mqtt=MqttCredentials("127.0.0.1", port, False, DEVICE, password),
    )


def last_status(broker: MosquittoProcess) -> dict[str, object]:
    with MqttProbe(broker.host, broker.port, client_id="status-reader") as probe:
        assert not probe.connect().is_failure
        probe.subscribe(TOPICS.status)
        loaded: dict[str, object] = json.loads(probe.receive().payload)
        return loaded


def test_the_link_follows_the_claim(
    mqtt_broker: MosquittoProcess, kiosk_journal: PlayJournal, tmp_path: Path
) -> None:
    state: dict[str, Any] = {"status": EnrollmentChanged("pending"), "credentials": None}
    supervisor = MqttSupervisor(
        lambda: state["status"],
        lambda: state["credentials"],
        TenantConfig(url="http://127.0.0.1:1/t/lib-a"),
        tmp_path,
        MqttSetup(kiosk_journal.path, IDENTITY, inbox=Recorder(), heartbeat_s=60),
        firmware_version="0.1.0",
        boot_id="boot-1",
    )
    acker = Acker(mqtt_broker.host, mqtt_broker.port).start()
    try:
        supervisor.check()
        assert supervisor.link is None  # not claimed: no account, no link

        # At boot with stored credentials while the tenant's HTTP API is down: connect anyway.
        state["credentials"] = credentials(mqtt_broker.port)
        state["status"] = EnrollmentChanged("unreachable", tenant_id=TENANT)
        supervisor.check()
        assert supervisor.link is not None
        first = supervisor.link
        assert wait_for(lambda: first.online)
        record_plays(kiosk_journal, 3)
        assert acker.wait_stored(3, timeout_s=10)

        state["status"] = EnrollmentChanged("revoked")
        supervisor.check()
        assert supervisor.link is None and not first.online
        assert last_status(mqtt_broker)["reason"] == "revoked"
        record_plays(kiosk_journal, 2)
        assert kiosk_journal.stats().finished >= 2  # kept for the next claim

        state["credentials"] = credentials(mqtt_broker.port, password="pw-2")  # re-claimed
        state["status"] = EnrollmentChanged("active", tenant_id=TENANT)
        supervisor.check()
        assert supervisor.link is not None and supervisor.link is not first
        assert acker.wait_stored(5, timeout_s=10)
        assert wait_for(lambda: kiosk_journal.stats().total == 0)
    finally:
        supervisor.close()
        acker.close()
    assert last_status(mqtt_broker)["reason"] == "shutdown"
