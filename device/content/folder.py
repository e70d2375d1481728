"""Playlists from a local folder: a ``playlists.toml`` next to the audio files it names.

This is how a library curates without a tenant (a USB stick, or the content folder on the
SD card). The format, in full::

    featured = "festival"                # optional: the playlist shown first (default: the first)

    [[playlist]]
    id = "festival"                      # required, unique: lowercase letters, digits, - and _
    title = "Festival des Suds 2026"     # required
    note = "Les artistes du festival, à écouter avant le concert."   # optional editorial note
    tracks = [                           # required, at least one
        "01-ouverture.flac",             # a file, relative to the folder
        { file = "02.flac", title = "…", artist = "…", album = "…", isrc = "…", id = "…" },
    ]

In a table entry only ``file`` is required. ``title``, ``artist``, ``album`` and ``isrc`` override
the file's own tags (without either: the file name's stem and "Unknown artist"); ``id`` overrides
the default track id ``sha256:<hex of the content>``, and must name one file only.

Anything else (bad TOML, an unknown or missing key, a wrong type, a duplicate id, ``featured``
naming no playlist) raises `ContentError` (the project's one `ConfigError`), naming the file,
the key (``playlist[2].tracks[0].file``) and what was expected, for every problem of the file at
once: the folder is refused as a whole and the kiosk keeps its current library.
A single unusable file (missing, a directory, an absolute path, outside the folder through ``..``
or a symlink) costs only its track, which keeps ``media=None`` and a ``problem``; it is logged and
the other tracks load. Every file used is copied into the `MediaCache`, and tracks point at the
cache, never at the folder, so the player reads nothing a visitor's USB stick could swap.
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from contract.files import atomic_write
from contract.ids import is_sha256, sha256
from contract.media import CacheError, MediaCache
from contract.tags import normalise_isrc, read_tags
from contract.toml_reader import ConfigError, Problems, Section, article, kind_of, parse_toml, typed
from device.domain import Library, Playlist, PlaylistId, Sha256, Track, TrackId

__all__ = ["PLAYLISTS_FILE", "UNKNOWN_ARTIST", "ContentError", "FolderContentSource"]

log = logging.getLogger(__name__)

PLAYLISTS_FILE = "playlists.toml"
UNKNOWN_ARTIST = "Unknown artist"

_PLAYLIST_ID = re.compile(r"[a-z0-9_-]{1,64}")
_TOP_KEYS = {"featured", "playlist"}
_PLAYLIST_KEYS = {"id", "title", "note", "tracks"}
_TRACK_KEYS = {"file", "title", "artist", "album", "isrc", "id"}

T = TypeVar("T")

HASH_INDEX = "folder-hashes.json"

# The folder's playlists cannot be loaded: the same error as any configuration file's.
ContentError = ConfigError


@dataclass(frozen=True)
class _Entry:
    key: str  # where it was written, e.g. playlist[0].tracks[3]
    file: str
    title: str | None = None
    artist: str | None = None
    album: str | None = None
    isrc: str | None = None
    id: str | None = None


@dataclass(frozen=True)
class _PlaylistSpec:
    key: str
    id: PlaylistId
    title: str
    note: str
    entries: tuple[_Entry, ...]


@dataclass(frozen=True)
class _Cached:
    sha: Sha256
    path: Path


class FolderContentSource:
    """A `ContentSource` reading ``<folder>/playlists.toml`` and caching the files it names."""

    def __init__(self, folder: Path, cache: MediaCache) -> None:
        self.folder = Path(folder).absolute()
        self.cache = cache
        self._hash_index = cache.root / HASH_INDEX
        self._known: dict[str, str] = {}

    @property
    def playlists_file(self) -> Path:
        return self.folder / PLAYLISTS_FILE

    def load(self) -> Library:
        """Validate the whole description, then cache every file; raises ContentError."""
        specs, featured = _parse_playlists(self.playlists_file)
        memo: dict[Path, _Cached | str] = {}
        self._known = self._read_hash_index()
        playlists = tuple(self._playlist(spec, memo) for spec in specs)
        self._write_hash_index()
        library = Library(playlists=playlists, featured=featured or playlists[0].id)
        log.info(
            "loaded %d playlist(s) from %s, %d of %d track(s) available",
            len(playlists),
            self.folder,
            library.available_tracks,
            library.total_tracks,
        )
        return library

    def _playlist(self, spec: _PlaylistSpec, memo: dict[Path, _Cached | str]) -> Playlist:
        tracks = tuple(self._track(spec, entry, memo) for entry in spec.entries)
        return Playlist(
            id=spec.id,
            title=spec.title,
            note=spec.note,
            revision=_revision(spec, tracks),
            tracks=tracks,
        )

    def _track(self, spec: _PlaylistSpec, entry: _Entry, memo: dict[Path, _Cached | str]) -> Track:
        stem = PurePosixPath(entry.file).stem or entry.file
        located = self._locate(entry.file)
        if isinstance(located, Path):
            if located not in memo:
                memo[located] = self._cache(located)
            cached = memo[located]
        else:
            cached = located
        if isinstance(cached, str):
            log.warning(
                "playlist %r %s %r: %s; track unavailable", spec.id, entry.key, entry.file, cached
            )
            return Track(
                id=TrackId(entry.id or f"file:{entry.file}"),
                title=entry.title or stem,
                artist=entry.artist or UNKNOWN_ARTIST,
                media=None,
                isrc=entry.isrc,
                album=entry.album,
                problem=cached,
            )
        tags = read_tags(cached.path)
        if tags.problem:
            log.warning(
                "playlist %r %s %r: no tags (%s); cached anyway, the player will judge",
                spec.id,
                entry.key,
                entry.file,
                tags.problem,
            )
        return Track(
            id=TrackId(entry.id or f"sha256:{cached.sha}"),
            title=entry.title or tags.title or stem,
            artist=entry.artist or tags.artist or UNKNOWN_ARTIST,
            media=cached.path,
            sha256=cached.sha,
            duration_ms=tags.duration_ms,
            isrc=entry.isrc or tags.isrc,
            album=entry.album or tags.album,
        )

    def _locate(self, name: str) -> Path | str:
        """The real file an entry names, or why it cannot be used."""
        if "\x00" in name:
            return "the file name contains a NUL character"
        relative = PurePosixPath(name)
        if relative.is_absolute():
            return "absolute paths are not allowed, give a path relative to the folder"
        if os.path.normpath(relative).split(os.sep)[0] == "..":
            return "outside the playlist folder ('..')"
        candidate = self.folder / relative
        try:
            resolved = candidate.resolve(strict=True)
        except FileNotFoundError:
            return "file not found"
        except (OSError, RuntimeError) as exc:
            return f"cannot resolve the path: {exc}"
        if not resolved.is_relative_to(self.folder.resolve()):
            return "a symlink leading outside the playlist folder"
        try:
            mode = os.stat(resolved).st_mode
        except OSError as exc:
            return f"cannot read: {exc.strerror or exc}"
        if stat.S_ISDIR(mode):
            return "a directory, not a file"
        if not stat.S_ISREG(mode):
            return "not a regular file"
        return resolved

    def _cache(self, path: Path) -> _Cached | str:
        key = _stat_key(path)
        known = self._known.get(key) if key else None
        if known and is_sha256(known) and (cached := self.cache.path_for(Sha256(known))):
            return _Cached(Sha256(known), cached)  # unchanged since last time: no re-hashing
        try:
            sha = self.cache.add_file(path)
        except CacheError as exc:
            return f"not cached: {exc}"
        if key:
            self._known[key] = sha
        cached = self.cache.path_for(sha)
        return _Cached(sha, cached) if cached else "not cached: vanished from the cache"

    def _read_hash_index(self) -> dict[str, str]:
        """Hashes of the folder's files by (path, inode, size, mtime), as git's index does, so
        a boot does not re-read gigabytes of unchanged audio."""
        try:
            data = json.loads(self._hash_index.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):  # a damaged index only costs re-hashing
            return {}
        if not isinstance(data, dict):
            return {}
        return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}

    def _write_hash_index(self) -> None:
        try:
            atomic_write(self._hash_index, json.dumps(self._known, sort_keys=True).encode())
        except OSError as exc:
            log.warning("cannot save the hash index %s: %s", self._hash_index, exc)


def _stat_key(path: Path) -> str | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return f"{path}|{st.st_ino}|{st.st_size}|{st.st_mtime_ns}"


def _required(table: Section, name: str, kind: type[T], what: str) -> T | None:
    return table.require(name, typed(kind, what), f"missing, expected {article(kind)} ({what})")


def _optional(table: Section, name: str, kind: type[T], what: str) -> T | None:
    return table.get(name, None, typed(kind, what))


def _parse_playlists(path: Path) -> tuple[list[_PlaylistSpec], PlaylistId | None]:
    """Validate ``playlists.toml`` completely before anything is cached."""
    document = _read_toml(path)
    problems = Problems(ContentError)
    top = Section(problems, path, "", document, _TOP_KEYS)
    featured = _optional(top, "featured", str, "the id of a playlist")
    raw_playlists = _required(top, "playlist", list, "[[playlist]] tables")
    if raw_playlists == []:
        top.fail("playlist", "expected at least one [[playlist]]")

    specs: list[_PlaylistSpec] = []
    playlist_keys: dict[str, str] = {}
    track_files: dict[str, tuple[str, str]] = {}  # explicit track id -> (key, normalised file)
    for index, raw in enumerate(raw_playlists or []):
        key = f"playlist[{index}]"
        raw_table = top.value(key, raw, typed(dict, "[[playlist]]"), None)
        if raw_table is None:
            continue
        table = Section(problems, path, key, raw_table, _PLAYLIST_KEYS)
        playlist_id = _required(table, "id", str, "a playlist id")
        if playlist_id is not None and not _PLAYLIST_ID.fullmatch(playlist_id):
            table.fail(
                "id",
                f"expected lowercase letters, digits, '-' or '_' (1 to 64), got {playlist_id!r}",
            )
        elif playlist_id is not None and playlist_id in playlist_keys:
            table.fail(
                "id",
                f"duplicate id {playlist_id!r}, already used by {playlist_keys[playlist_id]}; "
                "expected a unique id",
            )
        elif playlist_id is not None:
            playlist_keys[playlist_id] = key
        title = _required(table, "title", str, "the title shown on the screen")
        if title is not None and not title.strip():
            table.fail("title", "expected a non-empty string, got ''")
        note = _optional(table, "note", str, "an editorial note") or ""
        raw_tracks = _required(table, "tracks", list, "an array of file names or tables")
        if raw_tracks == []:
            table.fail("tracks", "expected at least one track, got an empty array")
        entries = [
            _entry(Section(problems, path, key, {}, set()), f"tracks[{i}]", raw_track, track_files)
            for i, raw_track in enumerate(raw_tracks or [])
        ]
        usable = tuple(e for e in entries if e is not None)
        if table.clean and playlist_id and title and len(usable) == len(entries):
            specs.append(_PlaylistSpec(key, PlaylistId(playlist_id), title, note, usable))

    if featured is not None and problems.mark() == 0 and featured not in playlist_keys:
        top.fail(
            "featured",
            f"expected the id of a playlist (one of: {', '.join(playlist_keys)}), got {featured!r}",
        )
    problems.check()
    return specs, PlaylistId(featured) if featured is not None else None


def _entry(
    parent: Section, name: str, raw: object, track_files: dict[str, tuple[str, str]]
) -> _Entry | None:
    """One track of a playlist, or None (recorded) when it is unusable."""
    key = parent.key(name)
    if isinstance(raw, str):
        file = _file_name(parent, name, raw)
        return _Entry(key, file) if file else None
    if not isinstance(raw, dict):
        parent.fail(
            name, f'expected a file name or a table like {{ file = "…" }}, got {kind_of(raw)}'
        )
        return None
    table = Section(parent.problems, parent.source, key, raw, _TRACK_KEYS)
    given = _required(table, "file", str, "a file name")
    file = _file_name(table, "file", given) if given is not None else None
    texts = {name: _optional(table, name, str, "a string") for name in ("title", "artist", "album")}
    for text_name, value in texts.items():
        if value is not None and not value.strip():
            table.fail(text_name, "expected a non-empty string, got ''")
    isrc = _optional(table, "isrc", str, "an ISRC")
    if isrc is not None:
        normalised = normalise_isrc(isrc)
        if normalised is None:
            table.fail("isrc", f"expected an ISRC like FRZ032600001, got {isrc!r}")
        isrc = normalised
    track_id = _optional(table, "id", str, "a track id")
    if track_id is not None:
        if not track_id.strip() or any(c.isspace() or not c.isprintable() for c in track_id):
            table.fail("id", f"expected a track id without spaces, got {track_id!r}")
        elif file is not None:
            normalised_file = os.path.normpath(file)
            first = track_files.setdefault(track_id, (f"{key}.id", normalised_file))
            if first[1] != normalised_file:
                table.fail(
                    "id",
                    f"duplicate track id {track_id!r}, already used by {first[0]} for another "
                    "file; expected one id per file",
                )
    if not table.clean or file is None:
        return None
    return _Entry(key, file, texts["title"], texts["artist"], texts["album"], isrc, track_id)


def _file_name(section: Section, name: str, value: str) -> str | None:
    if not value.strip():
        section.fail(name, "expected a file name relative to the folder, got ''")
        return None
    return value


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ContentError(
            path, "", "not found; the content folder needs this file to describe its playlists"
        ) from None
    except OSError as exc:
        raise ContentError(path, "", f"cannot read: {exc.strerror or exc}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ContentError(path, "", f"not UTF-8 text (byte {exc.start})") from exc
    return parse_toml(text, path, ContentError)


def _revision(spec: _PlaylistSpec, tracks: tuple[Track, ...]) -> str:
    """A short hash of everything the playlist says, so any change makes a new revision."""
    payload = [
        spec.id,
        spec.title,
        spec.note,
        [[t.id, t.sha256, t.title, t.artist, t.album, t.isrc] for t in tracks],
    ]
    encoded = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return sha256(encoded).hexdigest()[:12]
