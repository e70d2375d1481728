"""Finding the FAT boot partition inside a disk image file, by reading its partition table.

No loop device and no mount: an image is a file, its MBR or GPT says where each partition
starts, and the first sector of a partition says whether it holds a FAT filesystem and its
label. Provisioning then writes into that filesystem at its byte offset (`fatfs`).
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from contract.layout import BOOT_LABEL

SECTOR = 512  # SD card images use 512-byte logical sectors
MBR_PROTECTIVE = "0xee"  # the whole disk is described by a GPT
GPT_MAX_ENTRIES = 1024


class ImageError(Exception):
    """The image cannot be used: not a disk image, no FAT boot partition, a broken table."""


@dataclass(frozen=True)
class Partition:
    number: int  # 1-based, as in /dev/mmcblk0p1; 0 for a filesystem without partition table
    offset: int  # bytes from the start of the image
    size: int  # bytes
    type: str  # MBR type as "0x0c", or the GPT type GUID
    fat: str | None = None  # "FAT12", "FAT16" or "FAT32" when it holds a FAT filesystem
    label: str | None = None  # the FAT volume label

    def describe(self) -> str:
        kind = f"{self.fat} {self.label or 'unlabelled'}" if self.fat else f"type {self.type}"
        where = f"partition {self.number}" if self.number else "filesystem"
        return f"{where} ({kind}, offset {self.offset}, {self.size >> 20} MiB)"


def _read(f: BinaryIO, offset: int, size: int) -> bytes:
    f.seek(offset)
    return f.read(size)


def _fat_facts(sector: bytes) -> tuple[str | None, str | None]:
    """(FAT type, label) from a partition's first sector, or (None, None) if not FAT."""
    if len(sector) < SECTOR or sector[510:512] != b"\x55\xaa":
        return None, None
    bytes_per_sector = struct.unpack_from("<H", sector, 11)[0]
    if bytes_per_sector not in (512, 1024, 2048, 4096):
        return None, None
    for type_at, label_at in ((0x52, 0x47), (0x36, 0x2B)):  # FAT32, then FAT12/16
        kind = sector[type_at : type_at + 8].decode("ascii", "replace").strip()
        if kind in ("FAT12", "FAT16", "FAT32"):
            label = sector[label_at : label_at + 11].decode("ascii", "replace").strip()
            return kind, (label if label and label != "NO NAME" else None)
    return None, None


def _mbr_entries(mbr: bytes) -> list[tuple[int, int, int, str]]:
    entries = []
    for i in range(4):
        kind, start, count = struct.unpack_from("<4xB3xII", mbr, 446 + 16 * i)
        if kind and count:
            entries.append((i + 1, start * SECTOR, count * SECTOR, f"0x{kind:02x}"))
    return entries


def _gpt_entries(f: BinaryIO, image: Path) -> list[tuple[int, int, int, str]]:
    header = _read(f, SECTOR, 92)
    if header[:8] != b"EFI PART":
        raise ImageError(f"{image}: protective MBR but no GPT header")
    entries_lba, count, entry_size = struct.unpack_from("<QII", header, 72)
    if not 128 <= entry_size <= 4096 or count > GPT_MAX_ENTRIES:
        raise ImageError(f"{image}: implausible GPT header ({count} entries of {entry_size} B)")
    table = _read(f, entries_lba * SECTOR, count * entry_size)
    entries = []
    for i in range(len(table) // entry_size):
        raw = table[i * entry_size : i * entry_size + 48]
        kind = uuid.UUID(bytes_le=raw[:16])
        if kind.int == 0:
            continue
        first, last = struct.unpack_from("<QQ", raw, 32)
        entries.append((i + 1, first * SECTOR, (last - first + 1) * SECTOR, str(kind).upper()))
    return entries


def read_partitions(image: Path) -> list[Partition]:
    """The image's partitions (MBR or GPT), each with its FAT type and label if it has one."""
    try:
        with image.open("rb") as f:
            size = f.seek(0, 2)
            mbr = _read(f, 0, SECTOR)
            if len(mbr) < SECTOR or mbr[510:512] != b"\x55\xaa":
                raise ImageError(f"{image}: not a disk image (no partition table)")
            fat, label = _fat_facts(mbr)
            if fat:  # a bare filesystem (say, a copy of the boot partition): one "partition"
                return [Partition(0, 0, size, "none", fat, label)]
            entries = _mbr_entries(mbr)
            if any(kind == MBR_PROTECTIVE for *_, kind in entries):
                entries = _gpt_entries(f, image)
            partitions = []
            for number, offset, length, kind in entries:
                if offset + length > size:
                    raise ImageError(
                        f"{image}: partition {number} ends at byte {offset + length}, "
                        f"past the end of the file ({size} bytes)"
                    )
                fat, label = _fat_facts(_read(f, offset, SECTOR))
                partitions.append(Partition(number, offset, length, kind, fat, label))
    except OSError as exc:
        raise ImageError(f"{image}: cannot be read ({exc.strerror})") from None
    return partitions


def find_boot_partition(image: Path) -> Partition:
    """The FAT partition labelled RASPIFIRM, else the first one holding a FAT filesystem.

    The filesystem itself decides, not the table's type byte, which tools often get wrong.
    """
    partitions = read_partitions(image)
    fat = [p for p in partitions if p.fat]
    for p in fat:
        if p.label == BOOT_LABEL:
            return p
    if fat:
        return fat[0]
    found = "; ".join(p.describe() for p in partitions) or "none"
    raise ImageError(f"{image}: no FAT boot partition (partitions: {found})")
