"""A Raspberry Pi disk image from three folders: boot (FAT), root (ext4), data (ext4).

This is the part of the image build that needs no Debian and no emulation, so the fast test
runs it on a tiny folder and the real build on a whole root filesystem: the same code.

No loop device, no mount, no privilege beyond owning the files: each filesystem is made in a
file of its own (`mkfs.vfat` then `mcopy` for the FAT, `mke2fs -d` for ext4), the partition
table is written into the image file by `sfdisk`, and `dd conv=notrunc,sparse` puts each
filesystem at its partition's offset. Partitions, in order:

    1  FAT32  RASPIFIRM     /boot/firmware   the Pi firmware, kernel, initrd, config.txt
    2  ext4   RASPIROOT     /                read-only at run time
    3  ext4   JUKEBOX-DATA  /var/lib/jukebox the kiosk's identity, cache and journal; last, so
                                             that first boot can grow it to the end of the card

With `slots=2` (the A/B layout of over-the-air updates, docs/updates.md) the root is there
twice, the same filesystem in two partitions of the same size, and the data partition is 4:

    1  FAT32  RASPIFIRM     U-Boot, its boot script and the A/B boot state (bootstate.txt)
    2  ext4   RASPIROOT     root slot A (booted first)
    3  ext4   RASPIROOT     root slot B (a bundle's target); the boot script names a slot by
                            PARTUUID (DISK_ID-02, -03), so the shared label is never looked up
    4  ext4   JUKEBOX-DATA  as above
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

MIB = 1 << 20
SECTOR = 512
BLOCK = 4096

BOOT_LABEL = "RASPIFIRM"
ROOT_LABEL = "RASPIROOT"
DATA_LABEL = "JUKEBOX-DATA"
DISK_ID = "0x6a756b65"  # "juke": the table is the same on every card; labels name partitions

BOOT_START_MIB = 4  # as in Debian's raspi images: room for the table, aligned for SD cards
FAT32_MIN_MIB = 64  # below this mkfs.vfat picks FAT16/FAT12 (the fast test's tiny images)
# The root is mounted read-only: its spare room is only for a technician's remount-rw repair.
ROOT_SPARE = 0.05
# The boot partition: its files + a quarter (config.txt edits, the site file, FAT tables).
BOOT_SPARE = 0.25


class AssemblyError(Exception):
    """The image cannot be assembled: a tool failed or missing, or a folder does not fit."""


Log = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class Layout:
    """Partition sizes in MiB; the boot partition starts at BOOT_START_MIB."""

    boot_mib: int
    root_mib: int
    data_mib: int
    slots: int = 1  # 2: root slots A and B (over-the-air updates)

    def __post_init__(self) -> None:
        if self.slots not in (1, 2):
            raise AssemblyError(f"slots: {self.slots}: expected 1 or 2 root partitions")

    @property
    def boot_offset(self) -> int:
        return BOOT_START_MIB * MIB

    @property
    def root_offset(self) -> int:
        return self.boot_offset + self.boot_mib * MIB

    @property
    def root_offsets(self) -> list[int]:
        """Each root slot's offset: A, then B."""
        return [self.root_offset + i * self.root_mib * MIB for i in range(self.slots)]

    @property
    def data_offset(self) -> int:
        return self.root_offset + self.slots * self.root_mib * MIB

    @property
    def total_bytes(self) -> int:
        return self.data_offset + self.data_mib * MIB

    def sfdisk_script(self) -> str:
        def line(offset: int, mib: int, kind: str) -> str:
            return f"start={offset // SECTOR}, size={mib * MIB // SECTOR}, type={kind}\n"

        return (
            "label: dos\n"
            f"label-id: {DISK_ID}\n"
            "unit: sectors\n"
            + line(self.boot_offset, self.boot_mib, "c")
            + "".join(line(offset, self.root_mib, "83") for offset in self.root_offsets)
            + line(self.data_offset, self.data_mib, "83")
        )


@dataclass(frozen=True)
class TreeSize:
    """What an ext4 filesystem needs for a folder: data blocks and inodes."""

    bytes: int
    inodes: int


def measure_tree(folder: Path) -> TreeSize:
    """Blocks of 4 KiB for every file and folder (as ext4 allocates them), and their count."""
    total = 0
    inodes = 1
    for parent, dirs, files in os.walk(folder):
        for name in dirs + files:
            st = os.lstat(os.path.join(parent, name))
            inodes += 1
            total += math.ceil(st.st_size / BLOCK) * BLOCK if st.st_size > 60 else BLOCK
    return TreeSize(total, inodes)


