"""The device's playlist document and media downloads: ETags, 304, ranges, windows."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.tenant import RunningTenant
from tests.tenant.conftest import MovableClock, claimed
from tests.tenant.kiosk import Kiosk

Tracks = list[dict[str, Any]]


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def centre(service: RunningTenant, clock: MovableClock) -> Kiosk:
    return claimed(service, clock, "centre")


def test_the_document_lists_assigned_playlists_with_verifiable_tracks(
    service: RunningTenant, centre: Kiosk, flac_tracks: Tracks, flac_dir: Path
) -> None:
    ids = [t["id"] for t in flac_tracks[:2]]
    service.create_playlist(
        "lib-a", "fest", "Festival", ids, note="Live", featured=True, sites=["centre"],
        hours=[{"days": "mon-sat", "from": "10:00", "to": "19:00"}],
    )  # fmt: skip

    response = centre.playlists()

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    document = response.json()
    assert response.headers["etag"] == f'"{document["revision"]}"'
    assert re.fullmatch(r"[0-9a-f]{64}", document["revision"])
    assert document["featured"] == "fest"
    [playlist] = document["playlists"]
    assert playlist["id"] == "fest" and playlist["title"] == "Festival"
    assert playlist["note"] == "Live"
    assert playlist["valid_from"] is None and playlist["valid_until"] is None
    assert playlist["hours"] == [{"days": "mon-sat", "from": "10:00", "to": "19:00"}]
    assert playlist["revision"]
    first = playlist["tracks"][0]
    content = (flac_dir / "t0.flac").read_bytes()
    assert first["sha256"] == hashlib.sha256(content).hexdigest()
    assert first["size"] == len(content)
    assert first["url"] == f"/t/lib-a/v1/media/{first['sha256']}"
    assert (first["title"], first["artist"], first["isrc"]) == (
        "Track 0",
        "Artist 0",
        "FRZ032600000",
    )
    assert first["duration_ms"] == 1500
    assert [t["id"] for t in playlist["tracks"]] == ids


def test_an_unchanged_document_answers_304_and_a_change_gives_a_new_etag(
    service: RunningTenant, centre: Kiosk, flac_tracks: Tracks
) -> None:
    service.create_playlist("lib-a", "p", "P", [flac_tracks[0]["id"]], sites=["centre"])
    etag = centre.playlists().headers["etag"]

    unchanged = centre.playlists(**{"If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.headers["etag"] == etag
    assert unchanged.content == b""

    service.create_playlist("lib-a", "p", "P", [flac_tracks[1]["id"]], sites=["centre"])
    changed = centre.playlists(**{"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert changed.json()["playlists"][0]["tracks"][0]["id"] == flac_tracks[1]["id"]


def test_upcoming_playlists_are_included_and_closed_ones_are_not(
    service: RunningTenant, centre: Kiosk, flac_tracks: Tracks
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    track = [flac_tracks[0]["id"]]
    service.create_playlist("lib-a", "always", "Always", track, sites=["centre"], featured=True)
    service.create_playlist(
        "lib-a", "next-week", "Next week", track, sites=["centre"], featured=True,
        valid_from=now + timedelta(days=7), valid_until=now + timedelta(days=9),
    )  # fmt: skip
    service.create_playlist(
        "lib-a", "last-week", "Last week", track, sites=["centre"],
        valid_from=now - timedelta(days=9), valid_until=now - timedelta(days=7),
    )  # fmt: skip

    document = centre.playlists().json()

    assert [p["id"] for p in document["playlists"]] == ["always", "next-week"]
    upcoming = document["playlists"][1]
    assert upcoming["valid_from"] == _iso(now + timedelta(days=7))
    assert upcoming["valid_until"] == _iso(now + timedelta(days=9))
    assert document["featured"] == "always"  # the upcoming one is not open yet


def test_the_featured_playlist_follows_the_open_window(
    service: RunningTenant, clock: MovableClock, centre: Kiosk, flac_tracks: Tracks
) -> None:
    now = datetime.now(UTC)
    track = [flac_tracks[0]["id"]]
    service.create_playlist("lib-a", "always", "Always", track, sites=["centre"], featured=True)
    service.create_playlist(
        "lib-a", "festival", "Festival", track, sites=["centre"], featured=True,
        valid_from=now + timedelta(hours=1), valid_until=now + timedelta(hours=3),
    )  # fmt: skip
    assert centre.playlists().json()["featured"] == "always"

    clock.advance(2 * 3600)
    centre.login()  # the earlier token has expired by now
    assert centre.playlists().json()["featured"] == "festival"
    clock.advance(2 * 3600)
    centre.login()
    document = centre.playlists().json()
    assert document["featured"] == "always"
    assert [p["id"] for p in document["playlists"]] == ["always"]


def test_assignment_by_device_and_by_site_and_its_replacement(
    service: RunningTenant, clock: MovableClock, centre: Kiosk, flac_tracks: Tracks
) -> None:
    annexe = claimed(service, clock, "annexe")
    track = [flac_tracks[0]["id"]]
    service.create_playlist("lib-a", "p", "P", track, sites=["annexe"], devices=[centre.device_id])
    assert [p["id"] for p in centre.playlists().json()["playlists"]] == ["p"]
    assert [p["id"] for p in annexe.playlists().json()["playlists"]] == ["p"]

    shown = service.assign("lib-a", "p", sites=["annexe"])

    assert shown["sites"] == ["annexe"] and shown["devices"] == []
    assert centre.playlists().json()["playlists"] == []
    assert centre.get(f"/v1/media/{flac_tracks[0]['sha256']}").status_code == 404
    assert len(annexe.playlists().json()["playlists"]) == 1


def test_replacing_a_playlist_keeps_its_assignment_and_changes_its_revision(
    service: RunningTenant, centre: Kiosk, flac_tracks: Tracks
) -> None:
    admin = service.admin("lib-a")
    first = service.create_playlist("lib-a", "p", "P", [flac_tracks[0]["id"]], sites=["centre"])
    same = admin.put_playlist("p", "P", [flac_tracks[0]["id"]])
    replaced = admin.put_playlist("p", "P2", [flac_tracks[1]["id"], flac_tracks[0]["id"]])

    assert same["revision"] == first["revision"]
    assert replaced["revision"] != first["revision"]
    assert replaced["sites"] == ["centre"]
    assert [p["title"] for p in centre.playlists().json()["playlists"]] == ["P2"]
    assert [p["id"] for p in admin.playlists()] == ["p"]


# ------------------------------------------------------------------------------------ media


@pytest.fixture
def media(
    service: RunningTenant, centre: Kiosk, flac_tracks: Tracks, flac_dir: Path
) -> tuple[str, bytes]:
    service.create_playlist("lib-a", "p", "P", [flac_tracks[0]["id"]], sites=["centre"])
    return f"/v1/media/{flac_tracks[0]['sha256']}", (flac_dir / "t0.flac").read_bytes()


def test_media_come_whole_with_a_strong_etag(centre: Kiosk, media: tuple[str, bytes]) -> None:
    path, content = media

    response = centre.get(path)

    assert response.status_code == 200
    assert response.content == content
    assert response.headers["etag"] == f'"{hashlib.sha256(content).hexdigest()}"'
    assert response.headers["accept-ranges"] == "bytes"
    assert int(response.headers["content-length"]) == len(content)


@pytest.mark.parametrize(
    ("range_header", "start", "end"),
    [("bytes=100-", 100, None), ("bytes=10-19", 10, 19), ("bytes=-50", -50, None),
     ("bytes=5-999999999", 5, None)],
)  # fmt: skip
def test_a_byte_range_gives_206_with_its_content_range(
    centre: Kiosk, media: tuple[str, bytes], range_header: str, start: int, end: int | None
) -> None:
    path, content = media
    first = start if start >= 0 else len(content) + start
    last = len(content) - 1 if end is None else end

    response = centre.get(path, Range=range_header)

    assert response.status_code == 206
    assert response.content == content[first : last + 1]
    assert response.headers["content-range"] == f"bytes {first}-{last}/{len(content)}"


def test_a_range_past_the_end_is_416(centre: Kiosk, media: tuple[str, bytes]) -> None:
    path, content = media

    response = centre.get(path, Range=f"bytes={len(content)}-")

    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(content)}"
    assert response.json()["error"] == "range_not_satisfiable"


def test_a_range_with_a_stale_if_range_gives_the_whole_file(
    centre: Kiosk, media: tuple[str, bytes]
) -> None:
    path, content = media

    response = centre.get(path, Range="bytes=10-", **{"If-Range": '"other"'})

    assert response.status_code == 200 and response.content == content


def test_a_matching_if_none_match_is_304(centre: Kiosk, media: tuple[str, bytes]) -> None:
    path, content = media
    etag = f'"{hashlib.sha256(content).hexdigest()}"'

    response = centre.get(path, **{"If-None-Match": etag})

    assert response.status_code == 304
    assert response.headers["etag"] == etag
    assert response.content == b""


def test_a_malformed_media_name_is_404(centre: Kiosk, media: tuple[str, bytes]) -> None:
    for name in ("abc", "A" * 64, "../../tenant.sqlite3"):
        assert centre.get(f"/v1/media/{name}").status_code == 404


def test_media_of_a_closed_playlist_are_no_longer_served(
    service: RunningTenant, centre: Kiosk, flac_tracks: Tracks
) -> None:
    now = datetime.now(UTC)
    service.create_playlist(
        "lib-a", "old", "Old", [flac_tracks[2]["id"]], sites=["centre"],
        valid_from=now - timedelta(days=2), valid_until=now - timedelta(days=1),
    )  # fmt: skip

    assert centre.get(f"/v1/media/{flac_tracks[2]['sha256']}").status_code == 404
