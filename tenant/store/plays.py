"""Play reports: stored once per (tenant, event id), and counted per track, artist, playlist,
site, kiosk or day."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

from sqlalchemy import BigInteger, and_, bindparam, case, func, literal, select

from tenant.store.database import Database
from tenant.store.records import PlayGroup
from tenant.store.reports import PlaysReport, write_reports
from tenant.store.reports import StoredPlays as StoredPlays  # re-exported by tenant.store
from tenant.store.schema import devices, playlists, plays, tenant_rules, tracks
from tenant.store.upsert import upsert

GroupBy = Literal["track", "artist", "playlist", "site", "device", "day"]
GROUPINGS: tuple[GroupBy, ...] = ("track", "artist", "playlist", "site", "device", "day")
DAY_MS = 86_400_000
UNKNOWN_ARTIST = "Unknown artist"
MAX_DAY_RANGES = 400  # days a report sums one range at a time; a longer period: one GROUP BY


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
        were listened to for at least `counted_ms` and the total time listened.

        The plays are summed first, from the covering index `plays_report` alone; only the
        few hundred sums are then joined to tracks, devices or playlists for their labels
        (joining every play to its track first took 5 s over 1,000,000 plays on SQLite). On
        SQLite a period of days is summed a day at a time and folded (`_folded`), by day
        without any GROUP BY (`_play_days`).
        """
        if by == "day" and _days(from_ms, to_ms) is not None:
            return self._play_days(slug, counted_ms, from_ms, to_ms)
        p = plays.c
        raw: Any = {
            "track": p.track_id, "artist": p.track_id, "site": p.site, "device": p.device_id,
            "playlist": p.playlist_id, "day": p.played_ms // DAY_MS,
        }[by]  # fmt: skip
        days = _days(from_ms, to_ms) if self._sqlite and by != "day" else None
        conditions = [p.tenant == slug]
        if days is not None:  # one day's range at a time, folded below
            conditions += [p.played_ms >= bindparam("lo"), p.played_ms < bindparam("hi")]
        if from_ms is not None and days is None:
            conditions.append(p.played_ms >= from_ms)
        if to_ms is not None and days is None:
            conditions.append(p.played_ms < to_ms)
        sums = (
            select(
                raw.label("key"),
                func.count().label("plays"),
                func.sum(case((p.listened_ms >= counted_ms, 1), else_=0)).label("counted"),
                func.sum(p.listened_ms).label("listened_ms"),
                func.sum(case((p.time_estimated, 1), else_=0)).label("time_estimated"),
            )
            .where(*conditions)
            .group_by(raw)
            .subquery("sums")
        )
        query = _labelled(sums, by, slug)
        with self._read() as conn:
            if days is None:
                rows = conn.execute(query).all()
            else:
                rows = _folded(conn.execute(query, {"lo": lo, "hi": hi}) for _, lo, hi in days)
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

    def _play_days(
        self, slug: str, counted_ms: int, from_ms: int | None, to_ms: int | None
    ) -> list[PlayGroup]:
        """`play_groups` by day as one index range per day, the days in order: each range is
        summed as it is read, where GROUP BY played_ms / DAY_MS sorts every play of the period
        first on SQLite (1.2 s over 1,000,000 plays, against about half without the sort)."""
        p = plays.c
        lo, hi = bindparam("lo", type_=BigInteger), bindparam("hi", type_=BigInteger)
        query = select(
            func.count(),
            func.sum(case((p.listened_ms >= counted_ms, 1), else_=0)),
            func.sum(p.listened_ms),
            func.sum(case((p.time_estimated, 1), else_=0)),
        ).where(p.tenant == slug, p.played_ms >= lo, p.played_ms < hi)
        groups = []
        with self._read() as conn:
            for day, start, end in _days(from_ms, to_ms) or ():
                count, counted, listened, estimated = conn.execute(
                    query, {"lo": start, "hi": end}
                ).one()
                if count:
                    groups.append(
                        PlayGroup(
                            key=_day(day), label=_day(day), plays=int(count),
                            counted=int(counted or 0), listened_ms=int(listened or 0),
                            time_estimated=int(estimated or 0),
                        )
                    )  # fmt: skip
        return groups

    def plays_per_day(
        self, slug: str, from_ms: int | None = None, to_ms: int | None = None
    ) -> list[tuple[str, int]]:
        """(day, plays) of the days with plays, in order: the console's chart beside a report
        by track or site, counting an index range per day (no sort; see `_play_days`)."""
        p = plays.c
        days = _days(from_ms, to_ms)
        with self._read() as conn:
            if days is None:
                day = p.played_ms // DAY_MS
                conditions = [p.tenant == slug]
                if from_ms is not None:
                    conditions.append(p.played_ms >= from_ms)
                if to_ms is not None:
                    conditions.append(p.played_ms < to_ms)
                grouped = select(day, func.count()).where(*conditions).group_by(day).order_by(day)
                return [(_day(d), int(n)) for d, n in conn.execute(grouped)]
            lo, hi = bindparam("lo", type_=BigInteger), bindparam("hi", type_=BigInteger)
            where = (p.tenant == slug, p.played_ms >= lo, p.played_ms < hi)
            query = select(func.count()).where(*where)
            counts = [
                (_day(d), int(conn.execute(query, {"lo": start, "hi": end}).scalar_one()))
                for d, start, end in days
            ]
        return [(day, n) for day, n in counts if n]


