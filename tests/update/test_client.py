"""The kiosk side end to end, short of `rauc install` and the reboot: the desired state's
`firmware` entry through remote administration, the download over real HTTP with the sync's
downloader, the root installer verifying a real bundle with rauc, the reboot gate armed, and
the reports; refusals are reported and not retried."""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from collections.abc import Iterator, Mapping
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from contract.protocol import encode
from device.journal.outbox import PlayJournal
from device.platform.info import boot_id
from device.update import status
from device.update.client import CHECK_S, UpdateClient
from device.update.installer import run_install
from device.update.moment import RebootGate
from device.update.rauc import RaucUpdater
from device.update.target import FirmwareTarget
from device.update.versions import BundleInfo
from tests.remote.support import RemoteRig
from tests.update.conftest import COMPATIBLE, make
from tests.update.fakes import FakeUpdater

pytestmark = pytest.mark.skipif(shutil.which("rauc") is None, reason="apt-get install rauc")


class Http:
    """The TenantHttp port over plain requests (the real session adds a token)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def get(
        self, path: str, *, headers: Mapping[str, str] | None = None, stream: bool = False,
        timeout: float = 30.0,
    ) -> requests.Response:  # fmt: skip
        return requests.get(self.base_url + path, headers=headers, stream=stream, timeout=timeout)


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder served over HTTP at /v1/firmware/."""
    folder = tmp_path / "www"
    (folder / "v1/firmware").mkdir(parents=True)
    handler = partial(QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder / "v1/firmware", f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class RealInspect(FakeUpdater):
    """rauc itself verifies and reads the bundle; only installing is left out (ota-test)."""

    def __init__(self, keyring: Path) -> None:
        super().__init__()
        self.rauc = RaucUpdater(keyring)

    def inspect(self, bundle: Path) -> BundleInfo:
        info = self.rauc.inspect(bundle)
        self.info = info
        return info


def publish(folder: Path, bundle: Path) -> FirmwareTarget:
    data = bundle.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    shutil.copy(bundle, folder / sha)
    return FirmwareTarget("0.2.0", f"/v1/firmware/{sha}", sha, len(data))  # type: ignore[arg-type]


def client_for(
    state: Path, url: str, reboots: list[str], this_boot: str | None = None
) -> UpdateClient:
    gate = RebootGate(lambda: reboots.append("reboot"))
    return UpdateClient(
        state, lambda: Http(url), gate, running="0.1.0", runtime_dir=state / "run",
        tenant_up=lambda: True, mqtt_up=lambda: False, rate_bytes_s=1 << 30,
        this_boot=(lambda: this_boot) if this_boot else boot_id,
    )  # fmt: skip


def test_a_bundle_is_downloaded_verified_installed_and_the_reboot_waits_for_the_gate(
    tmp_path: Path, served: tuple[Path, str], keys: dict[str, Path], root: Path
) -> None:
    folder, url = served
    target = publish(folder, make(tmp_path / "b.raucb", root, keys))
    state, reboots = tmp_path / "state", list[str]()
    client = client_for(state, url, reboots)
    client.set_target(target)
    client.step()
    request = json.loads((state / "update/request.json").read_text())
    assert request["version"] == "0.2.0" and request["sha256"] == target.sha256
    downloaded = (state / "update" / request["bundle"]).read_bytes()
    assert downloaded == (folder / target.sha256).read_bytes()
    assert client.report()["phase"] == "downloaded"
    assert json.loads((state / "run/health.json").read_text()) == {"mqtt": False, "tenant": True}

    updater = RealInspect(keys["ca.pem"])
    record = run_install(state, updater, compatible=COMPATIBLE, running="0.1.0")
    assert record["phase"] == "installed" and record["progress"] == 100
    assert not (state / "update/request.json").exists()
    assert updater.versions["B"] == "0.2.0"
    client.step()
    assert client.gate.armed and not reboots  # the reboot waits for the core's safe moment
    report = client.report()
    assert report["phase"] == "installed" and report["target"] == "0.2.0"
    encode("heartbeat", {"v": 1, "uptime_s": 1, "firmware_version": "0.1.0", "update": report})


def test_a_refused_bundle_is_reported_and_not_fetched_again(
    tmp_path: Path, served: tuple[Path, str], keys: dict[str, Path], root: Path
) -> None:
    folder, url = served
    target = publish(folder, make(tmp_path / "b.raucb", root, keys, tenant="shelbyville"))
    state = tmp_path / "state"
    client = client_for(state, url, [])
    client.set_target(target)
    client.step()
    record = run_install(state, RealInspect(keys["ca.pem"]), compatible=COMPATIBLE, running="0.1")
    assert record["phase"] == "refused" and "jukebox-shelbyville-rpi-arm64" in record["result"]
    (folder / target.sha256).unlink()  # a second download would now fail
    client.step()
    assert client.report()["phase"] == "refused"
    assert not (state / "update/request.json").exists()


def test_a_bundle_whose_bytes_differ_is_not_handed_to_the_installer(
    tmp_path: Path, served: tuple[Path, str], keys: dict[str, Path], root: Path
) -> None:
    folder, url = served
    target = publish(folder, make(tmp_path / "b.raucb", root, keys))
    path = folder / target.sha256
    path.write_bytes(path.read_bytes()[:-1] + b"\0")  # same size, another hash
    state = tmp_path / "state"
    client = client_for(state, url, [])
    client.set_target(target)
    client.step()
    assert not (state / "update/request.json").exists()
    report = client.report()
    assert report["phase"] == "failed" and "content hashes to" in report["result"]


def wish(**fields: Any) -> bytes:
    payload = {"v": 1, "version": 1, "playlists": ["festival", "local"], **fields}
    return json.dumps(payload).encode()


def firmware(**fields: Any) -> dict[str, Any]:
    return {"version": "0.2.0", "path": "/v1/firmware/" + "a" * 64, "sha256": "a" * 64,
            "size": 1000, **fields}  # fmt: skip


@pytest.fixture
def remote(tmp_path: Path, journal: PlayJournal) -> Iterator[tuple[RemoteRig, list[Any]]]:
    targets: list[Any] = []
    rig = RemoteRig(tmp_path, journal)
    rig.admin.close()
    rig.admin = rig.new_admin(
        firmware=targets.append,
        update_report=lambda: {"phase": "downloading", "target": "0.2.0", "progress": 40},
    )
    yield rig, targets
    rig.admin.close()


def test_the_desired_states_firmware_entry_reaches_the_update_client(
    remote: tuple[RemoteRig, list[Any]],
) -> None:
    rig, targets = remote
    rig.present = {"festival", "local"}
    rig.admin.on_desired(wish(firmware=firmware(allow_downgrade=True)))
    assert targets == [
        FirmwareTarget("0.2.0", "/v1/firmware/" + "a" * 64, "a" * 64, 1000, True)  # type: ignore[arg-type]
    ]
    reported = rig.publisher.reported[-1]
    assert reported["status"] == "applied"
    assert reported["update"] == {"phase": "downloading", "target": "0.2.0", "progress": 40}
    rig.admin.on_desired(json.dumps({**json.loads(wish()), "version": 2}).encode())
    assert targets[-1] is None  # no entry: keep the running firmware


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (firmware(sha256="A" * 64), "firmware.sha256"),
        (firmware(version="1.0-rc1"), "firmware.version"),
        (firmware(path="/v1/../../etc/passwd"), "firmware.path"),
        (firmware(size=0), "firmware.size"),
        ({"version": "0.2.0"}, "firmware"),
    ],
)
def test_a_bad_firmware_entry_rejects_the_desired_state_and_names_the_key(
    remote: tuple[RemoteRig, list[Any]], entry: dict[str, Any], problem: str
) -> None:
    rig, targets = remote
    rig.admin.on_desired(wish(firmware=entry))
    reported = rig.publisher.reported[-1]
    assert reported["status"] == "rejected" and problem in reported["problem"]
    assert targets == []


