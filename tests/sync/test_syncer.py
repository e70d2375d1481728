"""The sync against the real tenant service: download, verify, activate atomically, resume."""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from contract.media import MediaCache
from device.domain import EMPTY_LIBRARY, Library
from device.platform.backoff import Backoff
from device.sync.source import TenantContentSource
from device.sync.store import LIBRARY_FILE
from tests.sync.conftest import SLUG, Device, Media

pytestmark = pytest.mark.timeout(30)


def play_ready(library: Library, cache: MediaCache) -> bool:
    return all(
        t.media is not None and cache.contains(t.media) and t.problem is None
        for p in library.playlists
        for t in p.tracks
    )


def wait_for(condition: object, timeout_s: float = 5.0) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_first_sync_downloads_every_file_and_posts_a_play_ready_library(
    device: Device, media: list[Media]
) -> None:
    festival = device.playlist("festival", media[:3], featured=True)
    jazz = device.playlist("jazz", [media[3], media[0]])

    result = device.syncer().sync_once()

    assert result.outcome == "activated"
    assert (result.files_downloaded, result.files_failed, result.files_missing) == (4, 0, 0)
    assert result.bytes_downloaded == sum(m.size for m in media[:4])
    [library] = device.libraries()
    assert play_ready(library, device.cache)
    assert [p.id for p in library.playlists] == [festival, jazz]
    assert library.featured == festival
    track = library.playlists[0].tracks[1]
    assert track.media is not None and track.media.read_bytes() == media[1].path.read_bytes()
    assert (track.id, track.title, track.artist, track.isrc, track.sha256) == (
        media[1].id,
        "Chanson 1",
        "Groupe 1",
        "FRZ032600101",
        media[1].sha,
    )
    assert track.album == "Festival des Suds" and track.duration_ms == 1250
    admin = device.tenant.admin(SLUG).playlist(festival)
    assert library.playlists[0].revision == admin["revision"]
    assert library.playlists[0].note == "Note for festival"
    assert (device.state_dir / LIBRARY_FILE).exists()
    assert list((device.state_dir / "downloads").iterdir()) == []
    states = [p.state for p in device.progress()]
    assert states[0] == "checking" and "downloading" in states and states[-1] == "complete"
    last_download = [p for p in device.progress() if p.state == "downloading"][-1]
    assert last_download.files_total == 4


def test_an_unchanged_document_is_a_304_and_does_nothing(
    device: Device, media: list[Media]
) -> None:
    device.playlist("calm", media[:2])
    syncer = device.syncer()
    assert syncer.sync_once().outcome == "activated"
    saved = (device.state_dir / LIBRARY_FILE).stat()
    device.http.exchanges.clear()
    device.events.clear()

    started = time.perf_counter()
    result = syncer.sync_once()
    elapsed = time.perf_counter() - started

    assert result.outcome == "unchanged"
    [(path, headers, status)] = device.http.exchanges
    assert (path, status) == ("/v1/device/playlists", 304)
    assert headers["If-None-Match"].startswith('"')
    assert device.libraries() == []
    assert (device.state_dir / LIBRARY_FILE).stat().st_mtime_ns == saved.st_mtime_ns
    assert elapsed < 0.5


def test_a_new_syncer_after_a_reboot_asks_with_the_saved_etag(
    device: Device, media: list[Media]
) -> None:
    device.playlist("reboot", media[:2])
    assert device.syncer().sync_once().outcome == "activated"
    device.http.exchanges.clear()
    device.events.clear()

    result = device.syncer().sync_once()  # a new process: state from library.json only

    assert result.outcome == "complete"  # it checked the cache once, downloaded nothing
    assert [status for _, _, status in device.http.exchanges] == [304]
    assert device.libraries() == []  # what TenantContentSource gave at boot is unchanged

    # A daemon that showed something else at boot (here: nothing) is brought up to date.
    assert device.syncer(shown=EMPTY_LIBRARY).check_windows()
    assert device.libraries()[-1] == TenantContentSource(device.state_dir, device.cache).load()


def test_a_truncated_download_is_resumed_with_a_range(device: Device, media: list[Media]) -> None:
    device.playlist("resume", [media[5]])
    data = media[5].path.read_bytes()
    half = len(data) // 2
    downloads = device.state_dir / "downloads"
    downloads.mkdir(parents=True)
    (downloads / f"{media[5].sha}.part").write_bytes(data[:half])

    result = device.syncer().sync_once()

    assert result.outcome == "activated"
    assert result.bytes_downloaded == len(data) - half
    [(_, headers, status)] = device.http.media_requests()
    assert (headers["Range"], status) == (f"bytes={half}-", 206)
    cached = device.cache.path_for(media[5].sha)
    assert cached is not None and cached.read_bytes() == data
    assert not (downloads / f"{media[5].sha}.part").exists()


