"""The image build's assembly, run on a tiny root filesystem: the same code as the real build.

Three folders become a disk image (sfdisk on a file, mkfs.vfat + mcopy, mke2fs -d, dd); the
image is then read back with the tools a technician would use (sfdisk --json, mtools,
debugfs) and with provisioning's own partition reader.
"""

from __future__ import annotations

import json
import os
import subprocess
from itertools import pairwise
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from contract.layout import BOOT_LABEL, DEFAULT_STATE_DIR, NETWORK_FILE
from provisioning.fatfs import read_file
from provisioning.partitions import find_boot_partition
from tests.image_build import IMAGE_BUILD, load

assemble = load("assemble")
MIB = 1 << 20
CMDLINE = "console=ttyS1,115200 console=tty1 root=LABEL=RASPIROOT rw rootwait ro\n"


def tool(*args: str | Path) -> str:
    return tool_bytes(*args).decode()


def tool_bytes(*args: str | Path) -> bytes:
    env = {**os.environ, "MTOOLSRC": "/dev/null", "MTOOLS_SKIP_CHECK": "1", "LC_ALL": "C"}
    env["PATH"] = env.get("PATH", "") + ":/usr/sbin:/sbin"
    result = subprocess.run(
        [str(a) for a in args], capture_output=True, env=env, timeout=60, check=True
    )
    return result.stdout


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("tree")
    boot, root, data = base / "boot", base / "root", base / "data"
    (boot / "overlays").mkdir(parents=True)
    (boot / "config.txt").write_text("arm_64bit=1\ndtparam=i2c_arm=on\ndtparam=audio=on\n")
    (boot / "cmdline.txt").write_text(CMDLINE)
    (boot / "overlays" / "README").write_text("device tree overlays\n")
    (boot / "vmlinuz-6.1.0-test").write_bytes(os.urandom(256 * 1024))
    for folder in ("etc/jukebox", "boot/firmware", "var/lib/jukebox", "usr/bin"):
        (root / folder).mkdir(parents=True)
    (root / "etc/hostname").write_text("jukebox\n")
    (root / "etc/fstab").write_text((IMAGE_BUILD / "files/etc/fstab").read_text())
    (root / "etc/jukebox/jukebox.toml").write_text("[device]\nname = 'test'\n")
    (root / "etc/shadow").write_text("root:*:19000:0:99999:7:::\n")
    (root / "etc/shadow").chmod(0o640)
    (root / "usr/bin/python3").symlink_to("python3.11")
    (data / "network").mkdir(parents=True)
    (data / "network").chmod(0o700)
    data.chmod(0o700)
    if os.geteuid() == 0:  # the real build runs as root and keeps the jukebox user's files
        os.chown(data, 999, 999)
    return {"boot": boot, "root": root, "data": data}


