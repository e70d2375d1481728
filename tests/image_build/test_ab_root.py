"""The root's A/B part (image-build/ab_root.py) on a fake tree shaped like raspi-firmware's
output, and the build's update options refused before anything long starts."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from tests.image_build import IMAGE_BUILD, load

ab_root = load("ab_root")
bootscript = load("bootscript")
builder = load("builder")
BuildError = sys.modules["progress"].BuildError  # the class ab_root and builder raise

CONFIG = """arm_64bit=1
enable_uart=1
upstream_kernel=1
kernel=vmlinuz-6.1.0-28-arm64
initramfs initrd.img-6.1.0-28-arm64 followkernel
dtparam=audio=on
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    firmware = root / "boot/firmware"
    firmware.mkdir(parents=True)
    (firmware / "config.txt").write_text(CONFIG)
    (firmware / "vmlinuz-6.1.0-28-arm64").write_bytes(b"kernel")
    (firmware / "initrd.img-6.1.0-28-arm64").write_bytes(b"initrd")
    (firmware / "bcm2710-rpi-3-b.dtb").write_bytes(b"dtb")
    uboot = root / ab_root.UBOOT
    uboot.parent.mkdir(parents=True)
    uboot.write_bytes(b"u-boot")
    return root


def test_each_slot_carries_its_kernel_and_the_fat_boots_u_boot(root: Path, tmp_path: Path) -> None:
    keyring = tmp_path / "ca.pem"
    keyring.write_text("-----BEGIN CERTIFICATE-----\n")
    said = ab_root.prepare(root, "jukebox-springfield-rpi-arm64", keyring)
    assert "kernel 6.1.0-28-arm64 in the slot" in said
    assert (root / "boot/vmlinuz").read_bytes() == b"kernel"
    assert (root / "boot/initrd.img").read_bytes() == b"initrd"
    firmware = root / "boot/firmware"
    assert not list(firmware.glob("vmlinuz-*")) and not list(firmware.glob("initrd.img-*"))
    assert (firmware / "u-boot.bin").read_bytes() == b"u-boot"
    assert bootscript.read_boot_scr((firmware / "boot.scr").read_bytes()).startswith("# Jukebox")
    config = (firmware / "config.txt").read_text()
    assert "kernel=u-boot.bin" in config and "arm_64bit=1" in config
    assert "initramfs" not in config and "vmlinuz" not in config
    conf = (root / "etc/rauc/system.conf").read_text()
    assert "compatible=jukebox-springfield-rpi-arm64" in conf
    assert (root / "etc/rauc/keyring.pem").read_text() == keyring.read_text()
    handler = root / ab_root.HANDLER
    assert handler.stat().st_mode & 0o111 and "-m device.update.bootstate" in handler.read_text()


def test_without_u_boot_the_build_stops_and_says_which_package(root: Path) -> None:
    (root / ab_root.UBOOT).unlink()
    with pytest.raises(BuildError, match="is u-boot-rpi among the packages"):
        ab_root.prepare(root)


def test_the_image_files_keep_rauc_data_and_feed_the_watchdog() -> None:
    tmpfiles = (IMAGE_BUILD / "files/etc/tmpfiles.d/jukebox-rauc.conf").read_text()
    assert "d /var/lib/jukebox/rauc" in tmpfiles
    assert "data-directory=/var/lib/jukebox/rauc" in bootscript.SYSTEM_CONF.read_text()
    watchdog = IMAGE_BUILD / "files/etc/systemd/system.conf.d/jukebox-watchdog.conf"
    assert "RuntimeWatchdogSec=30s" in watchdog.read_text()


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["--tenant", "Spring Field"], "tenant 'Spring Field'"),
        (["--bundle-version", "1.0-rc1"], "version '1.0-rc1'"),
        (["--release-keyring", "/nonexistent/ca.pem"], "--release-keyring /nonexistent"),
        (["--bundle-cert", "/etc/hostname"], "--bundle-cert and --bundle-key go together"),
        (["--single-root", "--bundle-cert", "/etc/hostname", "--bundle-key", "/etc/hostname"],
         "--single-root images take no update bundles"),
    ],
)  # fmt: skip
def test_bad_update_options_are_refused_before_the_build(argv: list[str], problem: str) -> None:
    args: argparse.Namespace = builder.parser().parse_args(argv)
    with pytest.raises(BuildError, match=problem.replace("(", r"\(")):
        builder.check_update_args(args)


def test_the_default_bundle_version_is_the_release_version() -> None:
    """A build with --bundle-cert and no --bundle-version names its bundle after the release;
    a version the bundle refuses must stop the build at its start, not after 25 minutes."""
    from contract import __version__

    assert builder.version() == __version__
    builder.bundle.manifest("x", builder.version())  # a version bundles take
    args = builder.parser().parse_args(
        ["--bundle-cert", "/etc/hostname", "--bundle-key", "/etc/hostname"]
    )
    builder.check_update_args(args)  # accepted


def test_the_bootloader_handler_runs_alone_in_isolated_mode(tmp_path: Path) -> None:
    """RAUC's handler imports only the boot state module (python -I -m, as the image's
    rauc-bootloader runs it): set-primary, then get-primary reads it back; a bad request
    is refused with its words."""
    command = [sys.executable, "-I", "-m", "device.update.bootstate"]
    boot = tmp_path / "firmware"
    boot.mkdir()
    from device.update import bootstate

    assert bootstate.main(["set-primary", "B"], boot) == 0
    assert (boot / "bootstate.txt").read_text().startswith("BOOT_ORDER=B A\n")
    done = subprocess.run([*command, "frobnicate"], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 1 and "unknown request 'frobnicate'" in done.stderr
    probe = (
        "import sys, device.update.bootstate; "
        "print(sorted(m for m in sys.modules if m.startswith(('jukebox', 'tenant', 'device.co'))))"
    )
    done = subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True, text=True)
    assert done.stdout.strip() == "[]", done.stderr
