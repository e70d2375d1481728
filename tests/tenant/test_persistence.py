"""A restarted service (same data directory) keeps tenants, devices, tokens, playlists, media."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select

from tenant.store.schema import metadata
from tests.support.tenant import RunningTenant
from tests.tenant.conftest import MovableClock, claimed


def test_a_restart_keeps_everything(
    service: RunningTenant, clock: MovableClock, flac_tracks: list[dict[str, Any]]
) -> None:
    kiosk = claimed(service, clock, "centre")
    service.create_playlist("lib-a", "p", "P", [flac_tracks[0]["id"]], sites=["centre"])
    before = kiosk.playlists()
    used = kiosk.assertion()
    assert kiosk.token(used).status_code == 200
    port = service.port

    service.restart()

    assert service.port == port
    assert service.url("lib-a") == kiosk.tenant_url
    after = kiosk.playlists()  # the access token from before the restart still works
    assert after.status_code == 200
    assert after.headers["etag"] == before.headers["etag"]
    media = kiosk.get(after.json()["playlists"][0]["tracks"][0]["url"].removeprefix("/t/lib-a"))
    assert media.status_code == 200
    assert kiosk.token(used).status_code == 401  # replay protection survives too
    assert service.devices("lib-a")[0]["status"] == "active"
    assert [t["id"] for t in service.admin("lib-a").tracks()] == [t["id"] for t in flac_tracks]


def test_a_stopped_service_refuses_connections_until_it_restarts(service: RunningTenant) -> None:
    import requests

    service.stop()
    try:
        requests.get(f"{service.service_url}/healthz", timeout=2)
        raise AssertionError("the stopped service answered")
    except requests.ConnectionError:
        pass

    service.restart()
    assert requests.get(f"{service.service_url}/healthz", timeout=2).json() == {"status": "ok"}


def test_secrets_are_stored_hashed_never_in_clear(
    service: RunningTenant, clock: MovableClock, tmp_path: Path
) -> None:
    kiosk = claimed(service, clock, "centre")
    answer = kiosk.token().json()
    service.stop()

    url = service.database_url
    engine = create_engine(url)
    with engine.connect() as conn:
        dump = "\n".join(
            repr(tuple(row))
            for table in metadata.sorted_tables
            for row in conn.execute(select(table))
        )
    engine.dispose()
    assert kiosk.device_id in dump  # the dump does hold the data

    for secret in (
        service.admin_token("lib-a"),
        service.admin_token("lib-b"),
        kiosk.access_token,
        answer["access_token"],
        answer["mqtt"]["password"],
    ):
        assert secret not in dump
