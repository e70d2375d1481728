"""Reading `rauc status`: each slot's installed version must reach the report.

RAUC (1.8, src/main.c) prints a slot's ``slot_status`` (the bundle installed there, with its
version) only with ``--detailed``. The real command needs RAUC's D-Bus service and a booted
A/B system, so here a stand-in executable answers as RAUC does, from JSON captured in the
format of RAUC's source; the real one runs in image-build/ota-test (docs/image.md).
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

from device.update.rauc import RaucUpdater, Slot

SLOT_A = {
    "class": "rootfs",
    "device": "/dev/disk/by-partuuid/6a756b65-02",
    "type": "ext4",
    "bootname": "A",
    "state": "inactive",
    "boot_status": "good",
}
SLOT_B = {**SLOT_A, "device": "/dev/disk/by-partuuid/6a756b65-03", "bootname": "B"}
DETAILED_B = {
    **SLOT_B,
    "state": "booted",
    "slot_status": {
        "bundle": {"compatible": "jukebox-ota-rpi-arm64", "version": "9999.0"},
        "installed": {"timestamp": "2026-12-06T12:00:00Z", "count": 1},
        "status": "ok",
    },
}


def fake_rauc(tmp_path: Path) -> Path:
    booted_b = {**SLOT_B, "state": "booted"}
    plain = {"compatible": "jukebox-ota-rpi-arm64", "booted": "B",
             "slots": [{"rootfs.0": SLOT_A}, {"rootfs.1": booted_b}]}  # fmt: skip
    detailed = {**plain, "slots": [{"rootfs.0": SLOT_A}, {"rootfs.1": DETAILED_B}]}
    script = tmp_path / "rauc"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> {tmp_path / "calls"}\n'
        'case " $* " in\n'
        f"  *' --detailed '*) echo '{json.dumps(detailed)}' ;;\n"
        f"  *) echo '{json.dumps(plain)}' ;;\n"
        "esac\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_each_slots_installed_version_is_read(tmp_path: Path) -> None:
    updater = RaucUpdater(keyring=tmp_path / "ca.pem", rauc=str(fake_rauc(tmp_path)))
    slots = updater.slots()
    assert slots.booted == "B"
    assert slots.slots == (Slot("A", None, "inactive good"), Slot("B", "9999.0", "booted good"))
    assert "--detailed" in (tmp_path / "calls").read_text().split()