def test_after_the_switch_the_committed_version_is_not_installed_again(
    tmp_path: Path, served: tuple[Path, str], keys: dict[str, Path], root: Path
) -> None:
    folder, url = served
    target = publish(folder, make(tmp_path / "b.raucb", root, keys))
    state = tmp_path / "state"
    base = state / "update"
    status.write(base / status.INSTALL, {"phase": "installed", "target": "0.2.0", "seq": 4})
    slot_b = {"name": "B", "version": "0.2.0", "state": "booted"}
    committed = {"phase": "committed", "target": "0.2.0", "seq": 5, "committed": "B",
                 "booted": "B", "slots": [slot_b]}  # fmt: skip
    status.write(base / status.HEALTH, committed)
    client = client_for(state, url, [])  # the package inside may still say 0.1.0
    client.set_target(target)
    client.step()
    assert not client.gate.armed and not (base / status.REQUEST).exists()
    # the same bundle requested by hand is refused: it is the version the booted slot runs
    updater = RealInspect(keys["ca.pem"])
    updater.booted, updater.versions = "B", {"A": "0.1.0", "B": "0.2.0"}
    (base / "x.raucb").write_bytes((folder / target.sha256).read_bytes())
    status.write(base / status.REQUEST, {"version": "0.2.0", "bundle": "x.raucb", "seq": 6})
    record = run_install(state, updater, compatible=COMPATIBLE, running="0.1.0")
    assert record["phase"] == "refused" and "the same as the running 0.2.0" in record["result"]


