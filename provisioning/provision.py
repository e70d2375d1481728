"""One generic image in, one ready-to-install kiosk image out; and looking inside one.

BASE is only ever read. OUT is assembled under a temporary name beside it (a sparse copy,
then the site file written into its FAT partition) and renamed when complete, so an
interrupted run never leaves a half-provisioned image that looks finished.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from contract.files import atomic_write, fsync_dir
from contract.kiosk_settings import parse_kiosk_text
from contract.layout import BOOT_KIOSK_FILE, BOOT_SITE_FILE
from contract.site import SiteConfig, SiteConfigError, parse_site_config, read_text, stamp
from contract.site import render_site_toml as render
from provisioning.fatfs import read_file, write_file
from provisioning.partitions import ImageError, Partition, find_boot_partition

log = logging.getLogger(__name__)
CHUNK = 1 << 20
_ZEROS = bytes(CHUNK)


@dataclass(frozen=True)
class Provisioned:
    output: Path
    partition: Partition
    size: int  # bytes, as the image's apparent size
    data: int  # bytes actually written (the rest are holes)


@dataclass(frozen=True)
class Inspection:
    image: Path
    partition: Partition
    config: SiteConfig | None  # None: no site configuration in the image
    kiosk: dict[str, Any] | None = None  # the kiosk.toml's document; None: none in the image


def site_file_text(config: SiteConfig, now: datetime | None = None) -> str:
    """The site.toml a technician's card carries, with a word on where its secrets go."""
    comments = [f"Jukebox site configuration, written by `jukebox provision` on {stamp(now)}."]
    if config.secret_keys:
        comments.append(
            f"At first boot the kiosk moves {' and '.join(config.secret_keys)} to its data "
            "partition and removes them from this card."
        )
    return render(config, comments)


def _mode(config: SiteConfig) -> int:
    return 0o600 if config.secret_keys else 0o644


def sparse_copy(source: Path, target: Path) -> int:
    """Copy `source` to the new file `target`, writing only data: holes stay holes and runs
    of zeros become holes, so a mostly empty 1 GiB image costs what it holds. Returns the
    bytes written."""
    written = 0
    fd_in = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
    try:
        fd_out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            size = os.fstat(fd_in).st_size
            position = 0
            while position < size:
                try:
                    start = os.lseek(fd_in, position, os.SEEK_DATA)
                except OSError:  # ENXIO: only a hole is left
                    break
                end = os.lseek(fd_in, start, os.SEEK_HOLE)
                while start < end:
                    chunk = os.pread(fd_in, min(CHUNK, end - start), start)
                    if not chunk:
                        break
                    if chunk != _ZEROS[: len(chunk)]:
                        os.pwrite(fd_out, chunk, start)
                        written += len(chunk)
                    start += len(chunk)
                position = end
            os.ftruncate(fd_out, size)
        finally:
            os.close(fd_out)
    finally:
        os.close(fd_in)
    return written


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def check_kiosk_file(path: Path) -> tuple[bytes, dict[str, Any]]:
    """A kiosk.toml's bytes and document once the kiosk would accept it (the kiosk's own
    checks, from the contract); SiteConfigError naming every problem otherwise."""
    text = read_text(path)
    document, _settings = parse_kiosk_text(text, str(path), SiteConfigError)
    return text.removeprefix("\ufeff").encode("utf-8"), document


def provision_image(
    base: Path,
    output: Path,
    config: SiteConfig,
    *,
    now: datetime | None = None,
    kiosk: bytes | None = None,
) -> Provisioned:
    """Write `config` as jukebox/site.toml into a copy of `base` at `output` (replaced if it
    exists), and `kiosk` (checked by check_kiosk_file) as jukebox/kiosk.toml beside it.
    `output` is 0600 when the configuration holds a secret."""
    if _same_file(base, output):
        raise ImageError(f"{output}: is the base image itself; BASE is never modified")
    if not output.parent.is_dir():
        raise ImageError(f"{output}: the folder {output.parent} does not exist")
    partition = find_boot_partition(base)
    temporary = output.with_name(f".{output.name}.{secrets.token_hex(6)}.tmp")
    try:
        data = sparse_copy(base, temporary)
        os.chmod(temporary, _mode(config))
        text = site_file_text(config, now)
        write_file(temporary, partition, BOOT_SITE_FILE, text.encode("utf-8"))
        if kiosk is not None:
            write_file(temporary, partition, BOOT_KIOSK_FILE, kiosk)
        fd = os.open(temporary, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, output)
        fsync_dir(output.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    log.debug("provisioned %s from %s (%s)", output, base, partition.describe())
    return Provisioned(output, partition, base.stat().st_size, data)


def write_config_file(path: Path, config: SiteConfig, *, now: datetime | None = None) -> None:
    """The site.toml alone, for a card that is already flashed (0600 if it holds a secret)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, site_file_text(config, now).encode("utf-8"), mode=_mode(config))


def inspect_image(image: Path) -> Inspection:
    """What a kiosk made from `image` would apply at first boot; SiteConfigError if broken."""
    partition = find_boot_partition(image)
    kiosk = None
    raw_kiosk = read_file(image, partition, BOOT_KIOSK_FILE)
    if raw_kiosk is not None:
        source = f"{image}:{BOOT_KIOSK_FILE}"
        kiosk = parse_kiosk_text(_utf8(raw_kiosk, source), source, SiteConfigError)[0]
    raw = read_file(image, partition, BOOT_SITE_FILE)
    if raw is None:
        return Inspection(image, partition, None, kiosk)
    source = f"{image}:{BOOT_SITE_FILE}"
    config = parse_site_config(_utf8(raw, source), source, allow_moved_psk=True)
    return Inspection(image, partition, config, kiosk)


def _utf8(raw: bytes, source: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SiteConfigError(source, "", "not UTF-8 text") from None
