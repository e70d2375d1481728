"""Who may see what: devices, tenants, admin and device tokens, revocation and expiry."""

from __future__ import annotations

from typing import Any

import requests

from tests.support.tenant import RunningTenant
from tests.tenant.conftest import MovableClock, claimed
from tests.tenant.kiosk import Kiosk

Tracks = list[dict[str, Any]]


def _two_kiosks(service: RunningTenant, clock: MovableClock, tracks: Tracks) -> tuple[Kiosk, Kiosk]:
    """Kiosk A at site "centre" gets playlist a (tracks 0, 1); kiosk B, at "annexe", gets
    playlist b (tracks 2, 3) assigned to it directly."""
    a = claimed(service, clock, "centre")
    b = claimed(service, clock, "annexe")
    service.create_playlist("lib-a", "a", "A", [tracks[0]["id"], tracks[1]["id"]], sites=["centre"])
    service.create_playlist(
        "lib-a", "b", "B", [tracks[2]["id"], tracks[3]["id"]], devices=[b.device_id]
    )
    return a, b


def _media(tracks: Tracks, i: int) -> str:
    return f"/v1/media/{tracks[i]['sha256']}"


def test_a_device_sees_only_its_own_playlists_and_media(
    service: RunningTenant, clock: MovableClock, flac_tracks: Tracks
) -> None:
    a, b = _two_kiosks(service, clock, flac_tracks)

    assert [p["id"] for p in a.playlists().json()["playlists"]] == ["a"]
    assert [p["id"] for p in b.playlists().json()["playlists"]] == ["b"]
    assert a.get(_media(flac_tracks, 0)).status_code == 200
    assert b.get(_media(flac_tracks, 3)).status_code == 200
    not_mine = a.get(_media(flac_tracks, 2))
    unknown = a.get("/v1/media/" + "0" * 64)
    assert not_mine.status_code == unknown.status_code == 404
    assert not_mine.json() == unknown.json()  # nothing tells "not yours" from "no such file"
    assert b.get(_media(flac_tracks, 0)).status_code == 404


def test_a_token_under_another_tenants_path_is_unknown(
    service: RunningTenant, clock: MovableClock, flac_tracks: Tracks
) -> None:
    a, _ = _two_kiosks(service, clock, flac_tracks)
    other = service.url("lib-b")

    as_device = a.get(f"{other}/v1/device/playlists")
    as_media = a.get(f"{other}{_media(flac_tracks, 0)}")
    as_admin = requests.get(
        f"{other}/v1/admin/devices",
        headers={"Authorization": f"Bearer {service.admin_token('lib-a')}"},
        timeout=5,
    )

    for response in (as_device, as_media, as_admin):
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_token"
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_admin_tokens_do_not_open_device_endpoints_nor_device_tokens_admin_ones(
    service: RunningTenant, clock: MovableClock, flac_tracks: Tracks
) -> None:
    a, _ = _two_kiosks(service, clock, flac_tracks)
    admin_token = service.admin_token("lib-a")

    assert a.get("/v1/device/playlists", token=admin_token).status_code == 401
    assert a.get(_media(flac_tracks, 0), token=admin_token).status_code == 401
    for path in ("/v1/admin/devices", "/v1/admin/tracks", "/v1/admin/playlists"):
        assert a.get(path).status_code == 401
    claim = requests.post(
        f"{a.tenant_url}/v1/admin/claims",
        json={"code": "ABCD-EFGH", "site": "x"},
        headers={"Authorization": f"Bearer {a.access_token}"},
        timeout=5,
    )
    assert claim.status_code == 401


def test_missing_or_made_up_tokens_are_refused(service: RunningTenant, kiosk: Kiosk) -> None:
    url = f"{service.url('lib-a')}/v1/device/playlists"
    for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Basic abc"},
                    {"Authorization": "Bearer jkat_made-up"}):  # fmt: skip
        response = requests.get(url, headers=headers, timeout=5)
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_token"


def test_revoking_a_device_stops_its_tokens_at_once(
    service: RunningTenant, clock: MovableClock, flac_tracks: Tracks
) -> None:
    a, b = _two_kiosks(service, clock, flac_tracks)
    assert a.playlists().status_code == 200

    service.revoke("lib-a", a.device_id)

    assert a.playlists().status_code == 401
    assert a.get(_media(flac_tracks, 0)).status_code == 401
    assert a.token().status_code == 403
    assert b.playlists().status_code == 200  # the other kiosk is untouched


def test_an_access_token_expires(
    service: RunningTenant, clock: MovableClock, flac_tracks: Tracks
) -> None:
    a, _ = _two_kiosks(service, clock, flac_tracks)
    clock.advance(599)
    assert a.playlists().status_code == 200

    clock.advance(2)

    assert a.playlists().status_code == 401
    a.login()
    assert a.playlists().status_code == 200


def test_an_unknown_tenant_is_404(service: RunningTenant, kiosk: Kiosk) -> None:
    response = kiosk.enroll(f"{service.service_url}/t/nobody")

    assert response.status_code == 404
    assert response.json()["error"] == "unknown_tenant"


def test_claiming_and_revoking_need_the_admin_token_of_that_tenant(
    service: RunningTenant, kiosk: Kiosk
) -> None:
    code = kiosk.claim_code()
    url = f"{service.url('lib-a')}/v1/admin/claims"
    wrong = {"Authorization": f"Bearer {service.admin_token('lib-b')}"}

    claim = requests.post(url, json={"code": code, "site": "x"}, headers=wrong, timeout=5)
    revoke = requests.post(
        f"{service.url('lib-a')}/v1/admin/devices/{kiosk.device_id}/revoke",
        headers=wrong,
        timeout=5,
    )

    assert claim.status_code == revoke.status_code == 401
    assert service.devices("lib-a")[0]["status"] == "pending"