def _folded(days: Iterable[Iterable[Any]]) -> list[Any]:
    """The sums of each key over the days' rows (key, label, plays, counted, listened_ms,
    time_estimated). SQLite has no hash aggregate: its GROUP BY sorts the rows; a day's 33,000
    plays at a time, thirty times, took about a quarter less than a month's 1,000,000 at once
    (0.86-1.3 s against 1.15-2.6 s on the loaded 2-core VM; bench/console.py)."""
    totals: dict[Any, list[Any]] = {}
    for rows in days:
        for key, label, *sums in rows:
            found = totals.get(key)
            if found is None:
                totals[key] = [key, label, *(int(n or 0) for n in sums)]
            else:
                for i, n in enumerate(sums, start=2):
                    found[i] += int(n or 0)
    return [_Row(*values) for values in totals.values()]


class _Row(NamedTuple):
    key: Any
    label: Any
    plays: int
    counted: int
    listened_ms: int
    time_estimated: int


def _days(from_ms: int | None, to_ms: int | None) -> list[tuple[int, int, int]] | None:
    """(day since the epoch, first ms, end ms) of each UTC day between from_ms (included) and
    to_ms (excluded); None when a bound is missing or the period is too long to ask a day at a
    time (one GROUP BY then)."""
    if from_ms is None or to_ms is None or from_ms < 0 or to_ms <= from_ms:
        return None
    first, last = from_ms // DAY_MS, (to_ms - 1) // DAY_MS
    if last - first >= MAX_DAY_RANGES:
        return None
    return [
        (d, max(from_ms, d * DAY_MS), min(to_ms, (d + 1) * DAY_MS)) for d in range(first, last + 1)
    ]


def _labelled(sums: Any, by: GroupBy, slug: str) -> Any:
    """The sums with each group's label (an artist's sums are its tracks' sums added up)."""
    s = sums.c
    totals = (s.plays, s.counted, s.listened_ms, s.time_estimated)
    if by == "artist":
        artist = func.coalesce(tracks.c.artist, UNKNOWN_ARTIST)
        joined = sums.outerjoin(tracks, and_(tracks.c.tenant == slug, tracks.c.id == s.key))
        return (
            select(
                artist.label("key"), artist.label("label"),
                *(func.sum(c).label(c.name) for c in totals),
            )
            .select_from(joined)
            .group_by(artist)
        )  # fmt: skip
    if by == "track":
        label: Any = tracks.c.artist + literal(" — ") + tracks.c.title
        joined = sums.outerjoin(tracks, and_(tracks.c.tenant == slug, tracks.c.id == s.key))
    elif by == "device":
        label = devices.c.name
        joined = sums.outerjoin(
            devices, and_(devices.c.tenant == slug, devices.c.device_id == s.key)
        )
    elif by == "playlist":
        label = playlists.c.title
        joined = sums.outerjoin(
            playlists, and_(playlists.c.tenant == slug, playlists.c.id == s.key)
        )
    else:
        return select(s.key, s.key.label("label"), *totals)
    return select(s.key, label.label("label"), *totals).select_from(joined)


def _day(days_since_epoch: Any) -> str:
    return datetime.fromtimestamp(int(days_since_epoch) * DAY_MS / 1000, UTC).date().isoformat()