def journal_mib(fs_mib: int) -> int:
    """The journal mke2fs gives an ext4 filesystem of this size (ext2fs_default_journal_size)."""
    blocks = fs_mib * MIB // BLOCK
    for limit, journal_blocks in ((2048, 0), (32768, 1024), (256 * 1024, 4096), (512 * 1024, 8192)):
        if blocks < limit:
            return journal_blocks * BLOCK // MIB
    return 64 if blocks < 4096 * 1024 else 128


def ext4_mib_for(
    tree: TreeSize, *, spare: float = 0.10, minimum_mib: int = 8, size_mib: int | None = None
) -> int:
    """An ext4 size (MiB) holding `tree` with `spare` free: inode tables and journal included.

    With `size_mib`, what `tree` needs in a filesystem of that size (its journal's size).
    """
    data = tree.bytes * (1 + spare) + _inode_count(tree) * 256
    mib = math.ceil(data * 1.02 / MIB) + 1  # bitmaps, group descriptors, the superblock
    mib += journal_mib(size_mib if size_mib is not None else mib)
    return max(minimum_mib, _round_up(mib, 4))


def fat_mib_for(folder: Path, *, spare: float = BOOT_SPARE, minimum_mib: int = 8) -> int:
    """A FAT size (MiB) holding `folder`'s files with `spare` free, in steps of 8 MiB."""
    content = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    return max(minimum_mib, _round_up(math.ceil(content * (1 + spare) / MIB) + 1, 8))


def plan_layout(
    root_dir: Path,
    *,
    boot_mib: int = 128,
    data_mib: int = 32,
    total_mib: int | None = None,
    slots: int = 1,
) -> Layout:
    """Sizes for the image: the root partition gets what the total leaves, or what it needs.

    Without `total_mib` the image is as small as the root filesystem allows (the data
    partition grows to fill the card at first boot). With it, the root partition takes the
    rest, and a total too small for the root folder is refused with the size it would need.
    With two slots each gets half of what is left: a later, bigger root must fit both.
    """
    needed = ext4_mib_for(measure_tree(root_dir), spare=ROOT_SPARE)
    if total_mib is None:
        return Layout(boot_mib, needed, data_mib, slots)
    root_mib = (total_mib - BOOT_START_MIB - boot_mib - data_mib) // slots
    if root_mib < needed:
        minimum = BOOT_START_MIB + boot_mib + slots * needed + data_mib
        each = " each" if slots > 1 else ""
        raise AssemblyError(
            f"an image of {total_mib} MiB leaves {root_mib} MiB{each} for {slots} root "
            f"filesystem(s), which need {needed} MiB: use a size of at least {minimum} MiB"
        )
    return Layout(boot_mib, root_mib, data_mib, slots)


def assemble_image(
    out: Path,
    *,
    boot_dir: Path,
    root_dir: Path,
    data_dir: Path,
    layout: Layout,
    workdir: Path | None = None,
    log: Log = _quiet,
) -> Path:
    """Write the disk image `out` (a sparse file) from the three folders; return `out`.

    Ownership and modes in `root_dir` and `data_dir` are kept as they are (run as root to
    keep root-owned files root's). `workdir` holds each filesystem until it is placed.
    """
    for tool in ("sfdisk", "mkfs.vfat", "mcopy", "mke2fs", "debugfs", "dd"):
        _tool(tool)
    for folder in (boot_dir, root_dir, data_dir):
        if not folder.is_dir():
            raise AssemblyError(f"{folder}: not a folder")
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="jukebox-image-", dir=workdir) as scratch:
        work = Path(scratch)
        log(f"partition table: {layout.total_bytes // MIB} MiB, {_describe(layout)}")
        partial = out.with_name(out.name + ".partial")
        with partial.open("wb") as f:
            f.truncate(layout.total_bytes)
        _run(
            ["sfdisk", "--quiet", "--no-reread", "--no-tell-kernel", str(partial)],
            data=layout.sfdisk_script(),
        )

        log(f"boot partition: FAT {BOOT_LABEL}, {layout.boot_mib} MiB from {boot_dir}")
        fat = make_fat(work / "boot.vfat", boot_dir, layout.boot_mib, BOOT_LABEL)
        place(fat, partial, layout.boot_offset)

        log(f"root partition: ext4 {ROOT_LABEL}, {layout.root_mib} MiB from {root_dir}")
        root = make_ext4(
            work / "root.ext4", root_dir, layout.root_mib, ROOT_LABEL, reserved_percent=0
        )
        for slot, offset in zip("AB", layout.root_offsets, strict=False):
            if layout.slots > 1:
                log(f"root slot {slot}: the same filesystem at {offset // MIB} MiB")
            place(root, partial, offset, keep=slot == "A" and layout.slots > 1)

        log(f"data partition: ext4 {DATA_LABEL}, {layout.data_mib} MiB from {data_dir}")
        data = make_ext4(
            work / "data.ext4", data_dir, layout.data_mib, DATA_LABEL, reserved_percent=1
        )
        place(data, partial, layout.data_offset)
        partial.replace(out)
    return out


