"""Input at the edges, over real HTTP: calendar limits, bodies that are not UTF-8, and the
413 for an oversized body as the OpenAPI document declares it."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tenant.openapi import openapi_document
from tests.support.tenant import RunningTenant

SLUG = "lib-a"


def call(service: RunningTenant, method: str, path: str, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {service.admin_token(SLUG)}", **kwargs.pop("headers", {})}
    return requests.request(
        method, f"{service.url(SLUG)}/v1/admin{path}", headers=headers, timeout=30, **kwargs
    )


def refused(response: requests.Response, *words: str) -> str:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "invalid_request"
    description = str(body["error_description"])
    for word in words:
        assert word in description
    return description


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("to", "9999-12-31"),  # the whole day named ends in year 10000
        ("to", "9999-12-31T23:59:59-01:00"),
        ("from", "0001-01-01T00:00:00+14:00"),  # year 0 in UTC
        ("from", "0001-01-01T05:00:00+06:00"),
    ],
)
def test_plays_with_a_moment_past_the_calendar_are_refused_naming_the_parameter(
    service: RunningTenant, field: str, value: str
) -> None:
    refused(call(service, "GET", "/plays", params={field: value}), f"{field}:", value)


def test_plays_at_the_calendars_last_and_first_representable_moments_are_answered(
    service: RunningTenant,
) -> None:
    answer = call(
        service,
        "GET",
        "/plays",
        params={"from": "0001-01-01T00:00:00Z", "to": "9999-12-30"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["from"] == "0001-01-01T00:00:00Z"
    assert answer.json()["to"] == "9999-12-31T00:00:00Z"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("valid_from", "0001-01-01T00:00:00+14:00"),
        ("valid_until", "9999-12-31T23:59:59-10:00"),
    ],
)
def test_a_playlist_dated_past_the_calendar_is_refused_naming_the_field(
    service: RunningTenant, flac_tracks: list[dict[str, Any]], field: str, value: str
) -> None:
    body = {"id": "edge", "title": "Edge", "tracks": [flac_tracks[0]["id"]], field: value}
    refused(call(service, "POST", "/playlists", json=body), field)
    assert call(service, "GET", "/playlists").status_code == 200  # nothing broken was stored


def test_a_playlist_dated_at_the_calendars_edges_in_utc_is_stored_and_shown(
    service: RunningTenant, flac_tracks: list[dict[str, Any]]
) -> None:
    body = {
        "id": "edge",
        "title": "Edge",
        "tracks": [flac_tracks[0]["id"]],
        "valid_from": "0001-01-01T00:00:00Z",
        "valid_until": "9999-12-31T23:59:59Z",
    }
    created = call(service, "POST", "/playlists", json=body)
    assert created.status_code == 201, created.text
    listed = {p["id"]: p for p in call(service, "GET", "/playlists").json()}
    assert listed["edge"]["valid_from"] == "0001-01-01T00:00:00Z"
    assert listed["edge"]["valid_until"] == "9999-12-31T23:59:59Z"


def test_a_body_that_is_not_utf8_is_a_422_naming_the_body(
    service: RunningTenant, flac_tracks: list[dict[str, Any]]
) -> None:
    raw = (
        b'{"id": "latin", "title": "Caf\xe9", "tracks": ["%s"]}'
        % str(flac_tracks[0]["id"]).encode()
    )
    answer = call(
        service,
        "POST",
        "/playlists",
        data=raw,
        headers={"Content-Type": "application/json"},
    )
    refused(answer, "body", "UTF-8")


def test_an_oversized_body_is_a_413_and_the_openapi_document_declares_it(
    service: RunningTenant,
) -> None:
    limit = service.settings.max_json_body
    answer = call(
        service,
        "POST",
        "/playlists",
        data=b"[" + b" " * limit + b"]",
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 413 and answer.json()["error"] == "too_large"
    document = openapi_document()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method in ("post", "put", "patch") and "requestBody" in operation:
                if path.endswith("/media/{sha256}") and method == "put":
                    continue  # media uploads are bounded by their own endpoint
                assert "413" in operation["responses"], f"{method.upper()} {path}"
    served = requests.get(f"{service.service_url}/openapi.json", timeout=30).json()
    assert "413" in served["paths"]["/t/{tenant}/v1/admin/playlists"]["post"]["responses"]
