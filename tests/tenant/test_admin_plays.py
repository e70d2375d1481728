"""`jukebox admin plays` and `GET /admin/plays`: plays per group, the counted-stream rule, CSV.

Plays are stored as the ingester stores them (TenantStore.store_plays, tested over MQTT in
test_ingest.py); the report is read over real HTTP.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from jukebox.cli import build_parser
from tenant.admin_client import AdminError
from tenant.store import TenantStore
from tenant.timefmt import parse_rfc3339
from tests.support.tenant import RunningTenant
from tests.tenant.mqtt_device import Json, play

SLUG = "lib-a"
DEVICE = "jk-aaaaaaaaaaaaaaaaaaaa"
JULY_1 = parse_rfc3339("2026-07-01T10:00:00Z")
JULY_2 = parse_rfc3339("2026-07-02T23:59:00Z")


@pytest.fixture
def plays(service: RunningTenant, flac_tracks: list[dict[str, Any]]) -> Iterator[list[Json]]:
    """Seven plays of tracks 0-1 (and of a deleted track) at two sites over two days."""
    t0, t1 = (str(t["id"]) for t in flac_tracks[:2])
    reports = [
        play(SLUG, DEVICE, 1, track_id=t0, listened_ms=30_000, started_wall_ms=JULY_1),
        play(SLUG, DEVICE, 2, track_id=t0, listened_ms=29_999, started_wall_ms=JULY_1),
        play(SLUG, DEVICE, 3, track_id=t0, listened_ms=120_000, started_wall_ms=JULY_2),
        play(SLUG, DEVICE, 4, track_id=t1, listened_ms=31_000, started_wall_ms=JULY_2,
             site="annexe"),
        play(SLUG, DEVICE, 5, track_id=t1, listened_ms=0, started_wall_ms=JULY_2, site="annexe",
             end_reason="skipped"),
        play(SLUG, DEVICE, 6, track_id="trk-gone", listened_ms=60_000, started_wall_ms=JULY_1),
        # An unsynced clock all that boot: counted on the day the tenant received it.
        play(SLUG, DEVICE, 7, track_id=t1, listened_ms=40_000, started_wall_ms=0,
             clock_synced=False, boot_id="boot-never-synced"),
    ]  # fmt: skip
    store = TenantStore(service.database_url)
    try:
        assert len(store.store_plays(SLUG, reports, service.settings.now_ms()).stored) == 7
    finally:
        store.close()
    yield reports


def groups(service: RunningTenant, by: str, **window: str) -> dict[str, tuple[int, int, int]]:
    """{label: (plays, counted, listened_ms)}"""
    report = service.admin(SLUG).plays(by, window.get("start"), window.get("end"))
    return {g["label"]: (g["plays"], g["counted"], g["listened_ms"]) for g in report["groups"]}


def test_plays_per_track_count_streams_of_30_seconds_or_more(
    service: RunningTenant, plays: list[Json]
) -> None:
    assert groups(service, "track") == {
        "Artist 0 — Track 0": (3, 2, 179_999),
        "Artist 1 — Track 1": (3, 2, 71_000),
        "trk-gone": (1, 1, 60_000),
    }


def test_plays_per_artist_site_device_and_day(service: RunningTenant, plays: list[Json]) -> None:
    today = service.admin(SLUG).plays("day")["groups"][-1]["key"]

    assert groups(service, "artist") == {
        "Artist 0": (3, 2, 179_999),
        "Artist 1": (3, 2, 71_000),
        "Unknown artist": (1, 1, 60_000),
    }
    assert groups(service, "site") == {"centre": (5, 4, 279_999), "annexe": (2, 1, 31_000)}
    assert groups(service, "device") == {DEVICE: (7, 5, 310_999)}
    assert groups(service, "day") == {
        "2026-07-01": (3, 2, 119_999),
        "2026-07-02": (3, 2, 151_000),
        today: (1, 1, 40_000),
    }


def test_a_window_of_dates_includes_the_last_day(service: RunningTenant, plays: list[Json]) -> None:
    assert groups(service, "day", start="2026-07-01", end="2026-07-01") == {
        "2026-07-01": (3, 2, 119_999)
    }
    assert groups(service, "day", start="2026-07-02", end="2026-07-02T12:00:00Z") == {}
    with pytest.raises(AdminError, match="from: expected a date"):
        service.admin(SLUG).plays("day", "yesterday")


def test_the_threshold_of_a_counted_stream_is_the_tenants_setting(
    service: RunningTenant, plays: list[Json]
) -> None:
    service.settings = replace(service.settings, counted_stream_s=60)
    service.restart()

    assert groups(service, "site") == {"centre": (5, 2, 279_999), "annexe": (2, 0, 31_000)}


def test_a_tenant_may_set_its_own_threshold_and_go_back_to_the_default(
    service: RunningTenant, plays: list[Json], capsys: pytest.CaptureFixture[str]
) -> None:
    credentials = str(service.credentials_path(SLUG))

    def rules(*options: str) -> str:
        args = build_parser().parse_args(["admin", "--credentials", credentials, "rules", *options])
        assert args.handler(args) == 0
        return capsys.readouterr().out

    assert "from 30 s listened (the service's default)" in rules()
    assert "from 45 s listened (this tenant's)" in rules("--counted-stream-s", "45")
    assert groups(service, "site") == {"centre": (5, 2, 279_999), "annexe": (2, 0, 31_000)}
    assert service.admin("lib-b").rules()["counted_stream_s"] == 30  # another tenant's rule
    assert "from 30 s listened (the service's default)" in rules("--default")
    assert groups(service, "site") == {"centre": (5, 4, 279_999), "annexe": (2, 1, 31_000)}


def test_the_command_prints_a_table_with_totals_and_writes_csv(
    service: RunningTenant, plays: list[Json], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "plays.csv"
    args = build_parser().parse_args([
        "admin", "--credentials", str(service.credentials_path(SLUG)), "plays", "--by", "artist",
        "--from", "2026-07-01", "--csv", str(path),
    ])  # fmt: skip

    code = args.handler(args)

    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["ARTIST", "PLAYS", "COUNTED", "LISTENED"]
    assert lines[2].split() == ["Artist", "0", "3", "2", "0:03:00"]
    assert lines[5].split() == ["TOTAL", "7", "5", "0:05:11"]
    assert "counted: listened to for 30 s or more; from 2026-07-01T00:00:00Z to now" in out
    assert "1 play(s) dated by estimate: their kiosk's clock was not synced" in out
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows == [
        ["artist", "label", "plays", "counted_streams", "listened_s", "time_estimated"],
        ["Artist 0", "Artist 0", "3", "2", "180", "0"],
        ["Artist 1", "Artist 1", "3", "2", "71", "1"],  # one dated by estimate
        ["Unknown artist", "Unknown artist", "1", "1", "60", "0"],
    ]
