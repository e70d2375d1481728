"""A curator changes only what plays at their own sites: editing a playlist's content,
retiring it or retiring a track in it are refused for another site's playlist, through the
API as through the console (which calls the same functions)."""

from __future__ import annotations

from typing import Any

from tenant.roles import Role
from tests.support.tenant import RunningTenant
from tests.tenant.conftest import MovableClock, claimed
from tests.tenant.staff_support import add_user, call, token_of

Tracks = list[dict[str, Any]]


def _playlist(service: RunningTenant, playlist_id: str, tracks: list[str], **where: Any) -> None:
    admin = service.admin_token("lib-a")
    body = {"id": playlist_id, "title": playlist_id.title(), "tracks": tracks}
    assert call(service, "POST", "/v1/admin/playlists", admin, json=body).status_code == 201
    if where:
        path = f"/v1/admin/playlists/{playlist_id}/assign"
        assert call(service, "POST", path, admin, json=where).status_code == 200


def test_a_curator_cannot_edit_or_retire_another_sites_playlist(
    service: RunningTenant, clock: MovableClock, flac_tracks: Tracks
) -> None:
    first, second = flac_tracks[0]["id"], flac_tracks[1]["id"]
    annexe_kiosk = claimed(service, clock, "annexe")
    _playlist(service, "annexe-mix", [first], sites=["annexe"])
    _playlist(service, "hall-mix", [first], sites=[], devices=[annexe_kiosk.device_id])
    add_user(service, "carla", Role.CURATOR, ("centre",))
    carla = token_of(service, "carla")

    answers = {
        "edit by site": call(
            service, "POST", "/v1/admin/playlists", carla,
            json={"id": "annexe-mix", "title": "Mine now", "tracks": [second]},
        ),
        "edit by kiosk": call(
            service, "POST", "/v1/admin/playlists", carla,
            json={"id": "hall-mix", "title": "Mine now", "tracks": [second]},
        ),
        "retire": call(service, "POST", "/v1/admin/playlists/annexe-mix/retire", carla),
        "retire a track in it": call(service, "POST", f"/v1/admin/tracks/{first}/retire", carla),
    }  # fmt: skip

    assert {what: a.status_code for what, a in answers.items()} == dict.fromkeys(answers, 403)
    assert "annexe" in answers["edit by site"].json()["error_description"]
    assert "annexe-mix" in answers["retire a track in it"].json()["error_description"]
    admin = service.admin("lib-a")
    for playlist_id in ("annexe-mix", "hall-mix"):
        kept = admin.playlist(playlist_id)
        assert kept["title"] == playlist_id.title()
        assert [t["id"] for t in kept["tracks"]] == [first]
        assert not kept.get("retired")
    rows = call(service, "GET", "/v1/admin/audit?user=carla", service.admin_token("lib-a"))
    assert [r["action"] for r in rows.json()] == ["token.create"]  # her login, nothing else


def test_a_curator_edits_and_retires_their_own_and_unassigned_playlists(
    service: RunningTenant, flac_tracks: Tracks
) -> None:
    first, second = flac_tracks[0]["id"], flac_tracks[1]["id"]
    _playlist(service, "centre-mix", [first], sites=["centre"])
    _playlist(service, "draft", [second])
    add_user(service, "carla", Role.CURATOR, ("centre",))
    carla = token_of(service, "carla")

    edited = call(
        service, "POST", "/v1/admin/playlists", carla,
        json={"id": "centre-mix", "title": "Centre", "tracks": [first, second]},
    )  # fmt: skip
    draft = call(
        service, "POST", "/v1/admin/playlists", carla,
        json={"id": "draft", "title": "Draft", "tracks": [second, first]},
    )  # fmt: skip
    track = call(service, "POST", f"/v1/admin/tracks/{second}/retire", carla)
    retired = call(service, "POST", "/v1/admin/playlists/centre-mix/retire", carla)

    assert [edited.status_code, draft.status_code] == [200, 200]
    assert track.status_code == 200 and set(track.json()["playlists"]) == {"centre-mix", "draft"}
    assert retired.status_code == 200 and retired.json()["retired"] is True
