"""A secured broker with the real tenant service managing its accounts, and claimed kiosks."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tenant.broker.control import BrokerControl
from tests.support.broker import MqttProbe, SecuredBroker
from tests.support.tenant import RunningTenant
from tests.tenant.kiosk import Kiosk


@dataclass
class ClaimedKiosk:
    kiosk: Kiosk
    tenant: str
    mqtt: dict[str, Any]  # the token answer's `mqtt` object

    @property
    def device_id(self) -> str:
        return self.kiosk.device_id


class BrokerTenant:
    """The tenant service over HTTP, its broker, and helpers to claim kiosks on it."""

    def __init__(self, service: RunningTenant, broker: SecuredBroker) -> None:
        self.service = service
        self.broker = broker

    def claim(self, slug: str = "lib-a", site: str = "centre") -> ClaimedKiosk:
        kiosk = Kiosk(self.service.url(slug), time.time)
        self.service.claim(slug, kiosk.claim_code(), site=site)
        response = kiosk.token()
        assert response.status_code == 200, response.text
        return ClaimedKiosk(kiosk, slug, response.json()["mqtt"])

    def connect(self, claimed: ClaimedKiosk, **kwargs: Any) -> MqttProbe:
        """The device's connection, exactly as its token answer says (client id = username)."""
        mqtt = claimed.mqtt
        return self.broker.probe(mqtt["username"], mqtt["password"], **kwargs)

    def control(self) -> BrokerControl:
        """A second admin connection (the service's own is inside its process state)."""
        control = BrokerControl(self.broker.settings)
        assert control.wait_connected(5)
        return control


@pytest.fixture
def broker_tenant(tmp_path: Path, dynsec_broker: SecuredBroker) -> Iterator[BrokerTenant]:
    with RunningTenant(
        tmp_path / "tenant", ("lib-a", "lib-b"), broker=dynsec_broker.settings
    ) as service:
        yield BrokerTenant(service, dynsec_broker)
