"""When a play happened, for a kiosk whose clock was not synced when it started.

Each play carries its boot id, its uptime at start (the monotonic clock) and whether the wall
clock was synced. The first synced play of a boot seen here fixes that boot's offset (wall
time minus uptime, `boot_clocks`); every unsynced play of the same boot is then dated uptime +
offset, those stored before included. A boot never seen synced keeps the time of arrival (an
upper bound). Either way `time_estimated` says the date is not the kiosk's synced clock's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, select, update

from tenant.store.schema import boot_clocks, plays
from tenant.store.upsert import insert_ignore

BootKey = tuple[str, str, str]  # tenant, device, boot id


def date_plays(conn: Connection, rows: Sequence[dict[str, Any]], received_ms: int) -> None:
    """Set `played_ms` and `time_estimated` of the rows about to be stored, and re-date the
    stored plays of the boots whose first synced moment arrives with them."""
    anchors: dict[BootKey, tuple[int, int]] = {}  # earliest synced uptime, offset
    for row in rows:
        if row["clock_synced"]:
            key = _key(row)
            uptime = row["started_uptime_ms"]
            if key not in anchors or uptime < anchors[key][0]:
                anchors[key] = (uptime, row["started_wall_ms"] - uptime)
    unsynced = {_key(row) for row in rows if not row["clock_synced"]}
    known_before = _offsets(conn, set(anchors) | unsynced)
    fresh = {key: value for key, value in anchors.items() if key not in known_before}
    if fresh:
        insert_ignore(
            conn,
            boot_clocks,
            [
                {"tenant": k[0], "device_id": k[1], "boot_id": k[2], "offset_ms": offset,
                 "found_ms": received_ms}
                for k, (_uptime, offset) in fresh.items()
            ],
        )  # fmt: skip
    offsets = {**known_before, **_offsets(conn, set(fresh))}  # a concurrent ingester may win
    for key in fresh:
        if key in offsets:
            _redate_stored(conn, key, offsets[key])
    for row in rows:
        if row["clock_synced"]:
            row["played_ms"], row["time_estimated"] = row["started_wall_ms"], False
            continue
        offset = offsets.get(_key(row))
        row["played_ms"] = received_ms if offset is None else row["started_uptime_ms"] + offset
        row["time_estimated"] = True


def _key(row: dict[str, Any]) -> BootKey:
    return (row["tenant"], row["device_id"], row["boot_id"])


def _offsets(conn: Connection, keys: set[BootKey]) -> dict[BootKey, int]:
    found: dict[BootKey, int] = {}
    for tenant, device_id, boot_id in sorted(keys):
        offset = conn.execute(
            select(boot_clocks.c.offset_ms).where(
                boot_clocks.c.tenant == tenant,
                boot_clocks.c.device_id == device_id,
                boot_clocks.c.boot_id == boot_id,
            )
        ).scalar()
        if offset is not None:
            found[(tenant, device_id, boot_id)] = int(offset)
    return found


def _redate_stored(conn: Connection, key: BootKey, offset_ms: int) -> None:
    tenant, device_id, boot_id = key
    conn.execute(
        update(plays)
        .where(
            and_(
                plays.c.tenant == tenant,
                plays.c.device_id == device_id,
                plays.c.boot_id == boot_id,
                plays.c.clock_synced.is_(False),
            )
        )
        .values(played_ms=plays.c.started_uptime_ms + offset_ms, time_estimated=True)
    )
