"""The device playlists document (docs/tenant-api.md, "Content, for devices"), read strictly.

The document decides which bytes the kiosk downloads and plays, so it is checked as a whole
before anything else happens: any track whose hash, size or URL is not exactly what the
contract allows, a wrong type, a duplicate id or malformed JSON refuses the whole document
with a `DocumentError` naming the field, e.g.
``playlists[1].tracks[3].sha256: expected 64 hex digits (lowercase sha256), got 'a.flac'``.
The caller keeps its current content. Keys the contract does not name are ignored, so the
tenant can add fields without stranding deployed kiosks.

Validity windows are wall-clock instants (RFC 3339 UTC); nothing here reads the clock.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

from device.domain import DurationMs, PlaylistId, Sha256, TrackId

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "DocumentError",
    "Hours",
    "PlaylistEntry",
    "PlaylistsDocument",
    "TrackEntry",
    "media_path",
    "parse_document",
    "read_limited",
    "validate_document",
]

MAX_DOCUMENT_BYTES = 1 << 20  # the contract's limit: the device refuses anything larger

_SHA256 = re.compile(r"[0-9a-f]{64}")
_DAY = r"(?:mon|tue|wed|thu|fri|sat|sun)"
_DAYS = re.compile(rf"{_DAY}(?:-{_DAY})?(?:,{_DAY}(?:-{_DAY})?)*")
_TIME = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d|24:00")
_MAX_ID = 200
T = TypeVar("T")


class DocumentError(Exception):
    """The document is refused as a whole; `key` names the offending field."""

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        self.problem = problem
        super().__init__(f"{key}: {problem}" if key else problem)


@dataclass(frozen=True)
class Hours:
    """An opening-hours rule as sent (``days`` like ``mon-sat``; ``start``/``end`` HH:MM)."""

    days: str
    start: str
    end: str


@dataclass(frozen=True)
class TrackEntry:
    id: TrackId
    title: str
    artist: str
    album: str | None
    isrc: str | None
    duration_ms: DurationMs | None
    sha256: Sha256
    size: int
    url: str


@dataclass(frozen=True)
class PlaylistEntry:
    id: PlaylistId
    title: str
    note: str
    revision: str
    valid_from: datetime | None
    valid_until: datetime | None
    hours: tuple[Hours, ...]
    tracks: tuple[TrackEntry, ...]

    def is_valid_at(self, now: datetime) -> bool:
        """Inside its window at the wall-clock instant `now` (from inclusive, until exclusive)."""
        return (self.valid_from is None or self.valid_from <= now) and (
            self.valid_until is None or now < self.valid_until
        )

    def is_over_at(self, now: datetime) -> bool:
        return self.valid_until is not None and now >= self.valid_until


@dataclass(frozen=True)
class PlaylistsDocument:
    revision: str
    featured: PlaylistId | None
    playlists: tuple[PlaylistEntry, ...]
    raw: Mapping[str, Any]  # the JSON object as received, for persisting it unchanged

    def media(self, playlists: Iterable[PlaylistEntry] | None = None) -> dict[Sha256, int]:
        """Every media file the playlists (default: all of them) need, with its size."""
        chosen = self.playlists if playlists is None else playlists
        return {t.sha256: t.size for p in chosen for t in p.tracks}

    def valid_at(self, now: datetime) -> tuple[PlaylistEntry, ...]:
        return tuple(p for p in self.playlists if p.is_valid_at(now))

    def boundaries(self) -> tuple[datetime, ...]:
        """Every instant at which the set of valid playlists may change, sorted."""
        found = {t for p in self.playlists for t in (p.valid_from, p.valid_until) if t}
        return tuple(sorted(found))


def media_path(base_path: str, sha: str) -> str:
    """The only media URL the contract allows, as an absolute path on the tenant's host."""
    return f"{base_path.rstrip('/')}/v1/media/{sha}"


def read_limited(chunks: Iterable[bytes], limit: int = MAX_DOCUMENT_BYTES) -> bytes:
    """Join `chunks`, refusing as soon as more than `limit` bytes arrive (a tenant bug or an
    attacker must not fill the memory of a small device)."""
    parts: list[bytes] = []
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > limit:
            raise DocumentError("", f"larger than the {limit} bytes a device accepts")
        parts.append(chunk)
    return b"".join(parts)


