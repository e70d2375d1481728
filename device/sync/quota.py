"""A disk quota for the media cache, so that synced content never fills the SD card.

Room is made only when it is needed, by evicting media that no playlist of the active or the
incoming document needs, least recently used first (the later of the file's atime and mtime:
the player's reads refresh atime under `relatime`, a download sets mtime). When even that is
not enough nothing is evicted, so the current library stays whole, and the caller reports it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from contract.ids import is_sha256
from contract.media import MediaCache
from device.domain import Sha256

__all__ = ["CacheQuota", "CachedMedia", "RoomReport"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CachedMedia:
    sha256: Sha256
    path: Path
    size: int
    last_used: float  # seconds since the epoch


@dataclass(frozen=True)
class RoomReport:
    """What making room found; `fits` is False when the quota cannot hold what is needed."""

    fits: bool
    quota_bytes: int
    used_bytes: int  # in the cache before eviction
    incoming_bytes: int  # still to download
    evicted: tuple[Sha256, ...] = ()
    evicted_bytes: int = 0
    kept_bytes: int = field(default=0)  # the part of the cache nothing may evict

    @property
    def detail(self) -> str:
        mib = 1 << 20
        if self.fits:
            return (
                f"{self.incoming_bytes / mib:.1f} MiB to download fits the "
                f"{self.quota_bytes / mib:.1f} MiB quota"
                + (f" after evicting {len(self.evicted)} unused file(s)" if self.evicted else "")
            )
        return (
            f"{self.incoming_bytes / mib:.1f} MiB to download does not fit the "
            f"{self.quota_bytes / mib:.1f} MiB quota beside {self.kept_bytes / mib:.1f} MiB "
            "of media the playlists need"
        )


class CacheQuota:
    """Keeps the media under `cache` within `quota_bytes`."""

    def __init__(self, cache: MediaCache, quota_bytes: int) -> None:
        if quota_bytes <= 0:
            raise ValueError(
                f"the cache quota must be a positive number of bytes, got {quota_bytes}"
            )
        self.cache = cache
        self.quota_bytes = quota_bytes

    def cached(self) -> dict[Sha256, CachedMedia]:
        """Every complete media file in the cache (temporaries and strangers are ignored)."""
        found: dict[Sha256, CachedMedia] = {}
        try:
            shards = list(os.scandir(self.cache.media))
        except OSError as exc:
            log.warning("cannot list the media cache %s: %s", self.cache.media, exc)
            return found
        for shard in shards:
            if len(shard.name) != 2 or not shard.is_dir(follow_symlinks=False):
                continue
            with contextlib.suppress(OSError), os.scandir(shard.path) as entries:
                for entry in entries:
                    if not is_sha256(entry.name) or entry.name[:2] != shard.name:
                        continue
                    st = entry.stat(follow_symlinks=False)
                    if stat.S_ISREG(st.st_mode):
                        sha = Sha256(entry.name)
                        used = max(st.st_atime, st.st_mtime)
                        found[sha] = CachedMedia(sha, Path(entry.path), st.st_size, used)
        return found

    def make_room(self, incoming: Mapping[Sha256, int], keep: Collection[Sha256]) -> RoomReport:
        """Evict what is needed for `incoming` (sha -> size) to fit, never anything in `keep`."""
        cached = self.cached()
        incoming_bytes = sum(size for sha, size in incoming.items() if sha not in cached)
        used = sum(m.size for m in cached.values())
        kept = sum(m.size for m in cached.values() if m.sha256 in keep)
        if used + incoming_bytes <= self.quota_bytes:
            return RoomReport(True, self.quota_bytes, used, incoming_bytes, kept_bytes=kept)
        if kept + incoming_bytes > self.quota_bytes:
            return RoomReport(False, self.quota_bytes, used, incoming_bytes, kept_bytes=kept)
        candidates = sorted(
            (m for m in cached.values() if m.sha256 not in keep), key=lambda m: m.last_used
        )
        evicted: list[Sha256] = []
        freed = 0
        for media in candidates:
            if used - freed + incoming_bytes <= self.quota_bytes:
                break
            try:
                media.path.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("cannot evict %s from the cache: %s", media.path, exc)
                continue
            evicted.append(media.sha256)
            freed += media.size
        fits = used - freed + incoming_bytes <= self.quota_bytes
        if evicted:
            log.info(
                "evicted %d unused media file(s) (%d bytes) to stay within the %d-byte quota",
                len(evicted),
                freed,
                self.quota_bytes,
            )
        return RoomReport(
            fits, self.quota_bytes, used, incoming_bytes, tuple(evicted), freed, kept_bytes=kept
        )

    def evict_retired(self, retired: object, keep: Collection[Sha256]) -> list[Sha256]:
        """Delete the cached media the tenant retired (the document's `retired`: sha256s)
        that nothing in `keep` needs; what was deleted."""
        if not isinstance(retired, list):
            return []
        cached = self.cached()
        evicted: list[Sha256] = []
        for sha in retired:
            if not isinstance(sha, str) or not is_sha256(sha) or sha in keep or sha not in cached:
                continue
            try:
                cached[Sha256(sha)].path.unlink()
            except FileNotFoundError:
                continue
            except OSError as exc:
                log.warning("cannot evict retired %s from the cache: %s", sha, exc)
                continue
            evicted.append(Sha256(sha))
        if evicted:
            log.info("evicted %d retired media file(s)", len(evicted))
        return evicted
