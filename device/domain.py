"""Domain vocabulary shared by the core, the adapters and the journal.

Named types keep milliseconds, ids and hashes from being mixed up at the boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import NewType

from contract.hours import WeeklyWindow
from contract.ids import DurationMs as DurationMs
from contract.ids import Sha256 as Sha256
from contract.kiosk_settings import Action as Action  # bound in kiosk.toml too

TrackId = NewType("TrackId", str)
PlaylistId = NewType("PlaylistId", str)
EventId = NewType("EventId", str)


class EndReason(StrEnum):
    """Why a play ended; the tenant's rules decide what counts as a paid stream."""

    FINISHED = "finished"
    SKIPPED = "skipped"
    STOPPED = "stopped"
    ERROR = "error"
    INTERRUPTED = "interrupted"


class StartedBy(StrEnum):
    VISITOR = "visitor"
    AUTOPLAY = "autoplay"
    SCHEDULE = "schedule"


@dataclass(frozen=True)
class Track:
    """One track of a playlist; `media` is a verified cache path, or None when unavailable."""

    id: TrackId
    title: str
    artist: str
    media: Path | None
    sha256: Sha256 | None = None
    duration_ms: DurationMs | None = None
    isrc: str | None = None
    album: str | None = None
    problem: str | None = None  # why `media` is None, for the screen and the log


@dataclass(frozen=True)
class Playlist:
    """An editorial playlist as curated by the library."""

    id: PlaylistId
    title: str
    note: str
    revision: str
    tracks: tuple[Track, ...]
    hours: tuple[WeeklyWindow, ...] = ()  # its own hours (local time); empty: any time


@dataclass(frozen=True)
class Library:
    """Everything the kiosk may play right now; replaced as a whole, never edited in place."""

    playlists: tuple[Playlist, ...]
    featured: PlaylistId | None = None

    def find(self, playlist_id: PlaylistId | None) -> Playlist | None:
        return next((p for p in self.playlists if p.id == playlist_id), None)

    def featured_playlist(self) -> Playlist | None:
        return self.find(self.featured) or (self.playlists[0] if self.playlists else None)

    @property
    def available_tracks(self) -> int:
        return sum(1 for p in self.playlists for t in p.tracks if t.media is not None)

    @property
    def total_tracks(self) -> int:
        return sum(len(p.tracks) for p in self.playlists)


EMPTY_LIBRARY = Library(playlists=())


@dataclass(frozen=True)
class PlayItem:
    """What the core asks the player to play: a token it chose and a cache path."""

    token: int
    path: Path
