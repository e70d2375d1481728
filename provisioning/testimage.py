"""A tiny but real Raspberry Pi-shaped disk image, for tests and the image build's fast check.

Same shape as Debian's raspi images, in a few MiB: a partition table (sfdisk on a file), a FAT
partition labelled RASPIFIRM holding a config.txt (mkfs.vfat at an offset, mcopy), then an
ext4 partition filled from a folder (mke2fs -d at an offset). No loop device, no mount, no
root: it runs anywhere the tools are installed (fdisk, dosfstools, mtools, e2fsprogs).

    >>> image = make_small_image(tmp_path / "base.img")
    >>> find_boot_partition(image).label
    'RASPIFIRM'
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path, PurePosixPath

from contract.layout import BOOT_LABEL
from provisioning.fatfs import write_file
from provisioning.partitions import find_boot_partition

MIB = 1 << 20
SECTOR = 512
GPT_BASIC_DATA = "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"
GPT_LINUX = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
CONFIG_TXT = "# a small test image\narm_64bit=1\ndtparam=i2c_arm=on\ndtparam=audio=on\n"


def _tool(name: str) -> str:
    """sbin tools are not on every user's PATH."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found is None:
        raise FileNotFoundError(f"{name} not found (apt-get install fdisk dosfstools e2fsprogs)")
    return found


def _run(*args: str, data: str | None = None) -> None:
    subprocess.run(
        [_tool(args[0]), *args[1:]], input=data, capture_output=True, text=True, check=True
    )


def make_small_image(
    path: Path,
    *,
    boot_mb: int = 16,
    data_mb: int = 8,
    gpt: bool = False,
    root: Path | None = None,
    data_label: str = "RASPIROOT",
    config_txt: str = CONFIG_TXT,
) -> Path:
    """Write the image at `path` (a sparse file) and return `path`.

    `root`: the folder copied into the ext4 partition (default: a tiny one with
    etc/hostname). `gpt`: a GUID partition table instead of an MBR. The FAT is FAT32 from
    33 MiB up (as on a real card), else FAT16 or FAT12 as mkfs.vfat chooses.
    """
    path = Path(path)
    boot_start = MIB
    data_start = boot_start + boot_mb * MIB
    total = data_start + data_mb * MIB + (MIB if gpt else 0)  # room for the backup GPT
    with path.open("wb") as f:
        f.truncate(total)
    types = (GPT_BASIC_DATA, GPT_LINUX) if gpt else ("c", "83")
    _run(
        "sfdisk",
        "--quiet",
        "--no-reread",
        "--no-tell-kernel",
        str(path),
        data=(
            f"label: {'gpt' if gpt else 'dos'}\n"
            f"start={boot_start // SECTOR}, size={boot_mb * MIB // SECTOR}, type={types[0]}\n"
            f"start={data_start // SECTOR}, size={data_mb * MIB // SECTOR}, type={types[1]}\n"
        ),
    )
    fat = ["-F", "32"] if boot_mb >= 33 else []
    _run(
        "mkfs.vfat",
        *fat,
        "-n",
        BOOT_LABEL,
        "--offset",
        str(boot_start // SECTOR),
        str(path),
        str(boot_mb * 1024),
    )
    write_file(path, find_boot_partition(path), PurePosixPath("config.txt"), config_txt.encode())
    with tempfile.TemporaryDirectory(prefix="jukebox-root-") as scratch:
        folder = Path(root) if root else Path(scratch)
        if root is None:
            (folder / "etc").mkdir()
            (folder / "etc" / "hostname").write_text("jukebox\n")
        _run(
            "mke2fs",
            "-q",
            "-F",
            "-t",
            "ext4",
            "-L",
            data_label,
            "-d",
            os.fspath(folder),
            "-E",
            f"offset={data_start}",
            str(path),
            f"{data_mb * 1024}k",
        )
    return path
