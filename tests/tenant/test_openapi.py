"""docs/tenant-openapi.json is what the service generates (`jukebox tenant openapi` updates it)."""

from __future__ import annotations

import json

from tenant.openapi import DOC_PATH, openapi_document


def test_the_openapi_document_in_docs_is_up_to_date() -> None:
    kept = json.loads(DOC_PATH.read_text())

    assert kept == openapi_document(), "run `jukebox tenant openapi` to update it"


def test_the_openapi_document_covers_every_endpoint_of_the_contract() -> None:
    paths = openapi_document()["paths"]

    expected = {
        ("post", "/t/{tenant}/v1/enroll"),
        ("post", "/t/{tenant}/v1/token"),
        ("get", "/t/{tenant}/v1/device/playlists"),
        ("get", "/t/{tenant}/v1/media/{sha256}"),
        ("put", "/t/{tenant}/v1/admin/media/{sha256}"),
        ("post", "/t/{tenant}/v1/admin/tracks"),
        ("get", "/t/{tenant}/v1/admin/tracks"),
        ("post", "/t/{tenant}/v1/admin/playlists"),
        ("get", "/t/{tenant}/v1/admin/playlists"),
        ("get", "/t/{tenant}/v1/admin/playlists/{playlist_id}"),
        ("post", "/t/{tenant}/v1/admin/playlists/{playlist_id}/assign"),
        ("post", "/t/{tenant}/v1/admin/claims"),
        ("get", "/t/{tenant}/v1/admin/devices"),
        ("post", "/t/{tenant}/v1/admin/devices/{device_id}/revoke"),
        ("post", "/t/{tenant}/v1/admin/push"),
        ("get", "/t/{tenant}/v1/admin/status"),
        ("get", "/t/{tenant}/v1/admin/plays"),
        ("get", "/t/{tenant}/v1/admin/rules"),
        ("put", "/t/{tenant}/v1/admin/rules"),
        ("post", "/t/{tenant}/v1/admin/devices/{device_id}/commands"),
        ("get", "/t/{tenant}/v1/admin/devices/{device_id}/commands/{request_id}"),
    }
    assert expected <= {(m, p) for p, ops in paths.items() for m in ops}
