"""Writing files so that a power cut leaves the old content or the new, never a torn file."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def write_all(fd: int, data: bytes) -> None:
    """os.write may write less than asked; loop until all of `data` is written."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in `path` durable (the directory entry itself)."""
    _fsync(path, os.O_DIRECTORY)


def _fsync(path: Path, flags: int = 0) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Temporary name in the same folder, fsync, rename over `path`, fsync the folder, and
    fsync the file once more.

    The last fsync is for vfat (the boot partition: bootstate.txt, site.toml), where the
    renamed file's directory entry, naming its first cluster, is written with the file's
    inode rather than with the folder: without it a power cut ~30 s later brought the old
    content back (image-build/ota-test power-cut, docs/image.md). On ext4 it finds nothing
    left to write.
    """
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        try:
            os.fchmod(fd, mode)  # whatever the umask said
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
        fsync_dir(path.parent)
        _fsync(path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