def test_a_corrupted_partial_download_is_rejected_then_fetched_again(
    device: Device, media: list[Media]
) -> None:
    device.playlist("corrupt", [media[4], media[1]])
    data = media[4].path.read_bytes()
    downloads = device.state_dir / "downloads"
    downloads.mkdir(parents=True)
    part = downloads / f"{media[4].sha}.part"
    part.write_bytes(b"\0" * (len(data) // 3))  # the right length, the wrong bytes
    syncer = device.syncer()

    first = syncer.sync_once()

    assert (first.outcome, first.files_failed, first.files_missing) == ("incomplete", 1, 1)
    assert device.libraries() == []  # nothing complete to activate
    assert not part.exists()
    assert device.cache.path_for(media[4].sha) is None
    assert device.progress()[-1].state == "failed"

    second = syncer.sync_once()  # the same document (304): the missing file is fetched again

    assert second.outcome == "activated"
    assert device.http.exchanges[-2][2] == 304
    cached = device.cache.path_for(media[4].sha)
    assert cached is not None and cached.read_bytes() == data
    assert play_ready(device.libraries()[-1], device.cache)


def test_wrong_bytes_from_the_network_are_rejected_and_fetched_again(
    device: Device, media: list[Media]
) -> None:
    device.playlist("tampered", [media[6]])
    stored = media[6].tenant_file(device.tenant)
    original = stored.read_bytes()
    tampered = stored.with_name("tampered")
    tampered.write_bytes(original[:-1] + bytes([original[-1] ^ 0xFF]))
    moved = stored.with_name("original")
    stored.rename(moved)
    tampered.rename(stored)  # the tenant now serves the right size with the wrong bytes
    try:
        result = device.syncer().sync_once()
    finally:
        moved.replace(stored)

    assert (result.outcome, result.files_failed) == ("incomplete", 1)
    assert device.cache.path_for(media[6].sha) is None
    assert device.media_dir_entries() == []
    assert not (device.state_dir / "downloads" / f"{media[6].sha}.part").exists()

    assert device.syncer().sync_once().outcome == "activated"
    cached = device.cache.path_for(media[6].sha)
    assert cached is not None and cached.read_bytes() == original


def test_a_playlist_with_a_missing_file_waits_and_the_previous_library_keeps_playing(
    device: Device, media: list[Media]
) -> None:
    first = device.playlist("first", media[:2])
    syncer = device.syncer()
    assert syncer.sync_once().outcome == "activated"
    [before] = device.libraries()
    second = device.playlist("second", [media[2], media[7]])
    stored = media[7].tenant_file(device.tenant)
    hidden = stored.with_name("hidden")
    stored.rename(hidden)  # the tenant lost this file: it answers 404
    try:
        result = syncer.sync_once()
        assert (result.outcome, result.files_downloaded, result.files_missing) == (
            "incomplete",
            1,
            1,
        )
        assert device.libraries() == [before]
        saved = json.loads((device.state_dir / LIBRARY_FILE).read_text())
        assert [p["id"] for p in saved["document"]["playlists"]] == [first]
        booted = TenantContentSource(device.state_dir, MediaCache(device.cache.root)).load()
        assert [p.id for p in booted.playlists] == [first]
    finally:
        hidden.rename(stored)

    assert syncer.sync_once().outcome == "activated"
    after = device.libraries()[-1]
    assert [p.id for p in after.playlists] == [first, second]
    assert play_ready(after, device.cache)


def test_a_kiosk_booting_without_its_tenant_plays_the_saved_library(
    device: Device, media: list[Media]
) -> None:
    playlist = device.playlist("offline", media[:3], featured=True)
    assert device.syncer().sync_once().outcome == "activated"
    synced = device.libraries()[-1]
    device.tenant.stop()
    try:
        cache = MediaCache(device.cache.root)  # a reboot: everything read again from disk
        library = TenantContentSource(device.state_dir, cache).load()
        assert library == synced
        assert library.featured == playlist and play_ready(library, cache)
        device.events.clear()
        result = device.syncer().sync_once()
        assert result.outcome == "offline"
        assert device.libraries() == []
        assert device.progress()[-1].state == "offline"
    finally:
        device.tenant.start()


def test_the_sync_thread_backs_off_while_the_tenant_is_down_then_catches_up(
    device: Device, media: list[Media]
) -> None:
    device.playlist("later", [media[2]])
    device.tenant.stop()
    stop = threading.Event()
    syncer = device.syncer(interval_s=600, backoff=Backoff(base_s=0.05, cap_s=0.2))
    thread = threading.Thread(target=syncer.run, args=(stop,), daemon=True)
    try:
        thread.start()
        wait_for(lambda: any(p.state == "offline" for p in device.progress()))
        device.tenant.start()
        wait_for(lambda: device.libraries() != [])
    finally:
        stop.set()
        thread.join(5)
        device.tenant.start()
    assert not thread.is_alive()
    assert syncer.backoff.failures == 0
    assert play_ready(device.libraries()[-1], device.cache)


def test_upcoming_playlists_are_downloaded_ahead_and_open_on_time(
    device: Device, media: list[Media]
) -> None:
    opening = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    now_id = device.playlist("now", [media[0]])
    next_id = device.playlist("next", [media[1], media[2]], valid_from=opening)
    offset = {"value": timedelta(0)}

    def wall_clock() -> datetime:
        return datetime.now(UTC) + offset["value"]

    syncer = device.syncer(wall_clock=wall_clock)
    assert syncer.sync_once().outcome == "activated"
    assert [p.id for p in device.libraries()[-1].playlists] == [now_id]
    assert device.cache.path_for(media[1].sha) and device.cache.path_for(media[2].sha)
    assert not syncer.check_windows()

    # Half a second before the window opens, the sync thread is sleeping for its interval.
    offset["value"] = opening - datetime.now(UTC) - timedelta(seconds=0.5)
    stop = threading.Event()
    thread = threading.Thread(target=syncer.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(lambda: len(device.libraries()) == 2, timeout_s=5)
    finally:
        stop.set()
        thread.join(5)
    assert wall_clock() >= opening
    opened = device.libraries()[-1]
    assert [p.id for p in opened.playlists] == [now_id, next_id]
    assert play_ready(opened, device.cache)
    booted = TenantContentSource(device.state_dir, device.cache, wall_clock=wall_clock).load()
    assert booted == opened


def test_a_playlist_opening_while_a_file_is_missing_waits_until_it_is_whole(
    device: Device, media: list[Media]
) -> None:
    opening = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    now_id = device.playlist("open", [media[0]])
    next_id = device.playlist("soon", [media[1], media[7]], valid_from=opening)
    offset = {"value": timedelta(0)}

    def wall_clock() -> datetime:
        return datetime.now(UTC) + offset["value"]

    stored = media[7].tenant_file(device.tenant)
    hidden = stored.with_name("hidden-soon")
    stored.rename(hidden)
    try:
        syncer = device.syncer(wall_clock=wall_clock)
        result = syncer.sync_once()
        assert (result.outcome, result.activated) == ("incomplete", True)  # "open" is whole
        offset["value"] = timedelta(days=3, seconds=1)
        assert not syncer.check_windows()  # "soon" opened, but it is not whole: not shown
        assert [p.id for p in device.libraries()[-1].playlists] == [now_id]
    finally:
        hidden.rename(stored)
    assert syncer.sync_once().outcome == "complete"
    assert [p.id for p in device.libraries()[-1].playlists] == [now_id, next_id]
    assert play_ready(device.libraries()[-1], device.cache)


def test_a_revoked_kiosk_stops_syncing_and_says_so(
    device: Device, media: list[Media], caplog: pytest.LogCaptureFixture
) -> None:
    device.playlist("revoked", [media[0]])
    device.tenant.revoke(SLUG, device.device_id)
    stop = threading.Event()
    syncer = device.syncer(backoff=Backoff(base_s=0.05, cap_s=0.1))
    thread = threading.Thread(target=syncer.run, args=(stop,), daemon=True)
    with caplog.at_level(logging.ERROR, logger="device.sync"):
        thread.start()
        thread.join(5)
    stop.set()
    assert not thread.is_alive()  # it returned by itself
    assert device.progress()[-1].state == "failed"
    assert "revoked" in device.progress()[-1].detail
    assert any("revoked" in r.getMessage() for r in caplog.records)


def test_stale_partial_downloads_of_files_no_longer_needed_are_removed(
    device: Device, media: list[Media]
) -> None:
    device.playlist("stale", [media[0]])
    downloads = device.state_dir / "downloads"
    downloads.mkdir(parents=True)
    stale = downloads / f"{media[7].sha}.part"
    stale.write_bytes(b"old")
    assert device.syncer().sync_once().outcome == "activated"
    assert not stale.exists()


def test_the_saved_library_is_written_atomically(device: Device, media: list[Media]) -> None:
    device.playlist("atomic", [media[0]])
    assert device.syncer().sync_once().outcome == "activated"
    names = sorted(p.name for p in device.state_dir.iterdir())
    assert LIBRARY_FILE in names
    assert not [n for n in names if n.endswith(".tmp")]
    saved = json.loads((device.state_dir / LIBRARY_FILE).read_text())
    assert saved["base_url"] == device.http.base_url and saved["etag"].startswith('"')


def test_library_json_that_was_tampered_with_is_ignored(
    device: Device, media: list[Media], caplog: pytest.LogCaptureFixture
) -> None:
    device.playlist("tamper", [media[0]])
    assert device.syncer().sync_once().outcome == "activated"
    path = device.state_dir / LIBRARY_FILE
    saved = json.loads(path.read_text())
    saved["document"]["playlists"][0]["tracks"][0]["url"] = "https://evil.example/x"
    path.write_text(json.dumps(saved))
    with caplog.at_level(logging.ERROR):
        library = TenantContentSource(device.state_dir, device.cache).load()
    assert library.playlists == ()
    assert "tracks[0].url" in caplog.text
