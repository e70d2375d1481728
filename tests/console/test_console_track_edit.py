"""Editing a track's text over real HTTP: the API's PATCH and the console's form call the same
service function (one audit row, new playlist revisions); the rights holder is the network
administrator's alone (the payouts API's handler)."""

from __future__ import annotations

import json
from pathlib import Path

import requests

from tenant.store import TenantStore
from tests.console.conftest import PASSWORD
from tests.console.support import ConsoleSession
from tests.support.tenant import RunningTenant

SLUG = "lib-a"


def signed_in(service: RunningTenant, username: str) -> ConsoleSession:
    session = ConsoleSession(service)
    assert session.sign_in(username, PASSWORD).status_code == 303
    return session


def revision(service: RunningTenant, playlist_id: str) -> str:
    store = TenantStore(service.database_url)
    try:
        playlist = store.get_playlist(SLUG, playlist_id)
        assert playlist is not None
        return str(playlist.revision)
    finally:
        store.close()


def audit_actions(service: RunningTenant, action: str) -> list[tuple[str, object, object]]:
    store = TenantStore(service.database_url)
    try:
        return [(e.actor, json.loads(e.before or "null"), json.loads(e.after or "null"))
                for e in store.audit_entries(SLUG) if e.action == action]  # fmt: skip
    finally:
        store.close()


def test_a_curator_corrects_a_track_and_its_playlists_change_revision(
    service: RunningTenant, flac_files: list[Path]
) -> None:
    carla = signed_in(service, "carla")
    track = carla.upload("quiet.flac", flac_files[1].read_bytes()).json()["id"]
    saved = carla.post(
        "playlists", {"id": "morning", "title": "Morning", "note": "", "add": [track],
                      "sites": ["centre"]}, allow_redirects=False,
    )  # fmt: skip
    assert saved.status_code == 303, saved.text
    first = revision(service, "morning")
    form = {"title": "Quiet <i>morning</i>", "artist": "Les Sœurs", "album": "",
            "isrc": "FRZ032600199"}  # fmt: skip
    answer = carla.post(f"tracks/{track}", form, allow_redirects=False)
    assert answer.status_code == 303, answer.text
    page = carla.get("tracks")
    assert "Quiet &lt;i&gt;morning&lt;/i&gt;" in page.text and "FRZ032600199" in page.text
    assert revision(service, "morning") != first
    [(actor, before, after)] = audit_actions(service, "track.edit")
    assert actor == "carla"
    assert after == {"title": "Quiet <i>morning</i>", "isrc": "FRZ032600199"}
    assert before == {"title": "Quiet morning", "isrc": "FRZ032600102"}
    bad = carla.post(f"tracks/{track}", {**form, "isrc": "not-an-isrc"})
    assert bad.status_code == 422 and "isrc" in bad.text
    assert carla.post("tracks/trk-nope", form).status_code == 404
    assert "Rights holder" not in page.text  # a curator does not name holders
    rita = signed_in(service, "rita")
    assert rita.post(f"tracks/{track}", form).status_code == 403


def test_the_api_patch_and_the_administrator_s_rights_holder(
    service: RunningTenant, flac_files: list[Path]
) -> None:
    nadia = signed_in(service, "nadia")
    track = nadia.upload("quiet.flac", flac_files[1].read_bytes()).json()["id"]
    api = f"{service.url(SLUG)}/v1/admin"
    auth = {"Authorization": f"Bearer {service.admin_token(SLUG)}"}
    patched = requests.patch(f"{api}/tracks/{track}", json={"artist": "Sœurs"}, headers=auth,
                             timeout=30)  # fmt: skip
    assert patched.status_code == 200, patched.text
    assert patched.json()["artist"] == "Sœurs" and patched.json()["title"] == "Quiet morning"
    empty = requests.patch(f"{api}/tracks/{track}", json={"title": ""}, headers=auth, timeout=30)
    assert empty.status_code == 422
    holder = {"id": "label-a", "name": "Label A"}
    assert requests.post(f"{api}/payouts/holders", json=holder, headers=auth,
                         timeout=30).status_code == 201  # fmt: skip
    page = nadia.get("tracks")
    assert "Rights holder" in page.text and '<option value="label-a">' in page.text
    form = {"title": "Quiet morning", "artist": "Sœurs", "album": "", "isrc": "",
            "holder": "label-a"}  # fmt: skip
    assert nadia.post(f"tracks/{track}", form, allow_redirects=False).status_code == 303
    shares = requests.get(f"{api}/payouts/shares", params={"track": track}, headers=auth,
                          timeout=30).json()  # fmt: skip
    assert [(s["holder"], s["basis_points"]) for s in shares] == [("label-a", 10_000)]
    assert "label-a 100 %" in nadia.get("tracks").text
    assert nadia.post(f"tracks/{track}", {**form, "holder": "nobody"}).status_code == 422