def test_on_the_new_slot_before_the_gates_verdict_no_reboot_is_armed_again(
    tmp_path: Path, served: tuple[Path, str], keys: dict[str, Path], root: Path
) -> None:
    """QEMU good run (085a9d5): after the safe-moment reboot, slot B's daemon read the
    `installed` record (the gate had not judged it yet) and armed the reboot again. Outside
    opening hours that reboot comes at once, before the commit, and B (its one try spent)
    falls back to A: a night-time update could never succeed."""
    folder, url = served
    target = publish(folder, make(tmp_path / "b.raucb", root, keys))
    state = tmp_path / "state"
    base = state / "update"
    earlier = {"phase": "committed", "committed": "A", "booted": "A", "seq": 3, "install_seq": 2}
    status.write(base / status.HEALTH, earlier)  # the gate's last verdict, on slot A
    installed = {"phase": "installed", "target": "0.2.0", "seq": 4, "boot_id": "the-install-boot"}
    status.write(base / status.INSTALL, installed)
    reboots: list[str] = []
    client = client_for(state, url, reboots)
    client.set_target(target)
    client.step()
    assert not client.gate.armed and not (base / status.REQUEST).exists()
    # In the boot that installed it, the same record arms the reboot.
    same_boot = client_for(state, url, reboots, this_boot="the-install-boot")
    same_boot.set_target(target)
    same_boot.step()
    assert same_boot.gate.armed and not reboots


def test_a_rolled_back_version_is_not_tried_again(
    tmp_path: Path, served: tuple[Path, str], keys: dict[str, Path], root: Path
) -> None:
    folder, url = served
    target = publish(folder, make(tmp_path / "b.raucb", root, keys))
    state = tmp_path / "state"
    base = state / "update"
    status.write(base / status.INSTALL, {"phase": "installed", "target": "0.2.0", "seq": 4})
    rolled_back = {"phase": "rolled_back", "target": "0.2.0", "seq": 5, "committed": "A",
                   "result": "rolled back: no MQTT"}  # fmt: skip
    status.write(base / status.HEALTH, rolled_back)
    client = client_for(state, url, [])
    client.set_target(target)
    client.step()
    assert not client.gate.armed and not (base / status.REQUEST).exists()
    assert client.report()["phase"] == "rolled_back"


