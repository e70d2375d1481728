"""What kiosks report over MQTT, written to the database many at a time in one transaction.

The ingester turns a group of messages into these reports and hands them over together
(`FleetQueries.record_reports`): one transaction, one commit (one fsync on SQLite) for the whole
group instead of one per message. Every write is idempotent, keyed by (tenant, device[, event
or request]): the same message written again, or by two ingesters, leaves the same rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, and_, case, func, or_, select

from tenant.store.play_time import date_plays
from tenant.store.schema import commands, device_status, plays
from tenant.store.upsert import insert_ignore, upsert, upsert_many, upsert_many_with

# The play-batch fields stored as they are (docs/protocol.md, schema play-batch).
REPORT_FIELDS = (
    "event_id", "device_id", "site", "seq", "firmware_version", "boot_id", "playlist_id",
    "playlist_revision", "track_id", "isrc", "track_duration_ms", "started_by",
    "started_wall_ms", "clock_synced", "started_uptime_ms", "listened_ms", "end_reason",
    "ended_wall_ms", "error",
)  # fmt: skip
LOOKUP_CHUNK = 400  # event ids per SELECT: well under SQLite's variable limit


@dataclass(frozen=True)
class PlaysReport:
    """Plays of one batch, checked against the schema and owned by `device_id`."""

    tenant: str
    device_id: str
    plays: Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class StatusReport:
    tenant: str
    device_id: str
    online: bool
    reason: str | None
    boot_id: str | None


@dataclass(frozen=True)
class HeartbeatReport:
    tenant: str
    device_id: str
    heartbeat: str  # the payload, as JSON


@dataclass(frozen=True)
class StateReport:
    """The desired-state version a device applied (its retained reported state)."""

    tenant: str
    device_id: str
    version: int
    status: str
    problem: str | None
    missing: str | None  # JSON list of playlist ids


@dataclass(frozen=True)
class ResultReport:
    tenant: str
    device_id: str
    request_id: str
    command: str | None
    ok: bool
    error: str | None
    result: str | None  # JSON object


DeviceReport = PlaysReport | StatusReport | HeartbeatReport | StateReport | ResultReport


Latest = TypeVar("Latest", HeartbeatReport, StateReport, StatusReport)


@dataclass(frozen=True)
class StoredPlays:
    """The outcome of one batch: `stored` are in the database now (just inserted or already
    there), `foreign` are event ids another device of the tenant already used."""

    stored: list[str]
    foreign: list[str]


def write_reports(
    conn: Connection, reports: Sequence[DeviceReport], now_ms: int
) -> list[StoredPlays]:
    """Write every report inside `conn`'s transaction; one StoredPlays per PlaysReport, in
    order. Only the latest heartbeat and reported state of each device are written: each
    replaces the previous one anyway."""
    outcomes = _write_plays(conn, [r for r in reports if isinstance(r, PlaysReport)], now_ms)
    _write_statuses(conn, [r for r in reports if isinstance(r, StatusReport)], now_ms)
    heartbeats = _latest(r for r in reports if isinstance(r, HeartbeatReport))
    upsert_many(
        conn,
        device_status,
        [
            {**_key(h), "heartbeat": h.heartbeat, "heartbeat_ms": now_ms}
            for h in heartbeats.values()
        ],
        ("heartbeat", "heartbeat_ms"),
    )
    states = _latest(r for r in reports if isinstance(r, StateReport))
    upsert_many(
        conn,
        device_status,
        [
            {
                **_key(s),
                "reported_version": s.version,
                "reported_status": s.status,
                "reported_problem": s.problem,
                "reported_missing": s.missing,
                "reported_ms": now_ms,
            }
            for s in states.values()
        ],
        ("reported_version", "reported_status", "reported_problem", "reported_missing",
         "reported_ms"),
    )  # fmt: skip
    for result in reports:
        if isinstance(result, ResultReport):  # a result for a request never sent is kept too
            values = {
                "ok": result.ok,
                "error": result.error,
                "result": result.result,
                "result_ms": now_ms,
            }
            key = {**_key(result), "request_id": result.request_id}
            upsert(conn, commands, {**key, **values, "command": result.command}, values)
    return outcomes


def _write_plays(
    conn: Connection, batches: Sequence[PlaysReport], received_ms: int
) -> list[StoredPlays]:
    """Insert the plays not stored yet, then read back who owns each event id: a play is
    acknowledged only if the stored row is of the device that sent it."""
    rows = [_row(b.tenant, play, received_ms) for b in batches for play in b.plays]
    if not rows:
        return [StoredPlays([], []) for _ in batches]
    date_plays(conn, rows, received_ms)  # an unsynced clock: re-based on its boot (play_time.py)
    insert_ignore(conn, plays, rows)
    # One tenant per query, `event_id IN (…)`: PostgreSQL plans a list of (tenant, event id)
    # pairs as one OR branch per pair (~30 ms for 250), an IN list as one index scan.
    by_tenant: dict[str, list[str]] = {}
    for row in rows:
        by_tenant.setdefault(row["tenant"], []).append(row["event_id"])
    owners: dict[tuple[str, str], str] = {}
    for slug, event_ids in by_tenant.items():
        unique = list(dict.fromkeys(event_ids))
        for start in range(0, len(unique), LOOKUP_CHUNK):
            query = select(plays.c.event_id, plays.c.device_id).where(
                plays.c.tenant == slug, plays.c.event_id.in_(unique[start : start + LOOKUP_CHUNK])
            )
            owners.update({(slug, r.event_id): r.device_id for r in conn.execute(query)})
    outcomes = []
    for batch in batches:
        ids = [play["event_id"] for play in batch.plays]
        found = {i: owners.get((batch.tenant, i)) for i in ids}
        stored = [i for i in ids if found[i] == batch.device_id]
        foreign = [i for i in ids if found[i] is not None and found[i] != batch.device_id]
        outcomes.append(StoredPlays(stored, foreign))
    return outcomes


def _write_statuses(conn: Connection, reports: Sequence[StatusReport], now_ms: int) -> None:
    """Online or offline, the latest of each device in the group, in one statement (a broker
    restart brings thousands at once). `since_ms` moves only when being online (or the boot)
    changes, so the retained status delivered again after an ingester restart keeps it."""
    rows = [
        {**_key(r), "online": r.online, "reason": r.reason, "status_ms": now_ms,
         "since_ms": now_ms, "boot_id": r.boot_id}
        for r in _latest(reports).values()
    ]  # fmt: skip
    s = device_status.c

    def update(offered: Any) -> dict[str, Any]:
        changed = or_(
            s.online.is_distinct_from(offered.online),
            s.since_ms.is_(None),
            and_(offered.boot_id.is_not(None), s.boot_id.is_distinct_from(offered.boot_id)),
        )
        return {
            "online": offered.online,
            "reason": offered.reason,
            "status_ms": offered.status_ms,
            "since_ms": case((changed, offered.since_ms), else_=s.since_ms),
            "boot_id": func.coalesce(offered.boot_id, s.boot_id),
        }

    upsert_many_with(conn, device_status, rows, update)


def _row(slug: str, report: Mapping[str, Any], received_ms: int) -> dict[str, Any]:
    row = {name: report[name] for name in REPORT_FIELDS}
    row["tenant"] = slug
    row["received_ms"] = received_ms
    row["played_ms"] = report["started_wall_ms"] if report["clock_synced"] else received_ms
    return row


def _latest(reports: Iterable[Latest]) -> dict[tuple[str, str], Latest]:
    return {(r.tenant, r.device_id): r for r in reports}


def _key(report: DeviceReport) -> dict[str, Any]:
    return {"tenant": report.tenant, "device_id": report.device_id}