def parse_document(data: bytes, base_url: str) -> PlaylistsDocument:
    """Decode and validate the document the tenant at `base_url` sent."""
    if len(data) > MAX_DOCUMENT_BYTES:
        raise DocumentError("", f"larger than the {MAX_DOCUMENT_BYTES} bytes a device accepts")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DocumentError("", f"not UTF-8 (byte {exc.start})") from None
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_nan)
    except DocumentError:
        raise
    except json.JSONDecodeError as exc:
        raise DocumentError("", f"malformed JSON: {exc}") from None
    except RecursionError:
        raise DocumentError("", "malformed JSON: nested too deeply") from None
    return validate_document(value, urlsplit(base_url).path)


def validate_document(value: object, base_path: str) -> PlaylistsDocument:
    """Validate an already decoded document; `base_path` is the tenant base URL's path."""
    top = _Object("", _expect("", value, dict, "a JSON object"))
    revision = top.text("revision")
    featured = top.optional("featured", str, "a playlist id")
    raw_playlists = top.required("playlists", list, "an array of playlists")
    playlists: list[PlaylistEntry] = []
    seen_playlists: dict[str, str] = {}
    seen_tracks: dict[str, tuple[str, TrackEntry]] = {}
    sizes: dict[str, tuple[str, int]] = {}
    for index, raw in enumerate(raw_playlists):
        key = f"playlists[{index}]"
        playlist = _playlist(key, raw, base_path, seen_tracks)
        if playlist.id in seen_playlists:
            raise DocumentError(
                f"{key}.id", f"duplicate id {playlist.id!r}, already {seen_playlists[playlist.id]}"
            )
        seen_playlists[playlist.id] = f"{key}.id"
        for i, track in enumerate(playlist.tracks):
            where = f"{key}.tracks[{i}].size"
            first = sizes.setdefault(track.sha256, (where, track.size))
            if first[1] != track.size:
                raise DocumentError(where, f"{track.size} bytes, but {first[0]} says {first[1]}")
        playlists.append(playlist)
    return PlaylistsDocument(
        revision=revision,
        featured=PlaylistId(featured) if featured else None,
        playlists=tuple(playlists),
        raw=value,  # type: ignore[arg-type]  # checked to be a dict above
    )


def _playlist(
    key: str, raw: object, base_path: str, seen_tracks: dict[str, tuple[str, TrackEntry]]
) -> PlaylistEntry:
    obj = _Object(key, _expect(key, raw, dict, "a playlist object"))
    playlist_id = obj.identifier("id")
    valid_from = obj.instant("valid_from")
    valid_until = obj.instant("valid_until")
    if valid_from and valid_until and valid_until <= valid_from:
        raise obj.fail("valid_until", "expected an instant after valid_from")
    hours = tuple(
        _hours(f"{key}.hours[{i}]", h)
        for i, h in enumerate(obj.optional("hours", list, "an array of opening hours") or [])
    )
    tracks: list[TrackEntry] = []
    for i, raw_track in enumerate(obj.required("tracks", list, "an array of tracks")):
        track_key = f"{key}.tracks[{i}]"
        track = _track(track_key, raw_track, base_path)
        # A track may appear more than once (the tenant allows it); one id, one description.
        first = seen_tracks.setdefault(track.id, (track_key, track))
        if first[1] != track:
            raise DocumentError(
                f"{track_key}.id",
                f"duplicate id {track.id!r} describing another track than {first[0]}",
            )
        tracks.append(track)
    return PlaylistEntry(
        id=PlaylistId(playlist_id),
        title=obj.text("title"),
        note=obj.optional("note", str, "an editorial note") or "",
        revision=obj.text("revision"),
        valid_from=valid_from,
        valid_until=valid_until,
        hours=hours,
        tracks=tuple(tracks),
    )


