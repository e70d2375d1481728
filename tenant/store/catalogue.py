"""Media, tracks, playlists and their assignments to sites and devices."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import fields
from typing import Any

from sqlalchemy import and_, delete, exists, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from tenant.store.database import Database
from tenant.store.records import Playlist, Track, record
from tenant.store.schema import assignments, media, playlist_tracks, playlists, tracks


class CatalogueQueries(Database):
    # ------------------------------------------------------------------ media, tracks

    def media_size(self, slug: str, sha256: str) -> int | None:
        query = select(media.c.size).where(media.c.tenant == slug, media.c.sha256 == sha256)
        with self._read() as conn:
            size: int | None = conn.execute(query).scalar()
        return size

    def add_media(self, slug: str, sha256: str, size: int, now_ms: int) -> bool:
        """False when the tenant already had it."""
        try:
            with self._write() as conn:
                conn.execute(
                    insert(media).values(tenant=slug, sha256=sha256, size=size, created_ms=now_ms)
                )
        except IntegrityError:
            return False
        return True

    def insert_track(self, track: Track) -> bool:
        """False when the tenant already has a track with this sha256 or id."""
        values = {f.name: getattr(track, f.name) for f in fields(track)}
        try:
            with self._write() as conn:
                conn.execute(insert(tracks).values(values))
        except IntegrityError:
            return False
        return True

    def update_track(
        self, slug: str, track_id: str, values: dict[str, Any]
    ) -> tuple[Track, list[str]] | None:
        """Change a track's descriptive fields (title, artist, album, ISRC): the track as it
        was and the ids of the playlists holding it (their revision changes). None: no track."""
        key = (tracks.c.tenant == slug, tracks.c.id == track_id)
        with self._write() as conn:
            row = conn.execute(select(tracks).where(*key)).first()
            if row is None:
                return None
            if values:
                conn.execute(update(tracks).where(*key).values(values))
            query = select(playlist_tracks.c.playlist_id).where(
                playlist_tracks.c.tenant == slug, playlist_tracks.c.track_id == track_id
            )
            holders = list(dict.fromkeys(r.playlist_id for r in conn.execute(query)))
        return record(Track, row), holders

    def track_by_sha256(self, slug: str, sha256: str) -> Track | None:
        query = select(tracks).where(tracks.c.tenant == slug, tracks.c.sha256 == sha256)
        with self._read() as conn:
            row = conn.execute(query).first()
        return None if row is None else record(Track, row)

    def list_tracks(self, slug: str) -> list[Track]:
        query = select(tracks).where(tracks.c.tenant == slug)
        with self._read() as conn:
            return [
                record(Track, row)
                for row in conn.execute(query.order_by(tracks.c.created_ms, tracks.c.id))
            ]

    def tracks_by_id(self, slug: str, ids: Iterable[str]) -> dict[str, Track]:
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        query = select(tracks).where(tracks.c.tenant == slug, tracks.c.id.in_(wanted))
        with self._read() as conn:
            return {row.id: record(Track, row) for row in conn.execute(query)}

    # ------------------------------------------------------------------ playlists

    def save_playlist(self, playlist: Playlist) -> bool:
        """Create or replace a playlist's content (not its assignments); True when created."""
        key = and_(playlists.c.tenant == playlist.tenant, playlists.c.id == playlist.id)
        values = {
            f.name: getattr(playlist, f.name)
            for f in fields(playlist)
            if f.name not in ("track_ids", "sites", "devices", "retired_ms")
        }
        with self._write() as conn:
            existing = conn.execute(select(playlists.c.featured).where(key)).first()
            if existing is None:
                conn.execute(insert(playlists).values(values))
            else:
                for keep in ("created_ms", "featured"):
                    del values[keep]
                conn.execute(update(playlists).where(key).values(values))
                conn.execute(
                    delete(playlist_tracks).where(
                        playlist_tracks.c.tenant == playlist.tenant,
                        playlist_tracks.c.playlist_id == playlist.id,
                    )
                )
            if playlist.track_ids:
                conn.execute(
                    insert(playlist_tracks),
                    [
                        {
                            "tenant": playlist.tenant,
                            "playlist_id": playlist.id,
                            "position": position,
                            "track_id": track_id,
                        }
                        for position, track_id in enumerate(playlist.track_ids)
                    ],
                )
        return existing is None

    def assign(
        self,
        slug: str,
        playlist_id: str,
        sites: Sequence[str],
        device_ids: Sequence[str],
        featured: bool,
        now_ms: int,
    ) -> bool:
        """Replace where a playlist goes and whether it is featured; False if it is unknown."""
        with self._write() as conn:
            result = conn.execute(
                update(playlists)
                .where(playlists.c.tenant == slug, playlists.c.id == playlist_id)
                .values(featured=featured, updated_ms=now_ms)
            )
            if result.rowcount == 0:
                return False
            conn.execute(
                delete(assignments).where(
                    assignments.c.tenant == slug, assignments.c.playlist_id == playlist_id
                )
            )
            rows = [("site", s) for s in dict.fromkeys(sites)]
            rows += [("device", d) for d in dict.fromkeys(device_ids)]
            if rows:
                conn.execute(
                    insert(assignments),
                    [
                        {"tenant": slug, "playlist_id": playlist_id, "kind": k, "target": t}
                        for k, t in rows
                    ],
                )
        return True

    def get_playlist(self, slug: str, playlist_id: str) -> Playlist | None:
        found = self._playlists(slug, playlists.c.id == playlist_id)
        return found[0] if found else None

    def list_playlists(self, slug: str) -> list[Playlist]:
        return self._playlists(slug)

    def playlists_for_device(
        self, slug: str, device_id: str, site: str | None, now_ms: int
    ) -> list[Playlist]:
        """Playlists assigned to the device or its site whose window has not closed (and not
        retired)."""
        return self._playlists(
            slug,
            _assigned_to(slug, device_id, site),
            playlists.c.retired_ms.is_(None),
            or_(playlists.c.valid_until_ms.is_(None), playlists.c.valid_until_ms > now_ms),
        )

    def media_assigned(
        self, slug: str, device_id: str, site: str | None, sha256: str, now_ms: int
    ) -> bool:
        """True when an open or upcoming playlist assigned to the device holds this file."""
        query = (
            select(tracks.c.id)
            .join(
                playlist_tracks,
                and_(
                    playlist_tracks.c.tenant == tracks.c.tenant,
                    playlist_tracks.c.track_id == tracks.c.id,
                ),
            )
            .join(
                playlists,
                and_(
                    playlists.c.tenant == playlist_tracks.c.tenant,
                    playlists.c.id == playlist_tracks.c.playlist_id,
                ),
            )
            .where(
                tracks.c.tenant == slug,
                tracks.c.sha256 == sha256,
                tracks.c.retired_ms.is_(None),
                playlists.c.retired_ms.is_(None),
                or_(playlists.c.valid_until_ms.is_(None), playlists.c.valid_until_ms > now_ms),
                _assigned_to(slug, device_id, site),
            )
            .limit(1)
        )
        with self._read() as conn:
            return conn.execute(query).first() is not None

    def _playlists(self, slug: str, *conditions: Any) -> list[Playlist]:
        query = (
            select(playlists)
            .where(playlists.c.tenant == slug, *conditions)
            .order_by(playlists.c.created_ms, playlists.c.id)
        )
        with self._read() as conn:
            rows = [record(Playlist, row) for row in conn.execute(query)]
            if not rows:
                return []
            ids = [p.id for p in rows]
            track_ids: dict[str, list[str]] = {i: [] for i in ids}
            for row in conn.execute(
                select(playlist_tracks.c.playlist_id, playlist_tracks.c.track_id)
                .where(playlist_tracks.c.tenant == slug, playlist_tracks.c.playlist_id.in_(ids))
                .order_by(playlist_tracks.c.playlist_id, playlist_tracks.c.position)
            ):
                track_ids[row.playlist_id].append(row.track_id)
            targets: dict[str, dict[str, list[str]]] = {i: {"site": [], "device": []} for i in ids}
            for target in conn.execute(
                select(assignments.c.playlist_id, assignments.c.kind, assignments.c.target)
                .where(assignments.c.tenant == slug, assignments.c.playlist_id.in_(ids))
                .order_by(assignments.c.target)
            ):
                targets[target.playlist_id][target.kind].append(target.target)
        return [
            Playlist(
                **{
                    f.name: getattr(p, f.name)
                    for f in fields(p)
                    if f.name not in ("track_ids", "sites", "devices")
                },
                track_ids=tuple(track_ids[p.id]),
                sites=tuple(targets[p.id]["site"]),
                devices=tuple(targets[p.id]["device"]),
            )
            for p in rows
        ]


def _assigned_to(slug: str, device_id: str, site: str | None) -> Any:
    target = and_(assignments.c.kind == "device", assignments.c.target == device_id)
    if site is not None:
        target = or_(target, and_(assignments.c.kind == "site", assignments.c.target == site))
    return exists().where(
        assignments.c.tenant == slug,
        assignments.c.playlist_id == playlists.c.id,
        target,
    )
