"""`jukebox admin pack`: write a signed content pack into a folder (a stick's root, say).

The folder gets ``jukebox/pack/manifest.json``, ``manifest.sig`` and ``media/<sha256>``
(docs/usb.md). Media already there with the right size are not fetched again; the
manifest and signature are written last, so an interrupted run never leaves a pack that
looks complete.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from contract.ids import is_sha256
from contract.pack import MANIFEST, MEDIA_DIR, PACK_DIR, SIGNATURE

if TYPE_CHECKING:
    from tenant.admin_client import AdminClient

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WrittenPack:
    folder: Path
    files: int
    fetched: int
    bytes: int


def _have(path: Path, sha: str, size: int) -> bool:
    try:
        if path.stat().st_size != size:
            return False
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest() == sha
    except OSError:
        return False


def write_pack(
    client: AdminClient,
    playlist_ids: Sequence[str],
    out: Path,
    progress: Callable[[str], None] = lambda _line: None,
) -> WrittenPack:
    from tenant.admin_client import AdminError

    answer = client.pack(playlist_ids)
    try:
        manifest = base64.b64decode(answer["manifest"], validate=True)
        signature = str(answer["signature"])
        media = [(str(m["sha256"]), int(m["size"])) for m in answer["media"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise AdminError(f"unexpected pack answer from the tenant: {exc}") from exc
    if any(not is_sha256(sha) for sha, _ in media):
        raise AdminError("the tenant named a media file that is not a sha256")
    folder = out / "jukebox" / PACK_DIR
    (folder / MEDIA_DIR).mkdir(parents=True, exist_ok=True)
    for name in (MANIFEST, SIGNATURE):  # an old pack must not look valid while we write
        with contextlib.suppress(FileNotFoundError):
            (folder / name).unlink()
    fetched = total = 0
    for index, (sha, size) in enumerate(media, start=1):
        dest = folder / MEDIA_DIR / sha
        total += size
        if _have(dest, sha, size):
            continue
        progress(f"[{index}/{len(media)}] {sha[:12]}… {size / 1e6:.1f} MB")
        client.download_media(sha, size, dest)
        fetched += 1
    wanted = {sha for sha, _ in media}
    for stale in (folder / MEDIA_DIR).iterdir():
        if stale.name not in wanted:
            stale.unlink()
    _write(folder / SIGNATURE, (signature + "\n").encode("ascii"))
    _write(folder / MANIFEST, manifest)
    return WrittenPack(folder, len(media), fetched, total)


def _write(path: Path, data: bytes) -> None:
    temp = path.with_name(f".{path.name}.partial")
    with open(temp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temp, path)
