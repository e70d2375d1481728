"""What remote administration asks of the sync (against the real tenant): a pass right now,
and which playlists are wholly on disk for the reported state."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.sync.conftest import Device, Media

pytestmark = pytest.mark.timeout(30)


def test_wake_runs_a_pass_at_once_instead_of_after_the_interval(
    device: Device, media: list[Media]
) -> None:
    first = device.playlist("first", media[:1])
    syncer = device.syncer(interval_s=3600)
    stop = threading.Event()
    thread = threading.Thread(target=syncer.run, args=(stop,), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not device.libraries() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [p.id for p in device.libraries()[-1].playlists] == [first]
        second = device.playlist("second", media[1:2])  # pushed while the sync sleeps for 1 h
        syncer.wake()
        deadline = time.monotonic() + 10
        while len(device.libraries()) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert {p.id for p in device.libraries()[-1].playlists} == {first, second}
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()  # the wait for a wake-up still honours stop


def test_playlists_present_are_those_whose_every_file_is_cached(
    device: Device, media: list[Media]
) -> None:
    syncer = device.syncer()
    assert syncer.playlists_present() == frozenset()
    whole = device.playlist("whole", media[:2])
    broken = device.playlist("broken", media[2:4])
    assert syncer.sync_once().outcome == "activated"
    assert syncer.playlists_present() == {whole, broken}
    lost = device.cache.path_for(media[3].sha)
    assert lost is not None
    lost.unlink()
    assert syncer.playlists_present() == {whole}


def test_a_library_replaced_on_disk_is_the_one_window_checks_start_from(
    device: Device, media: list[Media]
) -> None:
    """A technician's content pack replaces library.json behind the syncer's back: once told,
    the syncer posts that library, and a validity window opening later does not bring back the
    document it had before."""
    now = [datetime.now(UTC)]
    first = device.playlist("first", media[:1])
    later = device.playlist("later", media[1:2], valid_from=now[0] + timedelta(hours=1))
    syncer = device.syncer(wall_clock=lambda: now[0])
    assert syncer.sync_once().outcome == "activated"
    second = device.playlist("second", media[2:3])
    other = device.syncer(wall_clock=lambda: now[0])  # stands for the pack import
    assert other.sync_once().outcome == "activated"

    syncer.reload_active()
    assert {p.id for p in device.libraries()[-1].playlists} == {first, second}
    now[0] += timedelta(hours=2)
    assert syncer.check_windows()
    assert {p.id for p in device.libraries()[-1].playlists} == {first, second, later}
