"""`jukebox tenant broker-setup` writes a broker that runs as written and that the service
finds through its data directory."""

from __future__ import annotations

import getpass
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jukebox.cli import main
from tenant.broker.control import BrokerControl
from tenant.broker.process import free_port
from tenant.broker.settings import BrokerSettings, load_broker_settings
from tests.support.broker import MqttProbe

DEVICE = "jk-bbbbbbbbbbbbbbbbbbbb"


@pytest.fixture
def written(tmp_path: Path) -> Iterator[BrokerSettings]:
    """The setup written by the command, run with its own mosquitto.conf."""
    port = free_port()
    argv = ["tenant", "broker-setup", "--data", str(tmp_path / "data"), "--output",
            str(tmp_path / "broker"), "--port", str(port), "--bind", "127.0.0.1",
            "--host", "localhost", "--tls-host", "localhost"]  # fmt: skip
    if os.geteuid() == 0:
        argv += ["--user", getpass.getuser()]
    assert main(argv) == 0
    settings = load_broker_settings(tmp_path / "data")
    assert settings is not None
    log = (tmp_path / "mosquitto.log").open("wb")
    process = subprocess.Popen(
        ["mosquitto", "-c", str(tmp_path / "broker" / "mosquitto.conf")], stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
        yield settings
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def test_the_written_setup_records_how_to_reach_the_broker(
    tmp_path: Path, written: BrokerSettings
) -> None:
    assert written.tls and written.ca_file == tmp_path / "broker" / "tls" / "ca.pem"
    assert (tmp_path / "data" / "broker.json").stat().st_mode & 0o077 == 0
    assert (tmp_path / "broker" / "dynamic-security.json").stat().st_mode & 0o077 == 0


def test_the_service_account_manages_devices_on_the_written_broker(
    written: BrokerSettings,
) -> None:
    with BrokerControl(written) as control:
        assert control.wait_connected(5)
        control.ensure_device("lib-a", DEVICE, DEVICE, "device-secret")
        control.publish_desired("lib-a", DEVICE, {"v": 1, "version": 1, "playlists": []})
    device = MqttProbe(
        written.host, written.port, username=DEVICE, password="device-secret",
        client_id=DEVICE, ca_file=written.ca_file,
    )  # fmt: skip
    assert not device.connect().is_failure
    assert not device.subscribe(f"jk/v1/lib-a/{DEVICE}/state/desired").is_failure
    assert device.receive().retain
    device.close()


def test_everyone_else_is_refused_on_the_written_broker(written: BrokerSettings) -> None:
    anonymous = MqttProbe(written.host, written.port, client_id="anyone", ca_file=written.ca_file)
    assert anonymous.connect().is_failure
    anonymous.close()
    ingester = MqttProbe(
        written.host, written.port, username=written.ingester.username,
        password=written.ingester.password, client_id="ingest-1", ca_file=written.ca_file,
    )  # fmt: skip
    assert not ingester.connect().is_failure
    assert ingester.publish(f"jk/v1/lib-a/{DEVICE}/state/desired", b"{}").value == 0x87
    assert ingester.subscribe("$CONTROL/dynamic-security/#").value == 0x87
    ingester.close()
