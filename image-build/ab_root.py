"""The root's part of the A/B layout (docs/updates.md), run in the customize hook after the
initramfs: each root slot carries its own kernel and initrd, and the FAT boots U-Boot.

- ``/boot/vmlinuz`` and ``/boot/initrd.img`` in the root (real files, not links): U-Boot's
  script loads them from the slot it picked, so a bundle brings its own kernel;
- on the FAT: Debian's ``u-boot.bin`` for the Pi (u-boot-rpi, rpi_arm64: the Pi 3, 4, 400 and
  Zero 2 W), ``boot.scr``, and ``config.txt`` starting U-Boot instead of the kernel; the
  firmware's own kernel and initrd copies go (they would be slot A's only);
- RAUC: ``/etc/rauc/system.conf`` with this network's compatible string, its keyring, and
  the custom bootloader backend's handler.

The Pi firmware, its device trees and config.txt stay on the shared FAT: a bundle does not
change them (docs/updates.md says what that means for a firmware fix).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import bootscript
from progress import BuildError

UBOOT = "usr/lib/u-boot/rpi_arm64/u-boot.bin"
HANDLER = "usr/local/lib/jukebox/rauc-bootloader"
GENERIC = "jukebox-generic-rpi-arm64"  # an image built without --tenant


def prepare(root: Path, compatible: str = GENERIC, keyring: Path | None = None) -> str:
    """Make the root and its /boot/firmware an A/B system; a line saying what was done."""
    firmware = root / "boot/firmware"
    kernels = sorted(firmware.glob("vmlinuz-*"))
    if len(kernels) != 1:
        raise BuildError(f"expected one kernel in {firmware}, found {[k.name for k in kernels]}")
    version = kernels[0].name.removeprefix("vmlinuz-")
    initrd = firmware / f"initrd.img-{version}"
    if not initrd.exists():
        raise BuildError(f"no {initrd.name} beside {kernels[0].name} in {firmware}")
    for source, name in ((kernels[0], "vmlinuz"), (initrd, "initrd.img")):
        target = root / "boot" / name
        target.unlink(missing_ok=True)
        shutil.move(str(source), target)
        target.chmod(0o644)
    uboot = root / UBOOT
    if not uboot.is_file():
        raise BuildError(f"no {UBOOT} in the root: is u-boot-rpi among the packages?")
    shutil.copyfile(uboot, firmware / "u-boot.bin")
    (firmware / "boot.scr").write_bytes(bootscript.boot_scr(bootscript.BOOT_CMD.read_text()))
    config = firmware / "config.txt"
    config.write_text(boot_uboot(config.read_text()))
    rauc = root / "etc/rauc"
    rauc.mkdir(parents=True, exist_ok=True)
    (rauc / "system.conf").write_text(bootscript.system_conf(compatible))
    if keyring is not None:
        shutil.copyfile(keyring, rauc / "keyring.pem")
    handler = root / HANDLER
    handler.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(bootscript.BOOTLOADER_HANDLER, handler)
    os.chmod(handler, 0o755)
    trusted = "the release keyring" if keyring else "no keyring: every bundle refused"
    return f"A/B: kernel {version} in the slot, U-Boot on the FAT, {compatible}, {trusted}"


def boot_uboot(config: str) -> str:
    """config.txt with U-Boot as the "kernel" and no initramfs line (U-Boot loads the slot's)."""
    lines = [line for line in config.splitlines() if not re.match(r"\s*(kernel|initramfs)\b", line)]
    lines.append("# image-build/ab_root.py: U-Boot picks the root slot (A/B updates)")
    lines.append("kernel=u-boot.bin")
    return "\n".join(lines) + "\n"
