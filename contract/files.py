"""Writing files so that a power cut leaves the old content or the new, never a torn file."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def temporary_sibling(path: Path, suffix: str = ".tmp") -> Path:
    """A hidden name beside `path` that no other writer picks: `.<name>.<random><suffix>`.

    os.urandom, not secrets: `import secrets` imports hmac, which initialises OpenSSL (2.1 MiB
    resident in a folder kiosk's daemon, which otherwise never loads it).
    """
    return path.with_name(f".{path.name}.{os.urandom(6).hex()}{suffix}")


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
    temporary = temporary_sibling(path)
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
