"""broker.json: what the service and ingesters read to reach their broker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tenant.broker.control import BrokerControl, BrokerControlError
from tenant.broker.settings import (
    BrokerSettings,
    BrokerSettingsError,
    load_broker_settings,
    save_broker_settings,
)
from tenant.broker.setup import new_accounts
from tests.support.broker import SecuredBroker


def test_settings_survive_a_round_trip_and_no_file_means_no_broker(tmp_path: Path) -> None:
    assert load_broker_settings(tmp_path) is None
    service, ingester = new_accounts()
    settings = BrokerSettings("broker.example.org", 8883, service, ingester, True, tmp_path / "ca")
    path = save_broker_settings(tmp_path, settings)
    assert load_broker_settings(tmp_path) == settings
    assert path.stat().st_mode & 0o777 == 0o600
    assert service.password not in repr(settings)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"port": "8883"}, "'port' must be a number"),
        ({"host": ""}, "'host' must be a non-empty string"),
        ({"ingester": {"username": "x"}}, "ingester.'password'"),
        ({"service": None}, "'service' must be an object"),
    ],
)
def test_a_broken_file_is_refused_naming_the_file_and_the_key(
    tmp_path: Path, change: dict[str, object], problem: str
) -> None:
    service, ingester = new_accounts()
    document = BrokerSettings("localhost", 1883, service, ingester).to_json() | change
    (tmp_path / "broker.json").write_text(json.dumps(document))
    with pytest.raises(BrokerSettingsError, match=str(tmp_path)) as error:
        load_broker_settings(tmp_path)
    assert problem in str(error.value)


def test_the_service_never_treats_its_own_accounts_as_devices(
    dynsec_broker: SecuredBroker,
) -> None:
    with BrokerControl(dynsec_broker.settings) as control:
        for account in (dynsec_broker.settings.service, dynsec_broker.settings.ingester):
            with pytest.raises(BrokerControlError, match="the service's own account"):
                control.ensure_device("lib-a", "jk-x", account.username, "pw")
            with pytest.raises(BrokerControlError, match="the service's own account"):
                control.remove_device("lib-a", "jk-x", account.username)