@pytest.fixture(scope="module")
def image(folders: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    layout = assemble.plan_layout(folders["root"], boot_mib=16, data_mib=8)
    out = tmp_path_factory.mktemp("image") / "tiny.img"
    assemble.assemble_image(
        out,
        boot_dir=folders["boot"],
        root_dir=folders["root"],
        data_dir=folders["data"],
        layout=layout,
    )
    return out


def partitions(image: Path) -> list[dict[str, Any]]:
    table = json.loads(tool("sfdisk", "--json", image))["partitiontable"]
    assert table["label"] == "dos"  # the Pi 3 and Zero 2 W boot only from an MBR
    parts: list[dict[str, Any]] = table["partitions"]
    return parts


def extract(image: Path, number: int, into: Path) -> Path:
    part = partitions(image)[number - 1]
    target = into / f"part{number}.img"
    with image.open("rb") as src, target.open("wb") as dst:
        src.seek(part["start"] * 512)
        dst.write(src.read(part["size"] * 512))
    return target


def debugfs(filesystem: Path, request: str) -> str:
    return tool("debugfs", "-R", request, filesystem)


def test_the_image_has_boot_root_and_data_partitions_in_that_order(image: Path) -> None:
    parts = partitions(image)
    assert [p["type"] for p in parts] == ["c", "83", "83"]
    assert parts[0]["start"] * 512 == 4 * MIB  # as in Debian's raspi images
    assert parts[0]["size"] * 512 == 16 * MIB
    for before, after in pairwise(parts):
        assert after["start"] == before["start"] + before["size"]  # no gaps, no overlaps
    # The data partition is last and the image ends with it: first boot grows it into the card.
    assert (parts[2]["start"] + parts[2]["size"]) * 512 == image.stat().st_size


def test_the_image_is_sparse(image: Path) -> None:
    assert os.stat(image).st_blocks * 512 < image.stat().st_size


def test_the_boot_partition_is_fat_labelled_raspifirm_with_the_boot_files(
    image: Path, folders: dict[str, Path]
) -> None:
    drive = f"{image}@@{4 * MIB}"
    assert "RASPIFIRM" in tool("mlabel", "-s", "-i", drive, "::")
    listing = tool("mdir", "-b", "-/", "-i", drive, "::/")
    names = {line.rstrip("/").removeprefix("::/") for line in listing.split()}
    assert {"config.txt", "cmdline.txt", "overlays", "overlays/README", "vmlinuz-6.1.0-test"} <= (
        names
    )
    assert tool("mtype", "-i", drive, "::/cmdline.txt") == CMDLINE
    kernel = tool_bytes("mtype", "-i", drive, "::/vmlinuz-6.1.0-test")
    assert kernel == (folders["boot"] / "vmlinuz-6.1.0-test").read_bytes()


def test_provisioning_finds_and_reads_the_boot_partition_of_a_built_image(image: Path) -> None:
    boot = find_boot_partition(image)
    assert (boot.number, boot.label, boot.offset) == (1, BOOT_LABEL, 4 * MIB)
    config = read_file(image, boot, PurePosixPath("config.txt"))
    assert config is not None and b"dtparam=i2c_arm=on" in config


def test_the_root_partition_is_ext4_labelled_raspiroot_with_the_tree(
    image: Path, tmp_path: Path
) -> None:
    root = extract(image, 2, tmp_path)
    stats = debugfs(root, "stats")
    assert "Filesystem volume name:   RASPIROOT" in stats
    assert "has_journal" in stats and "extent" in stats
    assert debugfs(root, "cat /etc/hostname") == "jukebox\n"
    assert "LABEL=JUKEBOX-DATA" in debugfs(root, "cat /etc/fstab")
    listing = debugfs(root, "ls -l /etc")
    assert "hostname" in listing and "jukebox" in listing
    shadow = debugfs(root, "stat /etc/shadow")
    assert "Mode:  0640" in shadow
    assert 'Fast link dest: "python3.11"' in debugfs(root, "stat /usr/bin/python3")
    for mount_point in ("/boot/firmware", "/var/lib/jukebox"):
        assert "Type: directory" in debugfs(root, f"stat {mount_point}")
    tool("e2fsck", "-fn", root)  # a clean filesystem


def test_the_data_partition_belongs_to_the_jukebox_user_and_keeps_network_root_only(
    image: Path, tmp_path: Path
) -> None:
    data = extract(image, 3, tmp_path)
    assert "Filesystem volume name:   JUKEBOX-DATA" in debugfs(data, "stats")
    top = debugfs(data, "stat /")
    assert "Mode:  0700" in top
    if os.geteuid() == 0:
        assert "User:   999   Group:   999" in top
    network = debugfs(data, "stat /network")
    assert "Mode:  0700" in network and "User:     0   Group:     0" in network
    tool("e2fsck", "-fn", data)


def test_a_total_size_too_small_for_the_root_is_refused_with_the_size_needed(
    folders: dict[str, Path],
) -> None:
    with pytest.raises(assemble.AssemblyError, match=r"use a size of at least \d+ MiB"):
        assemble.plan_layout(folders["root"], boot_mib=16, data_mib=8, total_mib=30)


def test_a_given_total_size_goes_to_the_root_partition(folders: dict[str, Path]) -> None:
    layout = assemble.plan_layout(folders["root"], boot_mib=16, data_mib=8, total_mib=2048)
    assert (layout.boot_mib, layout.data_mib) == (16, 8)
    assert layout.total_bytes == 2048 * MIB


def test_boot_files_that_do_not_fit_are_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    (tmp_path / "boot").mkdir()
    (tmp_path / "boot" / "kernel").write_bytes(b"\0" * (5 * MIB))
    with pytest.raises(assemble.AssemblyError, match="does not fit a 4 MiB boot partition"):
        assemble.make_fat(tmp_path / "boot.vfat", tmp_path / "boot", 4, "RASPIFIRM")


def test_the_image_and_provisioning_agree_on_labels_and_paths() -> None:
    assert assemble.BOOT_LABEL == BOOT_LABEL
    fstab = (IMAGE_BUILD / "files/etc/fstab").read_text()
    assert f"LABEL={assemble.DATA_LABEL}  {DEFAULT_STATE_DIR} " in fstab
    dropin = IMAGE_BUILD / "files/etc/systemd/system/wpa_supplicant@wlan0.service.d/jukebox.conf"
    assert f"-c{DEFAULT_STATE_DIR}/{NETWORK_FILE.replace('wlan0', '%I')}" in dropin.read_text()