def _track(key: str, raw: object, base_path: str) -> TrackEntry:
    obj = _Object(key, _expect(key, raw, dict, "a track object"))
    sha = obj.required("sha256", str, "a sha256")
    if not _SHA256.fullmatch(sha):
        raise obj.fail("sha256", f"expected 64 hex digits (lowercase sha256), got {_show(sha)}")
    size = obj.required("size", int, "the file size in bytes")
    if size <= 0:
        raise obj.fail("size", f"expected a positive integer, got {size}")
    duration = obj.optional("duration_ms", int, "milliseconds")
    if duration is not None and duration < 0:
        raise obj.fail("duration_ms", f"expected a positive integer or null, got {duration}")
    url = obj.required("url", str, "the media path")
    _check_url(obj, url, base_path, sha)
    return TrackEntry(
        id=TrackId(obj.identifier("id")),
        title=obj.text("title"),
        artist=obj.optional("artist", str, "a string") or "",
        album=obj.optional("album", str, "a string") or None,
        isrc=obj.optional("isrc", str, "an ISRC") or None,
        duration_ms=DurationMs(duration) if duration is not None else None,
        sha256=Sha256(sha),
        size=size,
        url=url,
    )


def _check_url(obj: _Object, url: str, base_path: str, sha: str) -> None:
    expected = media_path(base_path, sha)
    if url == expected:
        return
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        where = f"names the host {parts.netloc!r}" if parts.netloc else "is absolute"
        raise obj.fail("url", f"expected the path {expected}, got a URL that {where}")
    raise obj.fail("url", f"expected exactly the path {expected}, got {_show(url)}")


def _hours(key: str, raw: object) -> Hours:
    obj = _Object(key, _expect(key, raw, dict, "an object like {days, from, to}"))
    days = obj.required("days", str, "days like mon-sat")
    if not _DAYS.fullmatch(days):
        raise obj.fail("days", f"expected days like 'mon-sat' or 'sat,sun', got {_show(days)}")
    start = obj.required("from", str, "HH:MM")
    end = obj.required("to", str, "HH:MM")
    for name, value in (("from", start), ("to", end)):
        if not _TIME.fullmatch(value):
            raise obj.fail(name, f"expected a time HH:MM, got {_show(value)}")
    return Hours(days, start, end)


class _Object:
    """One JSON object and the path of keys that leads to it, for error messages."""

    def __init__(self, prefix: str, value: dict[str, Any]) -> None:
        self.prefix = prefix
        self.value = value

    def fail(self, name: str, problem: str) -> DocumentError:
        return DocumentError(f"{self.prefix}.{name}" if self.prefix else name, problem)

    def required(self, name: str, kind: type[T], what: str) -> T:
        if name not in self.value:
            raise self.fail(name, f"missing, expected {_KINDS[kind]} ({what})")
        return _expect(self._key(name), self.value[name], kind, what)

    def optional(self, name: str, kind: type[T], what: str) -> T | None:
        value = self.value.get(name)
        return None if value is None else _expect(self._key(name), value, kind, what)

    def text(self, name: str) -> str:
        value = self.required(name, str, "a string")
        if not value.strip():
            raise self.fail(name, "expected a non-empty string, got ''")
        return value

    def identifier(self, name: str) -> str:
        value = self.required(name, str, "an id")
        if not 0 < len(value) <= _MAX_ID or any(c.isspace() or not c.isprintable() for c in value):
            raise self.fail(
                name, f"expected an id without spaces (1 to {_MAX_ID}), got {_show(value)}"
            )
        return value

    def instant(self, name: str) -> datetime | None:
        value = self.optional(name, str, "an RFC 3339 UTC instant")
        if value is None:
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is None or parsed.tzinfo is None or "T" not in value.upper():
            raise self.fail(
                name,
                f"expected an RFC 3339 instant like 2026-07-01T00:00:00Z, got {_show(value)}",
            )
        return parsed.astimezone(UTC)

    def _key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name


_KINDS: dict[type, str] = {
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "an array",
    dict: "an object",
}


def _expect(key: str, value: object, kind: type[T], what: str) -> T:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise DocumentError(key, f"expected {_KINDS[kind]} ({what}), got {_describe(value)}")
    return value


def _describe(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, list | dict):
        return _KINDS[type(value)]
    return f"{_KINDS.get(type(value), type(value).__name__)} ({_show(value)})"


def _show(value: object, limit: int = 80) -> str:
    """A value for a one-line log message: quoted, escaped and cut short."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise DocumentError("", f"malformed JSON: the key {_show(name)} appears twice")
        result[name] = value
    return result


def _no_nan(name: str) -> Any:
    raise DocumentError("", f"malformed JSON: {name} is not a JSON number")
