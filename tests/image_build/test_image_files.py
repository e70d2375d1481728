"""The files the image build puts into the root filesystem, checked without building it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from device.config import load_config
from tests.image_build import IMAGE_BUILD, load

FILES = IMAGE_BUILD / "files"
rootfs = load("rootfs")


def test_the_default_configuration_is_the_kiosk_hardware_without_a_tenant() -> None:
    config = load_config(FILES / "etc/jukebox/jukebox.toml")
    assert (config.display.driver, config.display.interface) == ("ssd1306", "i2c")
    assert (config.display.i2c_port, config.display.i2c_address) == (1, 0x3C)
    assert [b.pin for b in config.buttons] == [17, 27, 22]
    assert config.rotary is not None and (config.rotary.pin_a, config.rotary.pin_b) == (5, 6)
    assert config.tenant is None
    assert str(config.device.state_dir) == "/var/lib/jukebox"


@pytest.mark.parametrize(
    "script",
    [
        "etc/initramfs-tools/hooks/jukebox-modules",
        "etc/initramfs-tools/hooks/jukebox-grow-data",
        "etc/initramfs-tools/scripts/local-premount/jukebox-grow-data",
    ],
)
def test_initramfs_scripts_are_executable_and_parse(script: str) -> None:
    path = FILES / script
    assert os.access(path, os.X_OK)
    subprocess.run(["sh", "-n", str(path)], check=True)
    assert subprocess.run([str(path), "prereqs"], capture_output=True, check=True).stdout == b"\n"


def test_the_root_is_read_only_and_what_changes_is_in_ram_or_on_the_data_partition() -> None:
    mounts = {
        fields[1]: fields
        for line in (FILES / "etc/fstab").read_text().splitlines()
        if line.strip() and not line.startswith("#")
        for fields in [line.split()]
    }
    assert mounts["/"][0] == "LABEL=RASPIROOT" and "ro" in mounts["/"][3].split(",")
    assert mounts["/boot/firmware"][:3] == ["LABEL=RASPIFIRM", "/boot/firmware", "vfat"]
    assert mounts["/var/lib/jukebox"][0] == "LABEL=JUKEBOX-DATA"
    assert "x-systemd.growfs" in mounts["/var/lib/jukebox"][3]
    for volatile in ("/tmp", "/var/tmp", "/var/log", "/var/lib/systemd"):
        assert mounts[volatile][2] == "tmpfs"
    journald = (FILES / "etc/systemd/journald.conf.d/jukebox.conf").read_text()
    assert "Storage=volatile" in journald
    assert (FILES / "etc/default/raspi-extra-cmdline").read_text() == "ro\n"  # one line


def test_the_boot_partition_settings_follow_debians_raspi_recipe() -> None:
    settings = (FILES / "etc/default/raspi-firmware").read_text()
    assert 'ROOTPART="LABEL=RASPIROOT"' in settings
    assert 'CONSOLES="ttyS1,115200 tty1"' in settings
    custom = (FILES / "etc/default/raspi-firmware-custom").read_text()
    assert "dtparam=i2c_arm=on" in custom and "dtparam=audio=on" in custom


def test_mmdebstrap_installs_a_lean_bookworm_and_calls_back_into_the_build(
    tmp_path: Path,
) -> None:
    command = rootfs.mmdebstrap_command(tmp_path / "root", tmp_path / "settings.json", None)
    assert "--variant=minbase" in command
    assert "--aptopt=APT::Install-Recommends false" in command
    included = next(a for a in command if a.startswith("--include=")).split("=", 1)[1]
    for package in ("linux-image-arm64", "raspi-firmware", "firmware-brcm80211", "libmpv2"):
        assert package in included.split(",")
    assert "bookworm" in command and str(tmp_path / "root") in command
    hooks = [a for a in command if a.startswith("--customize-hook=")]
    assert hooks and "rootfs.py customize" in hooks[-1]
    assert rootfs.mmdebstrap_env()["INITRD"] == "No"  # the one initramfs comes at the end


def test_the_project_units_are_what_the_build_installs() -> None:
    units = sorted((IMAGE_BUILD.parent / "systemd").glob("*.service"))
    assert "jukebox.service" in [u.name for u in units]
    for unit in units:
        assert "/opt/jukebox/venv/bin/jukebox" in unit.read_text()  # rootfs.VENV
    assert rootfs.VENV == "/opt/jukebox/venv"
