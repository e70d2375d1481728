"""The tenant service keeps device accounts in step with enrollment, whatever the broker did."""

from __future__ import annotations

import json
import time

import pytest
import requests

from tests.broker.conftest import BrokerTenant, ClaimedKiosk


def wipe_device_accounts(broker_tenant: BrokerTenant) -> None:
    """The broker restarts having lost every device account (an old backup, a new node)."""
    process = broker_tenant.broker.process
    process.stop()
    document = json.loads(process.dynsec_file.read_text())
    keep = {
        a.username
        for a in (broker_tenant.broker.settings.service, broker_tenant.broker.settings.ingester)
    }
    document["clients"] = [c for c in document["clients"] if c["username"] in keep]
    process.dynsec_file.write_text(json.dumps(document))
    process.start()


def revoke(broker_tenant: BrokerTenant, device_id: str) -> requests.Response:
    service = broker_tenant.service
    return requests.post(
        f"{service.url('lib-a')}/v1/admin/devices/{device_id}/revoke",
        headers={"Authorization": f"Bearer {service.admin_token('lib-a')}"},
        timeout=10,
    )


def token_until_connected(broker_tenant: BrokerTenant, claimed_kiosk: ClaimedKiosk) -> None:
    """Fetch tokens (as the device does after a refused connection) until the account works:
    the service reconnects to a restarted broker in the background, within seconds."""
    deadline = time.monotonic() + 30
    while True:
        response = claimed_kiosk.kiosk.token()
        assert response.status_code == 200, response.text
        assert response.json()["mqtt"] == claimed_kiosk.mqtt
        try:
            broker_tenant.connect(claimed_kiosk).close()
            return
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_a_claim_while_the_broker_is_down_succeeds_and_the_token_makes_the_account(
    broker_tenant: BrokerTenant, caplog: pytest.LogCaptureFixture
) -> None:
    broker_tenant.broker.process.stop()
    claimed = broker_tenant.claim()  # claim and first token, both without a broker
    assert "not ensured" in caplog.text
    broker_tenant.broker.process.start()
    with pytest.raises(ConnectionRefusedError):
        broker_tenant.connect(claimed)

    token_until_connected(broker_tenant, claimed)


def test_a_broker_that_lost_its_accounts_recovers_at_the_next_token(
    broker_tenant: BrokerTenant,
) -> None:
    claimed = broker_tenant.claim()
    broker_tenant.connect(claimed).close()
    wipe_device_accounts(broker_tenant)
    with pytest.raises(ConnectionRefusedError):
        broker_tenant.connect(claimed)

    token_until_connected(broker_tenant, claimed)


def test_a_revocation_the_broker_cannot_apply_is_an_error_to_retry(
    broker_tenant: BrokerTenant,
) -> None:
    claimed = broker_tenant.claim()
    broker_tenant.broker.process.stop()

    response = revoke(broker_tenant, claimed.device_id)
    assert response.status_code == 503
    assert "revoke it again" in response.json()["error_description"]
    assert claimed.kiosk.token().status_code == 403  # revoked at the service all the same

    broker_tenant.broker.process.start()
    deadline = time.monotonic() + 30
    while revoke(broker_tenant, claimed.device_id).status_code == 503:
        assert time.monotonic() < deadline, "the service did not reconnect to the broker"
        time.sleep(0.5)
    with pytest.raises(ConnectionRefusedError, match="Not authorized"):
        broker_tenant.connect(claimed)


def test_a_claimed_again_device_gets_a_new_password_and_the_old_one_stops_working(
    broker_tenant: BrokerTenant,
) -> None:
    claimed = broker_tenant.claim()
    broker_tenant.service.revoke("lib-a", claimed.device_id)
    code = claimed.kiosk.claim_code()
    broker_tenant.service.claim("lib-a", code, site="annexe")
    answer = claimed.kiosk.token().json()["mqtt"]

    assert answer["password"] != claimed.mqtt["password"]
    with pytest.raises(ConnectionRefusedError):
        broker_tenant.connect(claimed)
    claimed.mqtt = answer
    broker_tenant.connect(claimed).close()
