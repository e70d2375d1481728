"""The files the image build puts into the root filesystem, checked without building it."""

from __future__ import annotations

import fnmatch
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
    assert (config.gpio.pin_factory, config.gpio.chip) == ("gpiod", "auto")  # no /dev/gpiomem


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
    assert mounts["/var/log/journal"][0].startswith("/var/lib/jukebox/")  # tests below
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
    if rootfs.MERGED_USR_HOOKS.is_dir():  # no usrmerge, so no Perl
        assert f"--hook-dir={rootfs.MERGED_USR_HOOKS}" in command
    hooks = [a for a in command if a.startswith("--customize-hook=")]
    assert hooks and "rootfs.py customize" in hooks[-1]
    assert rootfs.mmdebstrap_env()["INITRD"] == "No"  # the one initramfs comes at the end


def test_the_project_units_are_what_the_build_installs() -> None:
    units = sorted((IMAGE_BUILD.parent / "systemd").glob("*.service"))
    assert "jukebox.service" in [u.name for u in units]
    for unit in units:
        if "jukebox " in unit.read_text():  # the units that run the project's command
            assert "/opt/jukebox/venv/bin/jukebox " in unit.read_text()  # rootfs.VENV
    assert rootfs.VENV == "/opt/jukebox/venv"


def dpkg_unpacks(path: str) -> bool:
    """dpkg's rule: the last --path-exclude/--path-include pattern matching `path` decides
    (fnmatch, where * also matches /); includes come after excludes in the command."""
    verdict = True
    for pattern in rootfs.DPKG_EXCLUDES:
        if fnmatch.fnmatchcase(path, pattern):
            verdict = False
    for pattern in rootfs.DPKG_INCLUDES:
        if fnmatch.fnmatchcase(path, pattern):
            verdict = True
    return verdict


KERNEL = "/lib/modules/6.1.0-57-arm64/kernel"


@pytest.mark.parametrize(
    "path",
    [
        f"{KERNEL}/drivers/mmc/host/sdhci-iproc.ko",  # the SD card, and what it waits for
        f"{KERNEL}/drivers/regulator/gpio-regulator.ko",
        f"{KERNEL}/drivers/gpio/gpio-raspberrypi-exp.ko",
        f"{KERNEL}/drivers/pinctrl/bcm/pinctrl-bcm2835.ko",
        f"{KERNEL}/drivers/dma/bcm2835-dma.ko",
        f"{KERNEL}/fs/ext4/ext4.ko",
        f"{KERNEL}/fs/fat/vfat.ko",
        f"{KERNEL}/fs/nls/nls_cp437.ko",
        f"{KERNEL}/fs/exfat/exfat.ko",  # technicians' USB sticks (docs/usb.md)
        f"{KERNEL}/drivers/usb/storage/uas.ko",
        f"{KERNEL}/drivers/scsi/sd_mod.ko",  # USB sticks
        f"{KERNEL}/drivers/usb/storage/usb-storage.ko",
        f"{KERNEL}/drivers/net/wireless/broadcom/brcm80211/brcmfmac/brcmfmac.ko",
        f"{KERNEL}/drivers/net/ethernet/broadcom/genet/genet.ko",
        f"{KERNEL}/drivers/staging/vc04_services/bcm2835-audio/snd-bcm2835.ko",
        f"{KERNEL}/drivers/i2c/busses/i2c-bcm2835.ko",
        f"{KERNEL}/sound/usb/snd-usb-audio.ko",
        f"{KERNEL}/drivers/media/mc/mc.ko",  # snd-usb-audio does not load without it
        "/usr/lib/linux-image-6.1.0-57-arm64/broadcom/bcm2711-rpi-4-b.dtb",
        "/usr/lib/linux-image-6.1.0-57-arm64/broadcom/bcm2837-rpi-zero-2-w.dtb",
        "/usr/lib/aarch64-linux-gnu/libGL.so.1.7.0",
        "/usr/share/doc/libmpv2/copyright",
    ],
)
def test_what_a_pi_kiosk_boots_and_plays_with_is_unpacked(path: str) -> None:
    assert dpkg_unpacks(path)


@pytest.mark.parametrize(
    "path",
    [
        f"{KERNEL}/drivers/net/wireless/realtek/rtw88/rtw88_core.ko",
        f"{KERNEL}/drivers/scsi/lpfc/lpfc.ko",
        f"{KERNEL}/fs/btrfs/btrfs.ko",
        f"{KERNEL}/net/netfilter/nf_tables.ko",
        f"{KERNEL}/sound/pci/hda/snd-hda-intel.ko",
        "/usr/lib/linux-image-6.1.0-57-arm64/qcom/sc8280xp-lenovo-thinkpad-x13s.dtb",
        "/usr/lib/aarch64-linux-gnu/dri/vc4_dri.so",
        "/usr/share/X11/xkb/symbols/fr",
        "/usr/share/doc/libmpv2/changelog.gz",
    ],
)
def test_what_no_pi_kiosk_uses_is_left_out(path: str) -> None:
    assert not dpkg_unpacks(path)


def test_the_image_has_what_rauc_info_runs() -> None:
    """`rauc info` extracts a plain bundle's manifest with unsquashfs: without squashfs-tools
    every bundle is refused on the kiosk (found by image-build/ota-test)."""
    assert "squashfs-tools" in rootfs.PACKAGES and "rauc" in rootfs.PACKAGES
