"""Play reports: stored once per (tenant, event id), and counted per track, artist, site, day."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import and_, case, func, literal, select

from tenant.store.database import Database
from tenant.store.records import PlayGroup
from tenant.store.reports import PlaysReport, write_reports
from tenant.store.reports import StoredPlays as StoredPlays  # re-exported by tenant.store
from tenant.store.schema import devices, plays, tenant_rules, tracks
from tenant.store.upsert import upsert

GroupBy = Literal["track", "artist", "site", "device", "day"]
GROUPINGS: tuple[GroupBy, ...] = ("track", "artist", "site", "device", "day")
DAY_MS = 86_400_000
UNKNOWN_ARTIST = "Unknown artist"


class PlayQueries(Database):
    def store_plays(
        self, slug: str, reports: Sequence[Mapping[str, Any]], received_ms: int
    ) -> StoredPlays:
        """Insert the plays not stored yet, in one transaction (committed when this returns).

        Every report must already be checked against the schema (the ingester writes a group
        of batches at once with `record_reports`).
        """
        by_device: dict[str, list[Mapping[str, Any]]] = {}
        for report in reports:
            by_device.setdefault(report["device_id"], []).append(report)
        batches = [PlaysReport(slug, device, group) for device, group in by_device.items()]
        with self._write() as conn:
            outcomes = write_reports(conn, batches, received_ms)
        stored = {i for outcome in outcomes for i in outcome.stored}
        foreign = {i for outcome in outcomes for i in outcome.foreign}
        ids = [report["event_id"] for report in reports]
        return StoredPlays([i for i in ids if i in stored], [i for i in ids if i in foreign])

    def counted_stream_ms(self, slug: str) -> int | None:
        """The tenant's own threshold of a counted stream, if it set one."""
        query = select(tenant_rules.c.counted_stream_ms).where(tenant_rules.c.tenant == slug)
        with self._read() as conn:
            value: int | None = conn.execute(query).scalar()
        return value

    def set_counted_stream_ms(self, slug: str, value: int | None) -> None:
        with self._write() as conn:
            row = {"counted_stream_ms": value}
            upsert(conn, tenant_rules, {"tenant": slug, **row}, row)

    def count_plays(self, slug: str) -> int:
        with self._read() as conn:
            count: int = conn.execute(
                select(func.count()).select_from(plays).where(plays.c.tenant == slug)
            ).scalar_one()
        return count

    def play_rows(self, slug: str) -> list[dict[str, Any]]:
        """Every stored play of a tenant, oldest first (for tests and exports)."""
        query = select(plays).where(plays.c.tenant == slug).order_by(plays.c.played_ms)
        with self._read() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def play_groups(
        self,
        slug: str,
        by: GroupBy,
        counted_ms: int,
        from_ms: int | None = None,
        to_ms: int | None = None,
    ) -> list[PlayGroup]:
        """Plays per group between `from_ms` (included) and `to_ms` (excluded), with how many
        were listened to for at least `counted_ms` and the total time listened."""
        key: Any
        label: Any
        source: Any = plays
        if by == "track":
            source = plays.outerjoin(
                tracks, and_(tracks.c.tenant == plays.c.tenant, tracks.c.id == plays.c.track_id)
            )
            key = plays.c.track_id
            label = func.max(tracks.c.artist + literal(" — ") + tracks.c.title)
        elif by == "artist":
            source = plays.outerjoin(
                tracks, and_(tracks.c.tenant == plays.c.tenant, tracks.c.id == plays.c.track_id)
            )
            key = func.coalesce(tracks.c.artist, UNKNOWN_ARTIST)
            label = key
        elif by == "site":
            key = label = plays.c.site
        elif by == "device":
            source = plays.outerjoin(
                devices,
                and_(devices.c.tenant == plays.c.tenant, devices.c.device_id == plays.c.device_id),
            )
            key = plays.c.device_id
            label = func.max(devices.c.name)
        else:
            key = label = plays.c.played_ms // DAY_MS
        conditions = [plays.c.tenant == slug]
        if from_ms is not None:
            conditions.append(plays.c.played_ms >= from_ms)
        if to_ms is not None:
            conditions.append(plays.c.played_ms < to_ms)
        counted = func.sum(case((plays.c.listened_ms >= counted_ms, 1), else_=0))
        query = (
            select(
                key.label("key"),
                label.label("label"),
                func.count().label("plays"),
                counted.label("counted"),
                func.sum(plays.c.listened_ms).label("listened_ms"),
                func.sum(case((plays.c.time_estimated, 1), else_=0)).label("time_estimated"),
            )
            .select_from(source)
            .where(*conditions)
            .group_by(key)
        )
        with self._read() as conn:
            rows = conn.execute(query).all()
        groups = [
            PlayGroup(
                key=_day(row.key) if by == "day" else str(row.key),
                label=_day(row.key) if by == "day" else str(row.label or row.key),
                plays=int(row.plays),
                counted=int(row.counted or 0),
                listened_ms=int(row.listened_ms or 0),
                time_estimated=int(row.time_estimated or 0),
            )
            for row in rows
        ]
        if by == "day":
            return sorted(groups, key=lambda g: g.key)
        return sorted(groups, key=lambda g: (-g.counted, -g.plays, g.key))


def _day(days_since_epoch: Any) -> str:
    return datetime.fromtimestamp(int(days_since_epoch) * DAY_MS / 1000, UTC).date().isoformat()
