"""The gate every path passes before mpv sees it: a regular file inside the media cache.

mpv opens far more than files (URLs, `av://`, `ytdl://`, playlists, directories), so the
player never hands it a string it has not checked here. Resolving first means `..`, symlinks
and relative paths are judged by where they really lead, and an absolute, normalised path can
never be read by mpv as a protocol prefix.

>>> verify_media_path(Path("/etc/passwd"), Path("/var/cache/jukebox"))  # doctest: +SKIP
Traceback (most recent call last):
RefusedMedia: /etc/passwd: outside the media cache /var/cache/jukebox
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class RefusedMedia(ValueError):
    """A path the player will not hand to mpv; the message names the path and the reason."""


def verify_media_path(path: Path, cache_root: Path) -> Path:
    """Return the resolved absolute path of `path` if it is a regular file under `cache_root`.

    Raises RefusedMedia otherwise (missing, dangling or looping symlink, outside the cache,
    directory, device, fifo, ...).
    """
    try:
        root = cache_root.resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        raise RefusedMedia(f"{path}: media cache {cache_root} is unavailable ({exc})") from exc
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError) as exc:  # missing, dangling link, symlink loop, permissions
        raise RefusedMedia(f"{path}: does not exist or cannot be resolved ({exc})") from exc
    if real == root or not real.is_relative_to(root):
        where = f" (it leads to {real})" if real != path else ""
        raise RefusedMedia(f"{path}: outside the media cache {root}{where}")
    try:
        mode = os.stat(real).st_mode
    except OSError as exc:
        raise RefusedMedia(f"{path}: cannot be read ({exc})") from exc
    if not stat.S_ISREG(mode):
        raise RefusedMedia(f"{path}: not a regular file")
    text = str(real)
    # Unreachable for a resolved POSIX path, kept so the invariant is written down.
    if not text.startswith("/") or "://" in text:
        raise RefusedMedia(f"{path}: not a plain absolute file path")
    return real
