"""Tracks and playlists as the API shows them, and the per-device playlist document.

Pure functions over store records: no SQL, no HTTP. A playlist's revision is a hash of what a
device sees of it, so an unchanged playlist keeps its revision and its document keeps its ETag.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from contract.hours import window_problems
from tenant.audit import record_change
from tenant.context import ServiceContext
from tenant.errors import ApiError
from tenant.store import Playlist, Tenant, Track
from tenant.timefmt import rfc3339

ISRC = re.compile(r"[A-Z]{2}[A-Z0-9]{3}[0-9]{7}")
PLAYLIST_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")

Json = dict[str, Any]


def track_id_for(sha256: str) -> str:
    return "trk-" + sha256[:16]


def media_path(slug: str, sha256: str) -> str:
    return f"/t/{slug}/v1/media/{sha256}"


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def track_view(track: Track) -> Json:
    return {
        "id": track.id,
        "sha256": track.sha256,
        "size": track.size,
        "title": track.title,
        "artist": track.artist,
        "album": track.album,
        "isrc": track.isrc,
        "duration_ms": track.duration_ms,
        "replaygain_track_gain_db": track.replaygain_track_gain_db,
    }


def device_track_view(slug: str, track: Track) -> Json:
    view = track_view(track)
    view["url"] = media_path(slug, track.sha256)
    return view


def hours_problems(hours: Sequence[Mapping[str, Any]]) -> list[str]:
    """What is wrong with opening hours `[{"days": "mon-sat", "from": "10:00", "to": "19:00"}]`,
    by the contract's grammar (`contract.hours`), as the kiosk will read them."""
    return [
        f"hours[{i}].{problem}"
        for i, entry in enumerate(hours)
        for problem in window_problems(entry.get("days"), entry.get("from"), entry.get("to"))
    ]


def playlist_content(slug: str, playlist: Playlist, tracks: Mapping[str, Track]) -> Json:
    """What a device sees of a playlist, without its revision."""
    return {
        "id": playlist.id,
        "title": playlist.title,
        "note": playlist.note,
        "valid_from": rfc3339(playlist.valid_from_ms),
        "valid_until": rfc3339(playlist.valid_until_ms),
        "hours": json.loads(playlist.hours),
        "tracks": [
            device_track_view(slug, tracks[t])
            for t in playlist.track_ids
            if t in tracks and tracks[t].retired_ms is None  # a retired track leaves kiosks
        ],
    }


def playlist_revision(content: Json) -> str:
    return hashlib.sha256(canonical_json(content)).hexdigest()[:20]


def admin_playlist_view(slug: str, playlist: Playlist, tracks: Mapping[str, Track]) -> Json:
    view = playlist_content(slug, playlist, tracks)
    view["revision"] = playlist.revision
    view["featured"] = playlist.featured
    view["sites"] = list(playlist.sites)
    view["devices"] = list(playlist.devices)
    view["updated_at"] = rfc3339(playlist.updated_ms)
    return view


def is_open(playlist: Playlist, now_ms: int) -> bool:
    started = playlist.valid_from_ms is None or playlist.valid_from_ms <= now_ms
    return started and (playlist.valid_until_ms is None or now_ms < playlist.valid_until_ms)


def featured_id(candidates: Sequence[Playlist], now_ms: int) -> str | None:
    """The featured playlist of a device: the open featured one that started last, else the
    featured one that opens first, else None."""
    featured = [p for p in candidates if p.featured]
    open_now = [p for p in featured if is_open(p, now_ms)]
    if open_now:
        return max(open_now, key=lambda p: (p.valid_from_ms or 0, p.updated_ms)).id
    upcoming = sorted(featured, key=lambda p: (p.valid_from_ms or 0, p.id))
    return upcoming[0].id if upcoming else None


def device_document(
    slug: str,
    playlists: Sequence[Playlist],
    tracks: Mapping[str, Track],
    now_ms: int,
    retired: Sequence[str] = (),
) -> Json:
    """`GET /v1/device/playlists`: the playlists given, with the document's revision, and the
    media of retired tracks and playlists, which kiosks delete when nothing else needs them."""
    body: Json = {
        "featured": featured_id(playlists, now_ms),
        "playlists": [],
    }
    if retired:
        body["retired"] = list(retired)
    for playlist in playlists:
        content = playlist_content(slug, playlist, tracks)
        content["revision"] = playlist.revision
        body["playlists"].append(content)
    revision = hashlib.sha256(canonical_json(body)).hexdigest()
    return {"revision": revision, **body}


TRACK_FIELDS = ("title", "artist", "album", "isrc")  # what staff may correct; the file stays


def edit_track(
    ctx: ServiceContext, tenant: Tenant, track_id: str, changes: Mapping[str, str | None], *,
    actor: str,
) -> Json:  # fmt: skip
    """Correct a track's title, artist, album or ISRC (the API, CLI and console call this).

    The playlists holding it get a new revision, so kiosks fetch the new text at their next
    sync; plays already counted keep their track id and show the new text in reports.
    """
    values = {k: v for k, v in changes.items() if k in TRACK_FIELDS}
    found = ctx.store.update_track(tenant.slug, track_id, values)
    if found is None:
        raise ApiError(404, "not_found", f"no track {track_id!r}")
    before, holders = found
    after = ctx.store.tracks_by_id(tenant.slug, [track_id])[track_id]
    if after == before:
        return track_view(after)
    now_ms = ctx.settings.now_ms()
    for playlist_id in holders:  # what kiosks see of these changed: a new revision
        playlist = ctx.store.get_playlist(tenant.slug, playlist_id)
        if playlist is None:
            continue
        tracks = ctx.store.tracks_by_id(tenant.slug, playlist.track_ids)
        revision = playlist_revision(playlist_content(tenant.slug, playlist, tracks))
        ctx.store.set_playlist_revision(tenant.slug, playlist_id, revision, now_ms)
    changed = [k for k in TRACK_FIELDS if getattr(before, k) != getattr(after, k)]
    record_change(
        ctx, tenant.slug, actor, "track.edit", "track", track_id,
        before={k: getattr(before, k) for k in changed},
        after={k: getattr(after, k) for k in changed},
    )  # fmt: skip
    return track_view(after)
