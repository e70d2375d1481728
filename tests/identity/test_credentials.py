"""Stored credentials: 0600, atomic, loaded at boot, the MQTT password never shown."""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path

import pytest

from device.identity.credentials import (
    CREDENTIALS_FILE,
    Credentials,
    MqttCredentials,
    load_credentials,
)

SECRET = "s3cr3t-mqtt-password"


def sample() -> Credentials:
    return Credentials(
        tenant_url="http://127.0.0.1:8000/t/mediatheques",
        device_id="jk-abcdefghijklmnopqrst",
        tenant_id="mediatheques",
        tenant_name="Médiathèques du Sud",
        site="carre-d-art",
        device_name="Kiosk by the window",
        mqtt=MqttCredentials("broker.example", 8883, True, "jk-abcdefghijklmnopqrst", SECRET),
    )


def test_credentials_round_trip_through_a_0600_file(tmp_path: Path) -> None:
    path = sample().save(tmp_path)
    assert path == tmp_path / CREDENTIALS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_credentials(tmp_path) == sample()
    assert sorted(p.name for p in tmp_path.iterdir()) == [CREDENTIALS_FILE]


def test_no_file_means_no_credentials(tmp_path: Path) -> None:
    assert load_credentials(tmp_path) is None


def test_the_mqtt_password_is_masked_in_repr_and_str() -> None:
    for text in (repr(sample()), str(sample()), repr(sample().mqtt), f"{sample()}"):
        assert SECRET not in text
        assert "password=***" in text


def test_a_corrupt_file_is_set_aside_with_a_warning_naming_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / CREDENTIALS_FILE
    for content in (b"{not json", b"[]", json.dumps({"format": 1, "device_id": 3}).encode()):
        path.write_bytes(content)
        with caplog.at_level(logging.WARNING):
            assert load_credentials(tmp_path) is None
        assert str(path) in caplog.text
        caplog.clear()


def test_a_file_readable_by_others_is_tightened(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = sample().save(tmp_path)
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        assert load_credentials(tmp_path) == sample()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "tightened" in caplog.text and SECRET not in caplog.text


def test_a_grant_without_a_device_name_or_broker_is_still_stored(tmp_path: Path) -> None:
    bare = Credentials(
        tenant_url="http://t/t/x",
        device_id="jk-x",
        tenant_id="x",
        tenant_name="",
        site="centre",
        device_name="",
        mqtt=None,
    )
    bare.save(tmp_path)
    assert load_credentials(tmp_path) == bare
