"""Reading and writing files in a FAT filesystem inside an image file, through mtools.

mtools addresses a filesystem at a byte offset of a file (`-i IMAGE@@OFFSET`), so nothing is
mounted and no privilege is needed. Secrets go to mcopy on its standard input, never through
a temporary file on the technician's disk.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path, PurePosixPath

from provisioning.partitions import ImageError, Partition

TIMEOUT_S = 60


def _drive(image: Path, partition: Partition) -> str:
    if "@@" in str(image):
        raise ImageError(f"{image}: mtools cannot address a file whose name contains '@@'")
    return f"{image}@@{partition.offset}"


def _mtools(tool: str, *args: str, data: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    if shutil.which(tool) is None:
        raise ImageError(f"{tool} not found: install mtools (apt-get install mtools)")
    # Our own settings only: no ~/.mtoolsrc, and no refusal of unusual (small) geometries.
    env = {**os.environ, "MTOOLSRC": "/dev/null", "MTOOLS_SKIP_CHECK": "1"}
    return subprocess.run(
        [tool, *args], input=data, capture_output=True, env=env, timeout=TIMEOUT_S, check=False
    )


def _failure(what: str, result: subprocess.CompletedProcess[bytes]) -> ImageError:
    message = result.stderr.decode("utf-8", "replace").strip().splitlines()
    return ImageError(f"{what}: {message[-1] if message else f'exit code {result.returncode}'}")


def read_file(image: Path, partition: Partition, path: PurePosixPath) -> bytes | None:
    """The file's bytes, or None when the filesystem has no such file."""
    result = _mtools("mtype", "-i", _drive(image, partition), f"::{path}")
    if result.returncode == 0:
        return result.stdout
    if b"not found" in result.stderr:
        return None
    raise _failure(f"{image}: cannot read {path} from {partition.describe()}", result)


def _make_dirs(image: Path, partition: Partition, folder: PurePosixPath) -> None:
    drive = _drive(image, partition)
    for parent in [*reversed(folder.parents[:-1]), folder]:
        made = _mtools("mmd", "-i", drive, f"::{parent}")
        if made.returncode != 0 and _mtools("mdir", "-b", "-i", drive, f"::{parent}").returncode:
            raise _failure(f"{image}: cannot create {parent}/ in {partition.describe()}", made)


def write_file(image: Path, partition: Partition, path: PurePosixPath, data: bytes) -> None:
    """Create or replace the file, creating its folders as needed."""
    if path.parent != PurePosixPath("."):
        _make_dirs(image, partition, path.parent)
    result = _mtools("mcopy", "-o", "-i", _drive(image, partition), "-", f"::{path}", data=data)
    if result.returncode != 0:
        raise _failure(f"{image}: cannot write {path} into {partition.describe()}", result)
