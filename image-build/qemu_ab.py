"""Booting an A/B image (docs/updates.md) in QEMU the way a Pi does: through U-Boot.

An A/B image keeps its kernels in the root slots, so boot-test and ota-test cannot hand QEMU
a kernel: QEMU starts Debian's U-Boot for its virt machine (u-boot-qemu, qemu_arm64) as the
firmware, which runs the image's own boot.scr (the same script as on the Pi, where U-Boot is
u-boot-rpi's) on the virtio disk. Extra kernel arguments (virt's console, systemd's status
lines) go into the scratch disk's cmdline-extra.txt, which boot.scr reads.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from progress import BuildError

UBOOT = Path("/usr/lib/u-boot/qemu_arm64/u-boot.bin")
EXTRA = "cmdline-extra.txt"
CONSOLE_ARGS = "systemd.show_status=1 systemd.journald.forward_to_console=1"


def is_ab(drive: str) -> bool:
    """The image's FAT (an mtools drive) holds boot.scr: an A/B image booted by U-Boot."""
    listing = _mtools(["mdir", "-b", "-i", drive, "::/"])
    return any(Path(line.strip()).name == "boot.scr" for line in listing.splitlines())


def set_extra_args(drive: str, args: str, work: Path) -> None:
    local = work / EXTRA
    local.write_text(f"jukebox_args={args}\n")
    _mtools(["mcopy", "-o", "-i", drive, str(local), f"::/{EXTRA}"])


def uboot_command(disk: Path, cpu: str, memory: str) -> list[str]:
    if not UBOOT.exists():
        raise BuildError(f"{UBOOT} not found: apt-get install --no-install-recommends u-boot-qemu")
    return [
        "qemu-system-aarch64",
        "-machine", "virt",
        "-cpu", cpu,
        "-smp", "2",
        "-m", memory,
        "-accel", "tcg,thread=multi",
        "-nodefaults",
        "-display", "none",
        "-serial", "stdio",
        "-nic", "none",
        "-bios", str(UBOOT),
        "-drive", f"if=none,id=disk,format=raw,file={disk}",
        "-device", "virtio-blk-device,drive=disk",
    ]  # fmt: skip


def _mtools(args: list[str]) -> str:
    env = {**os.environ, "MTOOLSRC": "/dev/null", "MTOOLS_SKIP_CHECK": "1"}
    result = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise BuildError(f"{' '.join(args[:1])} failed: {result.stderr.strip()[-300:]}")
    return result.stdout
