"""End to end, short of `rauc install` and the reboot (image-build/ota-test does those): the
tenant's rollout reaches the kiosk as the `firmware` entry of its retained desired state over
the real broker, the device's own code reads it (device/remote/desired.py), its update client
downloads the bundle from the real tenant with the kiosk's access token, the root installer
verifies it with the real `rauc info` against the release keyring and "installs" it with a
fake updater, and the kiosk's report comes back in `jukebox admin firmware status`."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import requests

from contract.protocol import encode
from device.remote.desired import firmware_from_payload
from device.update.client import UpdateClient
from device.update.installer import run_install
from device.update.moment import RebootGate
from device.update.rauc import RaucUpdater
from device.update.versions import BundleInfo
from tests.support.waiting import eventually
from tests.tenant.staff_support import call
from tests.tenant.test_admin_fleet import SLUG, Fleet, admin, fleet  # noqa: F401  (fixture)
from tests.tenant.test_firmware import release  # noqa: F401  (fixture)
from tests.update.fakes import FakeUpdater

pytestmark = pytest.mark.skipif(shutil.which("rauc") is None, reason="apt-get install rauc")


class TokenHttp:
    """The TenantHttp port with the kiosk's access token (the device's own session, which
    also renews the token, is tested against the real tenant in tests/tenant_api)."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.token = token

    def get(
        self, path: str, *, headers: Mapping[str, str] | None = None, stream: bool = False,
        timeout: float = 30.0,
    ) -> requests.Response:  # fmt: skip
        auth = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        return requests.get(self.base_url + path, headers=auth, stream=stream, timeout=timeout)


class RealInspect(FakeUpdater):
    """rauc itself verifies and reads the bundle; only installing is left out."""

    def __init__(self, keyring: Path) -> None:
        super().__init__()
        self.rauc = RaucUpdater(keyring)

    def inspect(self, bundle: Path) -> BundleInfo:
        self.info = self.rauc.inspect(bundle)
        return self.info


def test_a_rollout_reaches_the_kiosks_update_client_which_downloads_and_installs_it(
    fleet: Fleet,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    release: dict[str, Path],  # noqa: F811
    tmp_path: Path,
) -> None:
    service = fleet.service
    kiosk = fleet.kiosk("centre")
    side = fleet.connect(kiosk)
    token = kiosk.login()
    admin(service, capsys, "firmware", "keyring", str(release["ca"]))
    admin(service, capsys, "firmware", "upload", str(release["0.2.0"]))
    code, out, _ = admin(
        service, capsys, "firmware", "rollout", "0.2.0", "--devices", kiosk.device_id
    )
    assert code == 0, out

    target = firmware_from_payload(side.desired.get(timeout=5))  # the retained desired state
    assert target is not None and target.version == "0.2.0"
    state, reboots = tmp_path / "kiosk", list[str]()
    client = UpdateClient(
        state, lambda: TokenHttp(kiosk.tenant_url, token),
        RebootGate(lambda: reboots.append("reboot")), running="0.1.0",
        runtime_dir=state / "run", tenant_up=lambda: True, mqtt_up=lambda: True,
        rate_bytes_s=1 << 30,
    )  # fmt: skip
    client.set_target(target)
    client.step()
    assert client.report()["phase"] == "downloaded"
    cached = list((state / "update/cache").rglob("*"))
    files = [p for p in cached if p.is_file()]
    assert [hashlib.sha256(p.read_bytes()).hexdigest() for p in files] == [target.sha256]

    updater = RealInspect(release["ca"])
    record = run_install(state, updater, compatible="jukebox-lib-a-rpi-arm64", running="0.1.0")
    assert record["phase"] == "installed", record
    assert updater.versions["B"] == "0.2.0"
    client.step()
    assert client.gate.armed and not reboots  # the reboot waits for the core's safe moment

    report = client.report()
    heartbeat = {"v": 1, "uptime_s": 60, "firmware_version": "0.1.0", "update": report}
    encode("heartbeat", heartbeat)  # what the kiosk would publish: valid for the schema
    side.heartbeat(update=report, firmware_version="0.1.0")

    def shown() -> dict[str, Any] | None:
        status = call(service, "GET", "/v1/admin/firmware/status", service.admin_token(SLUG))
        found = [d for d in status.json()["devices"] if d["device_id"] == kiosk.device_id]
        return found[0] if found and found[0]["phase"] == "installed" else None

    device = eventually(shown)
    assert (device["running"], device["booted"], device["target"]) == ("0.1.0", "A", "0.2.0")
    assert {"name": "B", "version": "0.2.0", "state": "inactive"} in device["slots"]
    _, out, _ = admin(service, capsys, "firmware", "status")
    assert "0 committed, 0 rolled back or refused, 1 pending" in out