def test_an_install_that_ends_while_the_boot_s_health_gate_waits_is_not_requested_again(
    tmp_path: Path, served: tuple[Path, str], keys: dict[str, Path], root: Path
) -> None:
    """Found by ota-test: the card's first gate waited minutes for RAUC (busy installing) and
    wrote its verdict after the install record; the client took the install for an old one,
    downloaded and requested the same bundle again, and the safe-moment reboot came while
    RAUC was rewriting the slot."""
    folder, url = served
    target = publish(folder, make(tmp_path / "b.raucb", root, keys))
    state = tmp_path / "state"
    base = state / "update"
    status.write(base / status.INSTALL, {"phase": "installed", "target": "0.2.0", "seq": 5})
    late_verdict = {"committed": "A", "seq": 6, "install_seq": 4, "target": "0.2.0"}
    status.write(base / status.HEALTH, late_verdict)  # judged the install at seq 4 (installing)
    reboots: list[str] = []
    client = client_for(state, url, reboots)
    client.set_target(target)
    client.step()
    assert client.gate.armed and not (base / status.REQUEST).exists()
    assert client.report()["phase"] == "installed"
    # The tenant names another version: the slot will be rewritten, so no reboot into it now.
    client.set_target(FirmwareTarget("0.3.0", "/v1/firmware/none", "0" * 64, 10))  # type: ignore[arg-type]
    client.step()  # the download fails (nothing served there) but the gate is disarmed first
    assert not client.gate.armed and not reboots


class StatusTakesTime(RealInspect):
    """`rauc status` after the install is slow on a card (about 20 s under QEMU): the daemon's
    client looks in meanwhile, which `during` stands for."""

    def __init__(self, keyring: Path, during: Any) -> None:
        super().__init__(keyring)
        self.during = during

    def slots(self) -> Any:
        if self.installed and self.during is not None:
            during, self.during = self.during, None
            during()
        return super().slots()


def test_the_client_looking_in_while_the_installer_finishes_does_not_ask_again(
    tmp_path: Path, served: tuple[Path, str], keys: dict[str, Path], root: Path
) -> None:
    """Found by ota-test good: the installer removed the request before its `installed`
    record was written; the client saw neither, downloaded and asked again, and its reboot
    came in the middle of that second install."""
    folder, url = served
    target = publish(folder, make(tmp_path / "b.raucb", root, keys))
    state, reboots = tmp_path / "state", list[str]()
    base = state / "update"
    client = client_for(state, url, reboots)
    client.set_target(target)
    client.step()
    asked = json.loads((base / status.REQUEST).read_text())
    updater = StatusTakesTime(keys["ca.pem"], client.step)
    record = run_install(state, updater, compatible=COMPATIBLE, running="0.1.0")
    assert record["phase"] == "installed" and updater.during is None  # the client looked in
    assert not (base / status.REQUEST).exists()  # no second request, the first one done
    assert client.report()["phase"] != "downloading"
    client.step()
    assert client.gate.armed and not reboots
    assert asked["seq"] < record["seq"]


def test_the_client_stops_as_soon_as_it_is_woken_after_the_stop(tmp_path: Path) -> None:
    """The link sets its stop event, then wakes the client: no wait for the next look.

    Without the wake, `run` sleeps up to CHECK_S (5 s) and the link's join timed out first,
    holding a kiosk's shutdown for 5 s.
    """
    client = client_for(tmp_path, "http://127.0.0.1:9", [])
    stop = threading.Event()
    thread = threading.Thread(target=client.run, args=(stop,), daemon=True)
    thread.start()
    stop.set()
    client.wake()
    thread.join(timeout=CHECK_S / 2)
    assert not thread.is_alive()
