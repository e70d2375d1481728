"""The playlists document has one definition, the contract's JSON Schema: the real tenant's
answer fits it, and the kiosk reads that answer through it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from jsonschema import Draft7Validator

from contract.protocol.payloads import PayloadError, load_schema, validate
from device.sync.document import DocumentError, parse_document
from device.sync.syncer import PLAYLISTS_PATH
from tests.sync.conftest import SLUG, Device, Media


def test_the_real_tenants_answer_fits_the_schema_and_is_read_by_the_kiosk(
    device: Device, media: list[Media]
) -> None:
    opening = datetime(2026, 7, 1, tzinfo=UTC)
    device.playlist("festival", media[:3], featured=True, valid_from=opening)
    device.tenant.create_playlist(
        SLUG,
        f"{device.prefix}-nights",
        "Nuits",
        [media[3].id, media[0].id],
        devices=(device.device_id,),
        valid_until=datetime(2099, 1, 1, tzinfo=UTC),
        hours=[
            {"days": "fri-mon", "from": "22:00", "to": "02:00"},
            {"days": "sat,sun", "from": "10:00", "to": "24:00"},
        ],
    )
    response = device.http.get(PLAYLISTS_PATH)
    assert response.status_code == 200
    answer = response.json()
    assert {p["id"] for p in answer["playlists"]} == {
        f"{device.prefix}-festival",
        f"{device.prefix}-nights",
    }
    validate("playlists", answer)  # the machinery that checks the MQTT payloads
    errors = list(Draft7Validator(load_schema("playlists")).iter_errors(answer))
    assert errors == []  # and a second, independent implementation of JSON Schema agrees
    document = parse_document(response.content, device.tenant.url(SLUG))
    nights = next(p for p in document.playlists if p.id.endswith("-nights"))
    assert [h.days for h in nights.hours] == ["fri-mon", "sat,sun"]
    assert document.featured == f"{device.prefix}-festival"


def test_the_schema_is_what_refuses_a_wrong_type() -> None:
    with pytest.raises(PayloadError) as raised:
        playlist = {"id": 3, "title": "T", "revision": "1", "tracks": []}
        validate("playlists", {"revision": "r", "playlists": [playlist]})
    assert raised.value.where == "playlists[0].id"
    assert raised.value.problem == "expected an id without spaces (1 to 200), got a number (3)"


def test_a_lone_surrogate_is_refused_at_validation_naming_the_field() -> None:
    sha = "a" * 64
    doc: dict[str, Any] = {
        "revision": "r",
        "playlists": [
            {
                "id": "p",
                "title": "ok",
                "revision": "1",
                "tracks": [
                    {"id": "t", "title": "\ud800", "sha256": sha, "size": 3,
                     "url": f"/t/sud/v1/media/{sha}"},
                ],
            }
        ],
    }  # fmt: skip
    data = json.dumps(doc).encode()  # ASCII, with the escape "\ud800" in it
    assert b"\\ud800" in data
    with pytest.raises(DocumentError) as raised:
        parse_document(data, "https://tenant.example/t/sud")
    assert str(raised.value) == (
        "playlists[0].tracks[0].title: expected text, got a lone surrogate (U+D800) "
        "that no file can store"
    )
    doc["playlists"][0]["tracks"][0]["title"] = "fine"
    doc["extra"] = {"\udfff": 1}  # an ignored key still ends up in the saved file
    with pytest.raises(DocumentError, match=r"^extra: expected text, got a lone surrogate"):
        parse_document(json.dumps(doc).encode(), "https://tenant.example/t/sud")
