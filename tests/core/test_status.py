"""The status snapshot as a pure function of the previous one and the core's state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from device.core.accounting import Play
from device.core.status import KioskStatus, Mode, describe_sync, status_after
from device.domain import PlayItem, PlaylistId, StartedBy
from device.events import EnrollmentChanged, SyncProgress
from tests.conftest import make_library

LIBRARY = make_library(Path("/cache/x.flac"), ("festival", 3), ("local", 2))
FIRST = KioskStatus()


def snapshot(previous: KioskStatus = FIRST, **changes: Any) -> KioskStatus:
    state: dict[str, Any] = {
        "mode": Mode.IDLE,
        "current": None,
        "selected": PlaylistId("local"),
        "volume": 40,
        "screen": "AttractScreen",
        "asleep": False,
        "plays_started": 0,
        "errors": (),
        "enrollment": None,
        "sync": None,
        "output": "built-in (auto)",
    }
    return status_after(previous, **{**state, **changes})


def test_an_idle_kiosk_reports_its_selected_playlist_and_no_track() -> None:
    status = snapshot()
    assert (status.mode, status.playlist_id, status.playlist) == (Mode.IDLE, "local", None)
    assert (status.track_id, status.title, status.artist, status.position_ms) == (
        None,
        None,
        None,
        0,
    )
    assert (status.volume, status.screen, status.output) == (40, "AttractScreen", "built-in (auto)")


def test_a_playing_kiosk_reports_the_current_play_rather_than_the_selection() -> None:
    festival = LIBRARY.playlists[0]
    track = festival.tracks[2]
    assert track.media is not None
    play = Play(PlayItem(3, track.media), festival, 2, StartedBy.AUTOPLAY, 0.0)
    play.position_ms = 4_200
    status = snapshot(mode=Mode.PLAYING, current=play, plays_started=5)
    assert (status.playlist_id, status.playlist) == ("festival", "Festival")
    assert (status.track_id, status.title, status.artist) == (
        "festival-t2",
        "festival title 2",
        "Artist 2",
    )
    assert (status.position_ms, status.plays_started) == (4_200, 5)


def test_the_library_counts_are_kept_from_the_previous_snapshot() -> None:
    status = snapshot(KioskStatus(playlists=2, tracks=5, errors=("old",)), errors=("new",))
    assert (status.playlists, status.tracks, status.errors) == (2, 5, ("new",))


def test_the_tenant_link_and_the_sync_are_reported_in_words() -> None:
    status = snapshot(
        enrollment=EnrollmentChanged("pending", "Lyon", "K7Q-2XM"),
        sync=SyncProgress("failed", detail="tenant unreachable"),
        asleep=True,
    )
    assert (status.tenant_state, status.claim_code) == ("pending", "K7Q-2XM")
    assert status.sync_state == "failed tenant unreachable"
    assert status.display_asleep


def test_a_download_is_described_by_files_and_percent_of_bytes() -> None:
    assert describe_sync(SyncProgress("downloading", 1, 4, 333, 1000)) == "1/4 files, 33%"


def test_a_download_of_unknown_size_and_other_states_are_described_by_name() -> None:
    assert describe_sync(SyncProgress("downloading", 1, 4)) == "downloading"
    assert describe_sync(SyncProgress("complete")) == "complete"
