"""The A/B boot pieces of the image: U-Boot's boot script and RAUC's system.conf.

`boot_scr` compiles `ab/boot.cmd` into the legacy U-Boot image U-Boot's `source` runs (what
`mkimage -A arm64 -O linux -T script -C none` writes; a test compares the two byte for byte),
so the build needs no u-boot-tools. `system_conf` fills in the library network's compatible
string. Both are small and pure: the fast tests run them; the boot itself is ota-test's.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
BOOT_CMD = HERE / "ab" / "boot.cmd"
SYSTEM_CONF = HERE / "ab" / "system.conf.in"
BOOTLOADER_HANDLER = HERE / "ab" / "rauc-bootloader"
MAGIC = 0x27051956
OS_LINUX, ARCH_ARM64, TYPE_SCRIPT, COMP_NONE = 5, 22, 6, 0
NAME = "jukebox A/B boot"


def boot_scr(script: str, *, timestamp: int = 0, name: str = NAME) -> bytes:
    """The script as a legacy U-Boot image: 64-byte header, a size table, the text."""
    text = script.encode()
    data = struct.pack(">II", len(text), 0) + text  # one "file", then the table's end
    header = struct.pack(
        ">IIIIIIIBBBB32s",
        MAGIC, 0, timestamp, len(data), 0, 0, zlib.crc32(data),
        OS_LINUX, ARCH_ARM64, TYPE_SCRIPT, COMP_NONE, name.encode()[:31],
    )  # fmt: skip
    header_crc = zlib.crc32(header)
    return header[:4] + struct.pack(">I", header_crc) + header[8:] + data


def read_boot_scr(image: bytes) -> str:
    """The script text of a boot.scr, after checking both CRCs (ValueError naming what)."""
    if len(image) < 72:
        raise ValueError("boot.scr: shorter than a header")
    fields = struct.unpack(">IIIIIIIBBBB32s", image[:64])
    magic, header_crc, size, data_crc, kind = fields[0], fields[1], fields[3], fields[6], fields[9]
    if magic != MAGIC or kind != TYPE_SCRIPT:
        raise ValueError("boot.scr: not a U-Boot script image")
    if zlib.crc32(image[:4] + b"\0\0\0\0" + image[8:64]) != header_crc:
        raise ValueError("boot.scr: header CRC mismatch")
    data = image[64 : 64 + size]
    if len(data) != size or zlib.crc32(data) != data_crc:
        raise ValueError("boot.scr: data CRC mismatch")
    length = struct.unpack(">I", data[:4])[0]
    return data[8 : 8 + length].decode()


def system_conf(compatible: str) -> str:
    if not compatible or any(c.isspace() for c in compatible):
        raise ValueError(f"compatible {compatible!r}: one word expected")
    return SYSTEM_CONF.read_text().replace("@COMPATIBLE@", compatible)