def make_fat(path: Path, folder: Path, size_mib: int, label: str) -> Path:
    """A FAT filesystem of `size_mib` in the file `path`, holding a copy of `folder`."""
    content = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    if content > size_mib * MIB * 0.95:
        raise AssemblyError(
            f"{folder}: {content / MIB:.1f} MiB does not fit a {size_mib} MiB boot partition"
        )
    with path.open("wb") as f:
        f.truncate(size_mib * MIB)
    fat32 = ["-F", "32"] if size_mib >= FAT32_MIN_MIB else []
    _run(["mkfs.vfat", *fat32, "-n", label, "-i", DISK_ID[2:], str(path)])
    entries = sorted(str(p) for p in folder.iterdir())
    if entries:
        # -s recursive, -p -m keep attributes and times, -Q stop at the first error
        _mtools(["mcopy", "-s", "-p", "-m", "-Q", "-i", str(path), *entries, "::/"])
    return path


def make_ext4(
    path: Path, folder: Path, size_mib: int, label: str, *, reserved_percent: int
) -> Path:
    """An ext4 filesystem of `size_mib` in the file `path`, populated from `folder`."""
    tree = measure_tree(folder)
    if ext4_mib_for(tree, spare=0.0, minimum_mib=0, size_mib=size_mib) > size_mib:
        raise AssemblyError(
            f"{folder}: {tree.bytes / MIB:.0f} MiB in {tree.inodes} files does not fit "
            f"{size_mib} MiB of ext4"
        )
    path.unlink(missing_ok=True)
    _run([
        "mke2fs", "-q", "-F", "-t", "ext4",
        "-L", label,
        "-b", str(BLOCK),
        "-N", str(_inode_count(tree)),
        "-m", str(reserved_percent),
        "-d", str(folder),
        str(path), f"{size_mib}M",
    ])  # fmt: skip
    _set_top_owner_and_mode(path, folder)
    return path


def _set_top_owner_and_mode(filesystem: Path, folder: Path) -> None:
    """mke2fs -d copies what is inside `folder`, not the folder itself: give the top its mode
    and owner (the data partition's top is the jukebox user's 0700 state directory)."""
    st = folder.stat()
    requests = [
        f"set_inode_field / mode 0{st.st_mode & 0o170777:o}",
        f"set_inode_field / uid {st.st_uid}",
        f"set_inode_field / gid {st.st_gid}",
    ]
    _run(["debugfs", "-w", "-f", "-", str(filesystem)], data="\n".join(requests) + "\n")


def place(filesystem: Path, image: Path, offset: int, *, keep: bool = False) -> None:
    """Copy `filesystem` into `image` at byte `offset`, skipping zeros (the image stays sparse);
    then remove it, unless `keep` (the second root slot gets it too)."""
    _run([
        "dd", f"if={filesystem}", f"of={image}", "bs=4M",
        "conv=notrunc,sparse", "oflag=seek_bytes", f"seek={offset}", "status=none",
    ])  # fmt: skip
    if not keep:
        filesystem.unlink()


def _inode_count(tree: TreeSize) -> int:
    return tree.inodes + tree.inodes // 4 + 2048


def _round_up(value: int, step: int) -> int:
    return -(-value // step) * step


def _describe(layout: Layout) -> str:
    roots = f"root {layout.root_mib} MiB" + (" x 2 (A/B)" if layout.slots > 1 else "")
    return (
        f"boot {layout.boot_mib} MiB at {layout.boot_offset // MIB} MiB, "
        f"{roots}, data {layout.data_mib} MiB"
    )


def _tool(name: str) -> str:
    """The tool's path; sbin tools are not on every user's PATH."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found is None:
        raise AssemblyError(
            f"{name} not found: apt-get install fdisk dosfstools mtools e2fsprogs coreutils"
        )
    return found


def _run(args: Sequence[str], *, data: str | None = None) -> str:
    command = [_tool(args[0]), *args[1:]]
    env = {**os.environ, "MTOOLSRC": "/dev/null", "MTOOLS_SKIP_CHECK": "1", "LC_ALL": "C"}
    result = subprocess.run(
        command, input=data, capture_output=True, text=True, env=env, check=False
    )
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        why = "\n    ".join(lines[-8:]) or f"exit code {result.returncode}"
        raise AssemblyError(f"{' '.join(args[:1])} failed: {' '.join(args)}\n    {why}")
    return result.stdout


def _mtools(args: Sequence[str]) -> str:
    return _run(args)
