"""What the kiosk's boot skips, and why: every process started before READY costs time, and
under emulation (image-build/boot-test) or on a Pi's small cores a process's start is the
expensive part. Applied by rootfs.py's customize hook; docs/image.md has the figures.

- generators that find nothing on a kiosk (no encrypted, verity or integrity volumes, no GPT,
  no hibernation, no SysV scripts without a native unit, no rc.local, no offline updates)
  are turned off by a /dev/null link in /etc/systemd/system-generators; fstab, getty, debug
  (systemd.wants= on the kernel command line) and run (systemd.run=, boot-test) stay;
- units masked: those that a read-only root with RAM for /var/lib/systemd and /var/log makes
  pointless (a random seed and utmp records that never survive the boot), kernel interfaces
  a kiosk never mounts (debugfs, tracefs, configfs, FUSE, hugepages, binfmt_misc), pstore
  archiving, systemd-repart (no repart.d) and the module loads only those wanted
  (modprobe@loop stays: RAUC mounts its bundles on a loop device);
- the default target is multi-user.target: the kiosk has no graphical session.

The read-only root is not checked at boot (etc/fstab: pass 0): nothing ever writes to it
while it is mounted, RAUC writes the other slot whole; the boot and data partitions are
still checked (U-Boot writes the FAT at every boot; power cuts hit the data partition).
"""

from __future__ import annotations

import os
import re
import struct
from pathlib import Path

GENERATORS_OFF = (
    "systemd-cryptsetup-generator",
    "systemd-integritysetup-generator",
    "systemd-veritysetup-generator",
    "systemd-gpt-auto-generator",
    "systemd-hibernate-resume-generator",
    "systemd-sysv-generator",
    "systemd-rc-local-generator",
    "systemd-system-update-generator",
)
GENERATORS_KEPT = (
    "systemd-fstab-generator",
    "systemd-getty-generator",
    "systemd-debug-generator",
    "systemd-run-generator",
)
MASK = (
    "systemd-random-seed.service",  # /var/lib/systemd is a tmpfs: no seed to load or keep
    "systemd-update-utmp.service",  # /var/log is a tmpfs, and no one logs in
    "systemd-update-utmp-runlevel.service",
    "systemd-pstore.service",
    "systemd-repart.service",
    "systemd-binfmt.service",
    "proc-sys-fs-binfmt_misc.automount",
    "proc-sys-fs-binfmt_misc.mount",
    "sys-kernel-debug.mount",
    "sys-kernel-tracing.mount",
    "sys-kernel-config.mount",
    "sys-fs-fuse-connections.mount",
    "dev-hugepages.mount",
    "modprobe@drm.service",
    "modprobe@efi_pstore.service",
    "modprobe@fuse.service",
    "modprobe@dm_mod.service",
    "modprobe@configfs.service",
)
DEFAULT_TARGET = "multi-user.target"


UNIT_DIRS = ("lib/systemd/system", "usr/lib/systemd/system")
GENERATOR_DIRS = ("lib/systemd/system-generators", "usr/lib/systemd/system-generators")


def unit_exists(root: Path, unit: str) -> bool:
    """The root has the unit, or for an instance (modprobe@drm.service) its template."""
    name = re.sub(r"@[^.]+\.", "@.", unit)
    return any((root / d / name).exists() for d in UNIT_DIRS)


def to_mask(root: Path) -> list[str]:
    return [unit for unit in MASK if unit_exists(root, unit)]


def turn_off_generators(root: Path) -> list[str]:
    """/dev/null links in /etc/systemd/system-generators for the GENERATORS_OFF the root has
    (systemd skips a generator whose name links to /dev/null there); their names."""
    present = [n for n in GENERATORS_OFF if any((root / d / n).exists() for d in GENERATOR_DIRS)]
    folder = root / "etc/systemd/system-generators"
    folder.mkdir(parents=True, exist_ok=True)
    for name in present:
        link = folder / name
        link.unlink(missing_ok=True)
        link.symlink_to("/dev/null")
    return present


# Where the kiosk's Python finds its modules; the root is read-only, so a module without a
# current .pyc here is compiled again at every start (seconds under emulation), never saved.
BYTECODE_DIRS = ("usr/lib/python3.11", "opt/jukebox/venv/lib/python3.11/site-packages")
PYC_TAG = "cpython-311"


def stale_bytecode(root: Path, folders: tuple[str, ...] = BYTECODE_DIRS) -> list[str]:
    """The root's .py files (paths as the kiosk sees them) whose __pycache__ holds no .pyc
    that Python would accept: missing, or recorded for another modification time or size."""
    stale = []
    for folder in folders:
        for source in sorted((root / folder).rglob("*.py")):
            if not _pyc_is_current(root, source):
                stale.append("/" + str(source.relative_to(root)))
    return stale


def _pyc_is_current(root: Path, source: Path) -> bool:
    pyc = source.parent / "__pycache__" / f"{source.stem}.{PYC_TAG}.pyc"
    try:
        header = pyc.read_bytes()[:16]
    except OSError:
        return False
    real = source
    if source.is_symlink() and os.readlink(source).startswith("/"):  # the root's, not ours
        real = root / os.readlink(source).lstrip("/")
    if len(header) < 16 or not real.exists():
        return False
    flags, mtime, size = struct.unpack("<III", header[4:16])
    if flags & 1:  # hash-based: checked against the source only when flag 2 says so
        return True
    stat = real.stat()
    return (mtime, size) == (int(stat.st_mtime) & 0xFFFFFFFF, stat.st_size & 0xFFFFFFFF)
