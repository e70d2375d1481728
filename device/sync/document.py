"""The device playlists document (docs/tenant-api.md, "Content, for devices"), read strictly.

The document decides which bytes the kiosk downloads and plays, so it is checked as a whole
before anything else happens: first against the contract's JSON Schema
(`contract/protocol/schemas/playlists.json`, with the machinery of the MQTT payloads), then by
a short pass for what a schema cannot say (media URLs under this tenant's base path, unique
ids, one size per file, a window that is not empty, text a file can store). Any problem refuses
the whole document with a `DocumentError` naming the field, e.g.
``playlists[1].tracks[3].sha256: expected 64 hex digits (lowercase sha256), got a string
('a.flac')``. The caller keeps its current content. Keys the contract does not name are
ignored, so the tenant can add fields without stranding deployed kiosks.

Validity windows are wall-clock instants (RFC 3339 UTC); nothing here reads the clock.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from contract.hours import WindowError, parse_window
from contract.protocol.payloads import PayloadError, validate
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

_MAX_ID = 200  # the schema's maxLength for ids


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
    try:
        validate("playlists", value)
    except PayloadError as exc:
        raise DocumentError(exc.where.removeprefix("(top level)"), exc.problem) from None
    assert isinstance(value, dict)  # the schema's top level is an object
    _refuse_unstorable_text(value)
    playlists: list[PlaylistEntry] = []
    seen_playlists: dict[str, str] = {}
    seen_tracks: dict[str, tuple[str, TrackEntry]] = {}
    sizes: dict[str, tuple[str, int]] = {}
    for index, raw in enumerate(value["playlists"]):
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
    featured = value.get("featured")
    return PlaylistsDocument(
        revision=value["revision"],
        featured=PlaylistId(featured) if featured else None,
        playlists=tuple(playlists),
        raw=value,
    )


def _playlist(
    key: str, raw: dict[str, Any], base_path: str, seen_tracks: dict[str, tuple[str, TrackEntry]]
) -> PlaylistEntry:
    valid_from = _instant(key, raw, "valid_from")
    valid_until = _instant(key, raw, "valid_until")
    if valid_from and valid_until and valid_until <= valid_from:
        raise DocumentError(f"{key}.valid_until", "expected an instant after valid_from")
    hours = tuple(_hours(f"{key}.hours[{i}]", h) for i, h in enumerate(raw.get("hours") or []))
    tracks: list[TrackEntry] = []
    for i, raw_track in enumerate(raw["tracks"]):
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
        id=PlaylistId(_identifier(key, raw["id"])),
        title=raw["title"],
        note=raw.get("note") or "",
        revision=raw["revision"],
        valid_from=valid_from,
        valid_until=valid_until,
        hours=hours,
        tracks=tuple(tracks),
    )


def _track(key: str, raw: dict[str, Any], base_path: str) -> TrackEntry:
    size = _whole(key, raw, "size", "the file size in bytes")
    duration = _whole(key, raw, "duration_ms", "milliseconds")
    sha, url = raw["sha256"], raw["url"]
    _check_url(key, url, base_path, sha)
    return TrackEntry(
        id=TrackId(_identifier(key, raw["id"])),
        title=raw["title"],
        artist=raw.get("artist") or "",
        album=raw.get("album") or None,
        isrc=raw.get("isrc") or None,
        duration_ms=DurationMs(duration) if duration is not None else None,
        sha256=Sha256(sha),
        size=size or 0,  # required by the schema, at least 1
        url=url,
    )


def _whole(key: str, raw: dict[str, Any], name: str, what: str) -> int | None:
    """An integer the schema admitted: JSON Schema counts 12.0 as one, the kiosk does not."""
    value = raw.get(name)
    if isinstance(value, float):
        raise DocumentError(f"{key}.{name}", f"expected an integer ({what}), got {_show(value)}")
    return value


def _identifier(key: str, value: str) -> str:
    if any(not c.isprintable() for c in value):
        raise DocumentError(
            f"{key}.id", f"expected an id without spaces (1 to {_MAX_ID}), got {_show(value)}"
        )
    return value


def _instant(key: str, raw: dict[str, Any], name: str) -> datetime | None:
    value = raw.get(name)
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value).astimezone(UTC)
    except ValueError:  # fits the schema's pattern but not the calendar (2026-02-30)
        raise DocumentError(
            f"{key}.{name}",
            f"expected an RFC 3339 instant like 2026-07-01T00:00:00Z, got {_show(value)}",
        ) from None


def _check_url(key: str, url: str, base_path: str, sha: str) -> None:
    expected = media_path(base_path, sha)
    if url == expected:
        return
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        where = f"names the host {parts.netloc!r}" if parts.netloc else "is absolute"
        raise DocumentError(f"{key}.url", f"expected the path {expected}, got a URL that {where}")
    raise DocumentError(f"{key}.url", f"expected exactly the path {expected}, got {_show(url)}")


def _hours(key: str, raw: dict[str, Any]) -> Hours:
    try:
        parse_window(raw["days"], raw["from"], raw["to"])
    except WindowError as exc:
        field, _, problem = str(exc).partition(": ")
        if field in ("days", "from", "to"):
            raise DocumentError(f"{key}.{field}", problem) from None
        raise DocumentError(key, str(exc)) from None
    return Hours(raw["days"], raw["from"], raw["to"])


def _refuse_unstorable_text(document: dict[str, Any]) -> None:
    """Refuse a string no file can hold (a lone surrogate such as JSON's "\\ud800"): the
    document is saved as UTF-8 once active, and must not fail there."""
    stack: list[tuple[str, object]] = [("", document)]
    while stack:
        key, value = stack.pop()
        if isinstance(value, str):
            _storable(key, value)
        elif isinstance(value, dict):
            for name, item in value.items():
                _storable(key, name)
                stack.append((f"{key}.{name}" if key else name, item))
        elif isinstance(value, list):
            stack.extend((f"{key}[{i}]", item) for i, item in enumerate(value))


def _storable(key: str, text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(text[exc.start])
        raise DocumentError(
            key, f"expected text, got a lone surrogate (U+{code:04X}) that no file can store"
        ) from None


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
