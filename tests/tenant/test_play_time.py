"""Plays of a kiosk whose clock was not synced: re-based on their boot's first synced moment
(boot id, uptime), flagged as estimated, counted on the right day; on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from tenant.store import TenantStore
from tenant.timefmt import parse_rfc3339
from tests.tenant.mqtt_device import play

SLUG = "lib-a"
DEVICE = "jk-aaaaaaaaaaaaaaaaaaaa"
SYNCED_AT = parse_rfc3339("2026-07-01T10:00:00Z")  # wall clock of the boot's synced play
RECEIVED = parse_rfc3339("2026-07-03T09:00:00Z")  # when the tenant got the plays
UPTIME_SYNCED = 600_000  # the synced play started 10 min after boot


def unsynced(seq: int, uptime_ms: int, boot: str = "boot-1") -> dict[str, Any]:
    """A play started `uptime_ms` after boot with a clock still at 1970."""
    return play(SLUG, DEVICE, seq, started_wall_ms=uptime_ms, clock_synced=False,
                started_uptime_ms=uptime_ms, boot_id=boot)  # fmt: skip


def synced(seq: int, boot: str = "boot-1") -> dict[str, Any]:
    return play(SLUG, DEVICE, seq, started_wall_ms=SYNCED_AT, clock_synced=True,
                started_uptime_ms=UPTIME_SYNCED, boot_id=boot)  # fmt: skip


def dated(store: TenantStore) -> dict[int, tuple[int, bool]]:
    return {r["seq"]: (r["played_ms"], r["time_estimated"]) for r in store.play_rows(SLUG)}


def test_plays_before_the_sync_are_re_based_on_the_boots_first_synced_moment(
    store: TenantStore,
) -> None:
    boot_offset = SYNCED_AT - UPTIME_SYNCED
    store.store_plays(SLUG, [unsynced(1, 60_000)], RECEIVED)  # arrives alone first
    assert dated(store) == {1: (RECEIVED, True)}  # nothing known of its boot yet
    store.store_plays(SLUG, [unsynced(2, 300_000), synced(3)], RECEIVED + 1000)
    store.store_plays(SLUG, [unsynced(4, 120_000)], RECEIVED + 2000)  # resent late
    assert dated(store) == {
        1: (boot_offset + 60_000, True),  # stored before: re-dated when the sync arrived
        2: (boot_offset + 300_000, True),
        3: (SYNCED_AT, False),
        4: (boot_offset + 120_000, True),
    }


def test_another_boot_is_not_re_based_on_this_ones_clock(store: TenantStore) -> None:
    store.store_plays(SLUG, [synced(1), unsynced(2, 60_000, boot="boot-2")], RECEIVED)
    assert dated(store)[2] == (RECEIVED, True)


def test_the_report_counts_the_estimated_plays_on_the_day_they_were_played(
    store: TenantStore,
) -> None:
    store.store_plays(SLUG, [unsynced(1, 60_000), synced(2), unsynced(3, 5, "boot-2")], RECEIVED)
    days = {g.key: (g.plays, g.time_estimated) for g in store.play_groups(SLUG, "day", 30_000)}
    assert days == {"2026-07-01": (2, 1), "2026-07-03": (1, 1)}
