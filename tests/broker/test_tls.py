"""TLS on the broker with a CA made by the test: devices verify the broker with that CA."""

from __future__ import annotations

import ssl
import time
from pathlib import Path

import pytest

from tests.support.broker import MqttProbe, SecuredBroker
from tests.support.tenant import RunningTenant
from tests.tenant.kiosk import Kiosk


def test_a_claimed_device_connects_over_tls_with_the_ca_and_fails_without(
    tmp_path: Path, tls_broker: SecuredBroker
) -> None:
    with RunningTenant(tmp_path / "tenant", broker=tls_broker.settings) as service:
        kiosk = Kiosk(service.url("lib-a"), time.time)
        service.claim("lib-a", kiosk.claim_code(), site="centre")  # the account is made over TLS
        mqtt = kiosk.token().json()["mqtt"]
    assert mqtt["tls"] is True and mqtt["host"] == "localhost"

    with tls_broker.probe(mqtt["username"], mqtt["password"]) as device:
        assert not device.subscribe(f"jk/v1/lib-a/{kiosk.device_id}/state/desired").is_failure

    user, password = mqtt["username"], mqtt["password"]
    without_ca = MqttProbe(  # the system CAs do not know the test's CA
        mqtt["host"], mqtt["port"], username=user, password=password, client_id=user, tls=True
    )
    with pytest.raises(ssl.SSLCertVerificationError):
        without_ca.connect()
