"""The initramfs's jukebox-grow-data: grows the data partition once, and flags its file
system for systemd-growfs only on a boot that needs it (issue 17: no growfs process, which the
kiosk's start waits for, at every boot).

The script runs for real (sh), against a stand-in for the kernel's sysfs and for the three
programs it calls (udevadm, sfdisk, klibc's fstype); the boot test runs it in the image.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.image_build import IMAGE_BUILD

SCRIPT = IMAGE_BUILD / "files/etc/initramfs-tools/scripts/local-premount/jukebox-grow-data"
DROP_IN = IMAGE_BUILD / "files/etc/systemd/system/systemd-growfs@var-lib-jukebox.service.d"
MIB = 2048  # 512-byte sectors
START = 3_432_448  # the data partition's first sector in the image (assemble.py)

FAKE_SFDISK = """#!/bin/sh
# sfdisk -N 4 /dev/vda, reading ", +": the partition now ends with the disk.
echo "$*" >> "$FAKE/sfdisk.calls"
cat > /dev/null
echo $(( $(cat "$FAKE/sys/devices/vda/size") - $(cat "$FAKE/sys/devices/vda/vda4/start") )) \
    > "$FAKE/sys/devices/vda/vda4/size"
"""
FAKE_FSTYPE = """#!/bin/sh
[ -s "$FAKE/fs_bytes" ] || exit 1
echo FSTYPE=ext4
echo "FSSIZE=$(cat "$FAKE/fs_bytes")"
"""


@dataclass
class Card:
    root: Path

    def boot(self) -> str:
        env = {
            **os.environ,
            "PATH": f"{self.root / 'bin'}:{os.environ['PATH']}",
            "FAKE": str(self.root),
            "JUKEBOX_SYS": str(self.root / "sys"),
            "JUKEBOX_DEV": str(self.root / "dev"),
            "JUKEBOX_RUN": str(self.root / "run"),
            "JUKEBOX_FUNCTIONS": str(self.root / "functions"),
        }
        result = subprocess.run(["sh", str(SCRIPT)], env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return result.stdout

    @property
    def grown_by_sfdisk(self) -> list[str]:
        calls = self.root / "sfdisk.calls"
        return calls.read_text().splitlines() if calls.exists() else []

    @property
    def flagged(self) -> bool:
        return (self.root / "run/jukebox-data-grow").exists()

    @property
    def partition_mib(self) -> int:
        return int((self.root / "sys/devices/vda/vda4/size").read_text()) // MIB


def card(tmp_path: Path, *, partition_mib: int, card_mib: int, fs_mib: int | None) -> Card:
    """A card of `card_mib` whose data partition (vda4, the last) has `partition_mib` and a
    file system of `fs_mib` (None: unreadable)."""
    disk = tmp_path / "sys/devices/vda"
    (disk / "vda4").mkdir(parents=True)
    (disk / "size").write_text(f"{card_mib * MIB}\n")
    for name, value in (("partition", 4), ("start", START), ("size", partition_mib * MIB)):
        (disk / "vda4" / name).write_text(f"{value}\n")
    block = tmp_path / "sys/class/block"
    block.mkdir(parents=True)
    (block / "vda").symlink_to("../../devices/vda")
    (block / "vda4").symlink_to("../../devices/vda/vda4")
    (tmp_path / "dev/disk/by-label").mkdir(parents=True)
    (tmp_path / "dev/disk/by-label/JUKEBOX-DATA").symlink_to("../../vda4")
    (tmp_path / "run").mkdir()
    (tmp_path / "fs_bytes").write_text("" if fs_mib is None else f"{fs_mib << 20}")
    (tmp_path / "functions").write_text(
        'log_begin_msg() { echo "begin: $*"; }\nlog_end_msg() { :; }\n'
        'log_warning_msg() { echo "warning: $*"; }\n'
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("sfdisk", FAKE_SFDISK), ("fstype", FAKE_FSTYPE),
                       ("udevadm", "#!/bin/sh\nexit 0\n")):  # fmt: skip
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    return Card(tmp_path)


def test_a_new_card_grows_its_partition_and_flags_its_file_system(tmp_path: Path) -> None:
    new = card(tmp_path, partition_mib=32, card_mib=START // MIB + 32 + 1024, fs_mib=32)
    out = new.boot()
    assert new.grown_by_sfdisk == [f"--quiet -N 4 {tmp_path}/dev/vda"]
    assert new.partition_mib == 32 + 1024
    assert new.flagged
    assert "now 1056 MiB" in out and "1024 MiB smaller" in out


def test_a_boot_cut_short_after_the_partition_grew_still_grows_the_file_system(
    tmp_path: Path,
) -> None:
    cut = card(tmp_path, partition_mib=1056, card_mib=START // MIB + 1056, fs_mib=32)
    cut.boot()
    assert cut.grown_by_sfdisk == []
    assert cut.flagged


def test_an_everyday_boot_changes_nothing_and_starts_no_growfs(tmp_path: Path) -> None:
    grown = card(tmp_path, partition_mib=1056, card_mib=START // MIB + 1056, fs_mib=1056)
    assert grown.boot() == ""
    assert grown.grown_by_sfdisk == [] and not grown.flagged


@pytest.mark.parametrize("fs_mib", [None, 1050])
def test_an_unreadable_or_nearly_whole_file_system(tmp_path: Path, fs_mib: int | None) -> None:
    """Unreadable: systemd-growfs decides; within 16 MiB of its partition: left alone."""
    known = card(tmp_path, partition_mib=1056, card_mib=START // MIB + 1056, fs_mib=fs_mib)
    known.boot()
    assert known.flagged == (fs_mib is None)


def test_the_flag_is_the_growfs_units_condition() -> None:
    drop_in = (DROP_IN / "jukebox.conf").read_text()
    assert "ConditionPathExists=/run/jukebox-data-grow" in drop_in.splitlines()
    assert "jukebox-data-grow" in SCRIPT.read_text()
    # the unit systemd's fstab generator makes for the x-systemd.growfs line of etc/fstab
    fstab = (IMAGE_BUILD / "files/etc/fstab").read_text()
    assert any(
        line.split()[1:2] == ["/var/lib/jukebox"] and "x-systemd.growfs" in line
        for line in fstab.splitlines()
        if line.strip() and not line.startswith("#")
    )
    unit = subprocess.run(
        ["systemd-escape", "--path", "--template=systemd-growfs@.service", "/var/lib/jukebox"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert DROP_IN.name == f"{unit}.d"
