"""The board's pages and site filter with many kiosks, and the report per playlist, over real
HTTP against the real tenant (plays stored as the ingester stores them)."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import insert

from tenant.store import TenantStore
from tenant.store.schema import devices
from tenant.timefmt import parse_rfc3339
from tests.console.conftest import PASSWORD
from tests.console.support import ConsoleSession
from tests.support.tenant import RunningTenant
from tests.tenant.mqtt_device import play

SLUG = "lib-a"
JULY_2 = parse_rfc3339("2026-07-02T10:00:00Z")
ROW = re.compile(r'<tr id="kiosk-(jk-[0-9]+)"')


def signed_in(service: RunningTenant, username: str) -> ConsoleSession:
    session = ConsoleSession(service)
    assert session.sign_in(username, PASSWORD).status_code == 303
    return session


def open_store(service: RunningTenant) -> TenantStore:
    return TenantStore(service.database_url)


def add_kiosks(service: RunningTenant, count: int) -> None:
    """`count` claimed kiosks, ten per site (site-000, site-001, ...), never heard from."""
    store = open_store(service)
    try:
        with store.engine.begin() as conn:
            conn.execute(insert(devices), [
                {"tenant": SLUG, "device_id": f"jk-{i:020d}", "public_key": "k",
                 "firmware_version": "1.0.0", "status": "active", "site": f"site-{i // 10:03d}",
                 "name": f"Kiosk {i:03d}", "poll_interval_ms": 5000, "enrolled_ms": 1,
                 "claimed_ms": 1} for i in range(count)
            ])  # fmt: skip
    finally:
        store.close()


def test_the_board_shows_a_page_of_kiosks_at_a_time_and_filters_by_site(
    service: RunningTenant,
) -> None:
    add_kiosks(service, 130)
    nadia = signed_in(service, "nadia")
    first = nadia.get("kiosks")
    assert first.status_code == 200
    shown = ROW.findall(first.text)
    assert len(shown) == 100 and shown[0] == f"jk-{0:020d}"
    assert 'id="board-next"' in first.text and 'id="board-previous"' not in first.text
    assert "page 1 / 2" in first.text and "kiosks/board?site=&amp;page=1" in first.text
    second = nadia.get("kiosks?page=2")
    assert len(ROW.findall(second.text)) == 30 and 'id="board-previous"' in second.text
    assert len(ROW.findall(nadia.get("kiosks?page=99").text)) == 30  # the last page
    one_site = nadia.get("kiosks?site=site-004")
    assert ROW.findall(one_site.text) == [f"jk-{i:020d}" for i in range(40, 50)]
    assert '<option value="site-004" selected>' in one_site.text
    live = nadia.get("kiosks/board?site=site-012&page=1")
    assert ROW.findall(live.text) == [f"jk-{i:020d}" for i in range(120, 130)]
    assert nadia.get("kiosks?page=0").status_code == 422
    carla = signed_in(service, "carla")  # curates centre only: none of these kiosks
    assert ROW.findall(carla.get("kiosks?site=site-004").text) == []
    assert "site-004" not in carla.get("kiosks").text


def test_the_report_counts_plays_per_playlist_with_its_title(
    service: RunningTenant, flac_files: list[Path]
) -> None:
    nadia = signed_in(service, "nadia")
    track = nadia.upload("quiet.flac", flac_files[1].read_bytes()).json()["id"]
    saved = nadia.post(
        "playlists", {"id": "morning", "title": "Morning <b>calm</b>", "note": "", "add": [track],
                      "sites": ["centre"]}, allow_redirects=False,
    )  # fmt: skip
    assert saved.status_code == 303, saved.text
    device = "jk-aaaaaaaaaaaaaaaaaaaa"
    reports = [
        play(SLUG, device, 1, track_id=track, playlist_id="morning", started_wall_ms=JULY_2),
        play(SLUG, device, 2, track_id=track, playlist_id="morning", started_wall_ms=JULY_2,
             listened_ms=1000),
        play(SLUG, device, 3, track_id=track, playlist_id="local-1", started_wall_ms=JULY_2),
    ]  # fmt: skip
    store = open_store(service)
    try:
        assert len(store.store_plays(SLUG, reports, service.settings.now_ms()).stored) == 3
    finally:
        store.close()
    rita = signed_in(service, "rita")
    page = rita.get("reports?by=playlist&from=2026-07-01&to=2026-07-31")
    assert page.status_code == 200
    assert "Morning &lt;b&gt;calm&lt;/b&gt;" in page.text and "local-1" in page.text
    assert 'id="total-plays">3<' in page.text and 'id="total-counted">2<' in page.text
    csv = rita.get("reports.csv?by=playlist&from=2026-07-01&to=2026-07-31").content.decode()
    assert "morning;;;;Morning <b>calm</b>;2;1;" in csv
    assert "local-1;;;;local-1;1;1;" in csv
