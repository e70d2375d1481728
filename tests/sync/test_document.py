"""The playlists document is validated as a whole: one bad field refuses all of it."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from device.sync.document import (
    MAX_DOCUMENT_BYTES,
    DocumentError,
    parse_document,
    read_limited,
)

BASE_URL = "http://127.0.0.1:8000/t/sud"
SHA = [hashlib.sha256(f"track {i}".encode()).hexdigest() for i in range(4)]


def track(i: int) -> dict[str, Any]:
    return {
        "id": f"trk-{SHA[i][:16]}",
        "title": f"Title {i}",
        "artist": f"Artist {i}",
        "album": None,
        "isrc": "FRZ032600001",
        "duration_ms": 182000,
        "sha256": SHA[i],
        "size": 4830112,
        "url": f"/t/sud/v1/media/{SHA[i]}",
        "replaygain_track_gain_db": -3.5,
    }


def document() -> dict[str, Any]:
    return {
        "revision": "abc",
        "featured": "festival",
        "playlists": [
            {
                "id": "festival",
                "title": "Festival des Suds",
                "note": "À écouter avant le concert.",
                "revision": "r1",
                "valid_from": "2026-07-01T00:00:00Z",
                "valid_until": None,
                "hours": [{"days": "mon-sat", "from": "10:00", "to": "19:00"}],
                "tracks": [track(0), track(1)],
            },
            {
                "id": "jazz",
                "title": "Jazz",
                "note": "",
                "revision": "r2",
                "valid_from": None,
                "valid_until": None,
                "hours": [],
                "tracks": [track(2), track(3), track(0)],
            },
        ],
    }


def encode(value: object) -> bytes:
    return json.dumps(value).encode()


def refusal(doc: object) -> str:
    with pytest.raises(DocumentError) as caught:
        parse_document(encode(doc), BASE_URL)
    return str(caught.value)


def test_a_valid_document_gives_its_playlists_tracks_and_windows() -> None:
    parsed = parse_document(encode(document()), BASE_URL)
    assert parsed.revision == "abc"
    assert parsed.featured == "festival"
    assert [p.id for p in parsed.playlists] == ["festival", "jazz"]
    festival = parsed.playlists[0]
    assert festival.valid_from == datetime(2026, 7, 1, tzinfo=UTC)
    assert festival.hours[0].days == "mon-sat"
    assert festival.tracks[1].sha256 == SHA[1]
    assert festival.tracks[0].duration_ms == 182000
    assert parsed.media() == {sha: 4830112 for sha in SHA}
    assert not festival.is_valid_at(datetime(2026, 6, 30, 23, 59, tzinfo=UTC))
    assert festival.is_valid_at(datetime(2026, 7, 1, tzinfo=UTC))


def test_the_same_track_may_appear_twice() -> None:
    doc = document()
    doc["playlists"][1]["tracks"].append(track(2))
    assert len(parse_document(encode(doc), BASE_URL).playlists[1].tracks) == 4


def test_a_service_under_a_path_prefix_checks_urls_under_that_prefix() -> None:
    doc = document()
    for playlist in doc["playlists"]:
        for t in playlist["tracks"]:
            t["url"] = "/jukebox" + t["url"]
    parse_document(encode(doc), "https://tenant.example/jukebox/t/sud")
    assert "expected exactly the path /t/sud/v1/media/" in refusal(doc)


def mutate(path: str, value: object) -> dict[str, Any]:
    """The sample document with the field at `path` (a.b[1].c) set, or deleted for DELETE."""
    doc = copy.deepcopy(document())
    target: Any = doc
    parts = path.replace("]", "").replace("[", ".").split(".")
    for part in parts[:-1]:
        target = target[int(part)] if part.isdigit() else target[part]
    last = parts[-1]
    if value is DELETE:
        del target[last]
    elif last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value
    return doc


DELETE = object()
OTHER = SHA[2]


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            "playlists[1].tracks[1].sha256",
            "music/02-ouverture.flac",
            "playlists[1].tracks[1].sha256: expected 64 hex digits",
        ),
        (
            "playlists[0].tracks[0].sha256",
            "Z" * 64,
            "playlists[0].tracks[0].sha256: expected 64 hex digits",
        ),
        (
            "playlists[0].tracks[0].sha256",
            SHA[0].upper(),
            "playlists[0].tracks[0].sha256: expected 64 hex digits",
        ),
        (
            "playlists[0].tracks[1].url",
            f"https://evil.example/t/sud/v1/media/{SHA[1]}",
            "playlists[0].tracks[1].url: expected the path /t/sud/v1/media/"
            f"{SHA[1]}, got a URL that names the host 'evil.example'",
        ),
        (
            "playlists[0].tracks[1].url",
            f"//evil.example/t/sud/v1/media/{SHA[1]}",
            "names the host 'evil.example'",
        ),
        (
            "playlists[0].tracks[1].url",
            f"http://127.0.0.1:8000/t/sud/v1/media/{SHA[1]}",
            "playlists[0].tracks[1].url: expected the path",
        ),
        (
            "playlists[0].tracks[1].url",
            f"/t/other/v1/media/{SHA[1]}",
            "playlists[0].tracks[1].url: expected exactly the path /t/sud/v1/media/",
        ),
        ("playlists[0].tracks[1].url", f"/t/sud/v1/media/{OTHER}", "tracks[1].url: expected"),
        (
            "playlists[0].tracks[1].url",
            f"/t/sud/v1/media/../../admin/{SHA[1]}",
            "tracks[1].url: expected",
        ),
        ("playlists[0].tracks[1].url", f"/t/sud/v1/media/{SHA[1]}?x=1", "tracks[1].url"),
        ("playlists[0].tracks[0].size", 0, "playlists[0].tracks[0].size: expected a positive"),
        ("playlists[0].tracks[0].size", -5, "playlists[0].tracks[0].size: expected a positive"),
        ("playlists[0].tracks[0].size", DELETE, "playlists[0].tracks[0].size: missing"),
        ("playlists[0].tracks[0].size", "12", "tracks[0].size: expected an integer"),
        ("playlists[0].tracks[0].size", 12.0, "tracks[0].size: expected an integer"),
        ("playlists[0].tracks[0].size", True, "tracks[0].size: expected an integer"),
        ("playlists[0].tracks[0].title", 7, "playlists[0].tracks[0].title: expected a string"),
        ("playlists[0].tracks[0].duration_ms", -1, "tracks[0].duration_ms"),
        ("playlists[1].id", "festival", "playlists[1].id: duplicate id 'festival'"),
        ("playlists[1].tracks[0].id", track(0)["id"], "playlists[1].tracks[0].id: duplicate"),
        ("playlists[0].tracks", {}, "playlists[0].tracks: expected an array"),
        ("playlists[0]", [], "playlists[0]: expected an object"),
        ("playlists", None, "playlists: expected an array"),
        ("revision", DELETE, "revision: missing"),
        ("playlists[0].valid_from", "next week", "playlists[0].valid_from: expected an RFC 3339"),
        ("playlists[0].valid_from", "2026-07-01T00:00:00", "valid_from: expected an RFC 3339"),
        ("playlists[0].valid_until", "2026-06-01T00:00:00Z", "valid_until: expected an instant"),
        ("playlists[0].hours[0].days", "weekdays", "playlists[0].hours[0].days: expected days"),
        ("playlists[0].hours[0].from", "25:00", "playlists[0].hours[0].from: expected a time"),
        ("playlists[0].id", "has space", "playlists[0].id: expected an id"),
    ],
)
def test_a_hostile_or_broken_field_refuses_the_whole_document(
    path: str, value: object, message: str
) -> None:
    assert message in refusal(mutate(path, value))


def test_malformed_json_is_refused() -> None:
    for data in (b'{"revision": ', b"\xff\xfe", b'{"a": NaN}', b"[" * 100_000 + b"]" * 100_000):
        with pytest.raises(DocumentError, match=r"malformed JSON|not UTF-8"):
            parse_document(data, BASE_URL)


def test_a_key_given_twice_is_refused() -> None:
    with pytest.raises(DocumentError, match="appears twice"):
        parse_document(b'{"revision": "a", "revision": "b", "playlists": []}', BASE_URL)


def test_a_document_over_one_mib_is_refused_while_reading() -> None:
    consumed = []

    def chunks() -> Any:
        for _ in range(100):
            consumed.append(1)
            yield b" " * (64 << 10)

    with pytest.raises(DocumentError, match="larger than the 1048576 bytes"):
        read_limited(chunks())
    assert len(consumed) == 17  # stopped at the first chunk past the limit, not at the end
    assert read_limited([b"x" * MAX_DOCUMENT_BYTES]) == b"x" * MAX_DOCUMENT_BYTES


def test_a_refusal_is_a_single_line() -> None:
    message = refusal(mutate("playlists[0].tracks[0].sha256", "a\nb" * 500))
    assert "\n" not in message and len(message) < 200


def test_one_file_announced_with_two_sizes_is_refused() -> None:
    doc = document()
    other = track(0)
    other["id"] = "trk-another-id"
    other["size"] = 1234
    doc["playlists"][1]["tracks"].append(other)
    assert "playlists[1].tracks[3].size: 1234 bytes, but playlists[0].tracks[0].size" in refusal(
        doc
    )


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ({"days": "mon", "from": "24:00", "to": "02:00"},
         "playlists[0].hours[0].from: 24:00 can only end a window; start it at 00:00"),
        ({"days": "mon", "from": "10:00", "to": "10:00"},
         "playlists[0].hours[0]: from and to are both 10:00: the window would be empty"),
        ({"days": "mon"}, "playlists[0].hours[0].from: missing, expected a time HH:MM"),
    ],
)  # fmt: skip
def test_hours_follow_the_contracts_grammar(hours: dict[str, str], message: str) -> None:
    assert refusal(mutate("playlists[0].hours[0]", hours)) == message


def test_a_calendar_date_that_does_not_exist_is_refused() -> None:
    assert "valid_from: expected an RFC 3339" in refusal(
        mutate("playlists[0].valid_from", "2026-02-30T00:00:00Z")
    )
