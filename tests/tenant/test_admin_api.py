"""The admin endpoints' answers: uploads checked by hash, idempotent tracks, refused bodies."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import requests

from tenant.admin_client import AdminError
from tenant.settings import TenantSettings
from tests.support.tenant import RunningTenant, running_tenant

Tracks = list[dict[str, Any]]


def put(
    service: RunningTenant, sha256: str, data: bytes | Iterable[bytes], slug: str = "lib-a"
) -> requests.Response:
    return requests.put(
        f"{service.url(slug)}/v1/admin/media/{sha256}",
        data=data,
        headers={"Authorization": f"Bearer {service.admin_token(slug)}"},
        timeout=10,
    )


def test_an_upload_is_stored_under_its_hash_once(service: RunningTenant) -> None:
    data = b"some audio bytes" * 1000
    sha256 = hashlib.sha256(data).hexdigest()

    first = put(service, sha256, data)
    second = put(service, sha256, data)

    assert first.status_code == 201
    assert first.json() == {"sha256": sha256, "size": len(data), "stored": True}
    assert second.status_code == 200 and second.json()["stored"] is False
    assert service.admin("lib-a").has_media(sha256)
    stored = service.data_dir / "media" / sha256[:2] / sha256
    assert stored.read_bytes() == data


def test_an_upload_that_does_not_hash_to_its_name_is_refused_and_not_kept(
    service: RunningTenant,
) -> None:
    sha256 = hashlib.sha256(b"what was announced").hexdigest()

    response = put(service, sha256, b"something else")

    assert response.status_code == 422
    assert response.json()["error"] == "hash_mismatch"
    assert not service.admin("lib-a").has_media(sha256)
    assert not list((service.data_dir / "media").glob(f"*/{sha256}*"))


def test_media_another_tenant_uploaded_must_still_be_uploaded_by_this_one(
    service: RunningTenant, flac_tracks: Tracks
) -> None:
    sha256 = flac_tracks[0]["sha256"]

    assert not service.admin("lib-b").has_media(sha256)
    with pytest.raises(AdminError, match="HTTP 422 unknown_media"):
        service.admin("lib-b").create_track({"sha256": sha256, "title": "T", "artist": "A"})


@pytest.mark.parametrize("name", ["not-a-hash", "A" * 64])
def test_an_upload_under_a_name_that_is_not_a_sha256_is_refused(
    service: RunningTenant, name: str
) -> None:
    assert put(service, name, b"x").status_code == 422


def test_registering_a_file_twice_gives_the_existing_track(
    service: RunningTenant, flac_tracks: Tracks
) -> None:
    again, created = service.admin("lib-a").create_track(
        {"sha256": flac_tracks[0]["sha256"], "title": "Other title", "artist": "Other"}
    )

    assert created is False
    assert again == flac_tracks[0]


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ({"hours": [{"days": "monday", "from": "10:00", "to": "19:00"}]}, "hours[0].days"),
        ({"hours": [{"days": "mon", "from": "25:00", "to": "19:00"}]}, "hours[0].from"),
        ({"valid_from": "2026-07-02T00:00:00Z", "valid_until": "2026-07-01T00:00:00Z"},
         "valid_until must be after valid_from"),
        ({"tracks": ["trk-nope"]}, "unknown track(s): trk-nope"),
        ({"tracks": []}, "tracks"),
        ({"id": "Not An Id"}, "id"),
    ],
)  # fmt: skip
def test_a_malformed_playlist_is_refused_with_the_reason(
    service: RunningTenant, flac_tracks: Tracks, body: dict[str, Any], complaint: str
) -> None:
    playlist = {"id": "p", "title": "P", "tracks": [flac_tracks[0]["id"]], **body}

    response = requests.post(
        f"{service.url('lib-a')}/v1/admin/playlists",
        json=playlist,
        headers={"Authorization": f"Bearer {service.admin_token('lib-a')}"},
        timeout=10,
    )

    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_request"
    assert complaint in response.json()["error_description"]


def test_assigning_an_unknown_playlist_or_device_is_refused(
    service: RunningTenant, flac_tracks: Tracks
) -> None:
    service.create_playlist("lib-a", "p", "P", [flac_tracks[0]["id"]])

    with pytest.raises(AdminError, match="HTTP 404 not_found"):
        service.assign("lib-a", "nope", sites=["centre"])
    with pytest.raises(AdminError, match="HTTP 422 unknown_device"):
        service.assign("lib-a", "p", devices=["jk-aaaaaaaaaaaaaaaaaaaa"])
    with pytest.raises(AdminError, match="HTTP 404 not_found"):
        service.admin("lib-a").playlist("nope")
    with pytest.raises(AdminError, match="HTTP 404 not_found"):
        service.revoke("lib-a", "jk-aaaaaaaaaaaaaaaaaaaa")


def test_json_bodies_are_bounded(service: RunningTenant) -> None:
    huge = b'{"public_key": "' + b"A" * (300 * 1024) + b'"}'

    declared = requests.post(f"{service.url('lib-a')}/v1/enroll", data=huge, timeout=10)
    chunked = requests.post(
        f"{service.url('lib-a')}/v1/enroll", data=iter([huge[:1000], huge[1000:]]), timeout=10
    )

    for response in (declared, chunked):
        assert response.status_code == 413
        assert response.json()["error"] == "too_large"


def test_uploads_are_bounded_while_they_stream(tmp_path: Path, database_url: str) -> None:
    data = b"x" * 5000
    sha256 = hashlib.sha256(data).hexdigest()
    settings = TenantSettings(max_media_size=4096)
    with running_tenant(
        tmp_path / "tenant", settings=settings, database_url=database_url
    ) as service:
        declared = put(service, sha256, data)
        streamed = put(service, sha256, iter([data[:3000], data[3000:]]))

        for response in (declared, streamed):
            assert response.status_code == 413, response.text
            assert response.json()["error"] == "too_large"
        assert not service.admin("lib-a").has_media(sha256)
