"""The tenant's playlists as a `ContentSource`, read from what the last sync left on disk.

`load()` never touches the network: it builds the library from ``library.json`` (the last
activated document) and the media cache, so a kiosk that boots without network plays at once.
The `Syncer` keeps both up to date in the background.

Which playlists are in the library depends on the wall clock (their validity windows), the
only use of wall time in content; a clock that is wrong at boot can only hide or show a
playlist early, never damage anything, and the syncer re-checks when time moves on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from pathlib import Path

from contract.hours import parse_window
from contract.media import MediaCache
from device.domain import EMPTY_LIBRARY, Library, Playlist, PlaylistId, Track
from device.sync.document import PlaylistEntry, PlaylistsDocument
from device.sync.store import load_active

__all__ = ["NOT_DOWNLOADED", "UNKNOWN_ARTIST", "TenantContentSource", "build_library", "utc_now"]

log = logging.getLogger(__name__)

UNKNOWN_ARTIST = "Unknown artist"
NOT_DOWNLOADED = "not in the cache yet (waiting for the sync)"

WallClock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class TenantContentSource:
    """A `ContentSource` over ``STATE_DIR/library.json`` and the media cache."""

    def __init__(self, state_dir: Path, cache: MediaCache, *, wall_clock: WallClock = utc_now):
        self.state_dir = Path(state_dir)
        self.cache = cache
        self.wall_clock = wall_clock

    def load(self) -> Library:
        """The persisted library as of now; an empty one before the first sync ever."""
        active = load_active(self.state_dir)
        if active is None:
            log.info("no synced library in %s yet", self.state_dir)
            return EMPTY_LIBRARY
        library = build_library(active.document, self.cache, self.wall_clock())
        log.info(
            "loaded the synced library (revision %s): %d playlist(s), %d of %d track(s) available",
            active.document.revision,
            len(library.playlists),
            library.available_tracks,
            library.total_tracks,
        )
        return library


def build_library(
    document: PlaylistsDocument,
    cache: MediaCache,
    now: datetime,
    *,
    whole_only: bool = False,
    shown: Collection[tuple[PlaylistId, str]] = (),
) -> Library:
    """The playlists of `document` valid at `now`, their tracks pointing into the cache.

    A track whose file is missing keeps ``media=None`` and a problem. With `whole_only`, a
    playlist missing files is left out instead, unless it is already `shown` ((id, revision)
    pairs): a playlist appears only once whole, and a file lost later costs only its track.
    """
    playlists: list[Playlist] = []
    for entry in document.valid_at(now):
        playlist = _playlist(entry, cache)
        missing = sum(1 for t in playlist.tracks if t.media is None)
        if missing and whole_only and (entry.id, entry.revision) not in shown:
            log.info(
                "playlist %r is open but %d of its %d file(s) are not cached yet; not shown",
                entry.id,
                missing,
                len(playlist.tracks),
            )
            continue
        playlists.append(playlist)
    ids = {p.id for p in playlists}
    featured = document.featured if document.featured in ids else None
    return Library(playlists=tuple(playlists), featured=featured)


def _playlist(entry: PlaylistEntry, cache: MediaCache) -> Playlist:
    tracks = []
    for t in entry.tracks:
        media = cache.path_for(t.sha256)
        tracks.append(
            Track(
                id=t.id,
                title=t.title,
                artist=t.artist or UNKNOWN_ARTIST,
                media=media,
                sha256=t.sha256,
                duration_ms=t.duration_ms,
                isrc=t.isrc,
                album=t.album,
                problem=None if media is not None else NOT_DOWNLOADED,
            )
        )
    return Playlist(
        id=entry.id,
        title=entry.title,
        note=entry.note,
        revision=entry.revision,
        tracks=tuple(tracks),
        hours=tuple(parse_window(h.days, h.start, h.end) for h in entry.hours),
    )
