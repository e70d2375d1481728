"""A report by day over a period is summed one day's range at a time (no sort of the period's
plays); it must give what one GROUP BY over the whole period gives, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tenant.store import GROUPINGS, GroupBy, TenantStore
from tenant.store import plays as plays_module
from tenant.store.plays import DAY_MS, MAX_DAY_RANGES
from tenant.timefmt import parse_rfc3339
from tests.tenant.mqtt_device import play

SLUG = "lib-a"
DEVICE = "jk-aaaaaaaaaaaaaaaaaaaa"
DAY1 = parse_rfc3339("2026-07-01")
RECEIVED = parse_rfc3339("2026-07-10T09:00:00Z")


@pytest.fixture
def store(database_url: str) -> Iterator[TenantStore]:
    found = TenantStore(database_url)
    # 2026-07-01 00:00 (first ms of a day), 07-01 23:59:59.999 (its last), 07-03 12:00 twice
    # (nothing on 07-02), 07-05 00:00; one of them with an unsynced clock (dated on arrival).
    moments = [DAY1, DAY1 + DAY_MS - 1, DAY1 + 2 * DAY_MS + DAY_MS // 2,
               DAY1 + 2 * DAY_MS + DAY_MS // 2, DAY1 + 4 * DAY_MS]  # fmt: skip
    reports = [
        play(SLUG, DEVICE, n, started_wall_ms=ms, listened_ms=10_000 * (n + 1))
        for n, ms in enumerate(moments)
    ]
    reports.append(play(SLUG, DEVICE, 9, started_wall_ms=5, clock_synced=False, boot_id="b2"))
    found.store_plays(SLUG, reports, RECEIVED)
    yield found
    found.close()


def by_day(store: TenantStore, from_ms: int | None, to_ms: int | None) -> list[tuple[object, ...]]:
    return [
        (g.key, g.label, g.plays, g.counted, g.listened_ms, g.time_estimated)
        for g in store.play_groups(SLUG, "day", 30_000, from_ms, to_ms)
    ]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2026-07-01", "2026-07-11"),  # whole days, more than the plays span
        ("2026-07-01T12:00:00Z", "2026-07-05T00:00:00Z"),  # cut inside a day, end excluded
        ("2026-07-03T12:00:00Z", "2026-07-03T12:00:01Z"),  # one second
        ("2026-06-01", "2026-06-30"),  # no play
    ],
)
def test_a_period_a_day_at_a_time_is_what_one_group_by_gives(
    store: TenantStore, start: str, end: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from_ms, to_ms = parse_rfc3339(start), parse_rfc3339(end)
    one_range_per_day = by_day(store, from_ms, to_ms)
    chart = store.plays_per_day(SLUG, from_ms, to_ms)
    monkeypatch.setattr(plays_module, "MAX_DAY_RANGES", 0)  # every period is too long now
    assert by_day(store, from_ms, to_ms) == one_range_per_day
    assert store.plays_per_day(SLUG, from_ms, to_ms) == chart
    assert chart == [(d, n) for d, _label, n, *_ in one_range_per_day]


def test_the_days_and_their_sums(store: TenantStore) -> None:
    assert by_day(store, DAY1, DAY1 + 10 * DAY_MS) == [
        ("2026-07-01", "2026-07-01", 2, 0, 30_000, 0),
        ("2026-07-03", "2026-07-03", 2, 2, 70_000, 0),
        ("2026-07-05", "2026-07-05", 1, 1, 50_000, 0),
        ("2026-07-10", "2026-07-10", 1, 1, 45_000, 1),
    ]
    # cut inside days: 07-01's last millisecond and 07-03, not 07-05 (the end is excluded)
    assert by_day(store, DAY1 + 1, DAY1 + 4 * DAY_MS) == [
        ("2026-07-01", "2026-07-01", 1, 0, 20_000, 0),
        ("2026-07-03", "2026-07-03", 2, 2, 70_000, 0),
    ]
    assert store.plays_per_day(SLUG, DAY1 + 1, DAY1 + 4 * DAY_MS) == [
        ("2026-07-01", 1),
        ("2026-07-03", 2),
    ]


def test_without_bounds_or_over_a_long_period_one_group_by_gives_the_same_days(
    store: TenantStore,
) -> None:
    every_day = by_day(store, DAY1, DAY1 + 10 * DAY_MS)
    assert by_day(store, None, None) == every_day
    long_ago = DAY1 - MAX_DAY_RANGES * DAY_MS
    assert by_day(store, long_ago, DAY1 + 10 * DAY_MS) == every_day
    assert store.plays_per_day(SLUG) == [(d, n) for d, _label, n, *_ in every_day]
    assert store.plays_per_day(SLUG, long_ago, None) == store.plays_per_day(SLUG)


@pytest.mark.parametrize("by", GROUPINGS)
def test_every_grouping_a_day_at_a_time_is_what_one_group_by_gives(
    store: TenantStore, by: GroupBy, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.store_plays(SLUG, [
        play(SLUG, "jk-bbbbbbbbbbbbbbbbbbbb", n, started_wall_ms=DAY1 + n * DAY_MS // 3,
             track_id=f"trk-{n % 3}", site=f"site-{n % 2}", listened_ms=20_000 + 5_000 * n)
        for n in range(12)
    ], RECEIVED)  # fmt: skip
    period = (DAY1 + DAY_MS // 2, DAY1 + 9 * DAY_MS)
    a_day_at_a_time = store.play_groups(SLUG, by, 30_000, *period)
    monkeypatch.setattr(plays_module, "MAX_DAY_RANGES", 0)  # every period is too long now
    assert store.play_groups(SLUG, by, 30_000, *period) == a_day_at_a_time
    assert sum(g.plays for g in a_day_at_a_time) == 14  # n = 2 … 11, and 4 of the fixture
