"""The screen as a pure function of the kiosk's state, and the technician screen's rows."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from device.core.accounting import Play
from device.core.desired import Calendar, DesiredState
from device.core.outputs import OutputChoice
from device.core.screens import (
    ATTRACT_OFFSETS,
    ScreenState,
    TechnicianState,
    screen_for,
    technician_rows,
)
from device.core.status import Mode
from device.core.volume import VolumeRules
from device.display.model import (
    AttractScreen,
    BootScreen,
    ClaimScreen,
    ErrorScreen,
    IdentifyScreen,
    NowPlayingScreen,
    RevokedScreen,
    TechnicianScreen,
    VolumeScreen,
)
from device.domain import EMPTY_LIBRARY, DurationMs, Library, PlayItem, PlaylistId, StartedBy
from device.events import EnrollmentChanged, SoundCard, SyncProgress
from device.journal.outbox import JournalStats
from tests.conftest import make_library

LIBRARY = make_library(Path("/cache/x.flac"), ("festival", 3), ("local", 2))
FESTIVAL = LIBRARY.playlists[0]
PENDING = EnrollmentChanged("pending", "Lyon libraries", "K7Q-2XM")
REVOKED = EnrollmentChanged("revoked", "Lyon libraries", None)


def playing(index: int = 1, position_ms: int = 12_345, duration_ms: int | None = 200_000) -> Play:
    track = FESTIVAL.tracks[index]
    assert track.media is not None
    play = Play(PlayItem(7, track.media), FESTIVAL, index, StartedBy.VISITOR, 0.0)
    play.position_ms, play.duration_ms = position_ms, duration_ms
    return play


IDLE = ScreenState(
    technician=None,
    identify=False,
    device_name="Salle 2",
    device_id="jk-aaaa",
    firmware_version="1.2.3",
    overlay=None,
    enrollment=None,
    mode=Mode.IDLE,
    current=None,
    selected=FESTIVAL,
    content_loaded=True,
    idle_for=0.0,
    dim_after_s=30.0,
    move_every_s=20.0,
)
PLAYING = replace(IDLE, mode=Mode.PLAYING, current=playing())


def test_an_idle_kiosk_shows_the_selected_playlist_on_the_attract_screen() -> None:
    assert screen_for(IDLE) == AttractScreen("Festival", "Note of festival", (0, 0), False)


@pytest.mark.parametrize(
    ("idle_for", "offset", "dim"),
    [(19.9, ATTRACT_OFFSETS[0], False), (20.0, ATTRACT_OFFSETS[1], False), (45.0, (4, 2), True)],
)
def test_the_attract_screen_moves_every_interval_and_dims_after_a_while(
    idle_for: float, offset: tuple[int, int], dim: bool
) -> None:
    screen = screen_for(replace(IDLE, idle_for=idle_for))
    assert isinstance(screen, AttractScreen)
    assert (screen.offset, screen.dim) == (offset, dim)


def test_the_attract_offsets_wrap_around() -> None:
    screen = screen_for(replace(IDLE, idle_for=20.0 * len(ATTRACT_OFFSETS)))
    assert isinstance(screen, AttractScreen) and screen.offset == ATTRACT_OFFSETS[0]


def test_now_playing_rounds_the_elapsed_time_down_to_whole_seconds() -> None:
    assert screen_for(PLAYING) == NowPlayingScreen(
        "Festival", "festival title 1", "Artist 1", 12_000, 200_000, paused=False
    )


def test_now_playing_falls_back_on_the_track_duration_and_shows_a_pause() -> None:
    timed = tuple(replace(track, duration_ms=DurationMs(90_000)) for track in FESTIVAL.tracks)
    current = replace(playing(duration_ms=None), playlist=replace(FESTIVAL, tracks=timed))
    screen = screen_for(replace(PLAYING, mode=Mode.PAUSED, current=current))
    assert isinstance(screen, NowPlayingScreen)
    assert screen.duration_ms == 90_000 and screen.paused


def test_boot_screen_until_the_library_is_loaded_then_an_error_without_playlists() -> None:
    assert screen_for(replace(IDLE, selected=None, content_loaded=False)) == BootScreen(
        "1.2.3", "Loading music"
    )
    empty = screen_for(replace(IDLE, selected=None))
    assert isinstance(empty, ErrorScreen) and empty.title == "No music yet"


def test_the_claim_code_shows_only_while_idle() -> None:
    assert screen_for(replace(IDLE, enrollment=PENDING)) == ClaimScreen("Lyon libraries", "K7Q-2XM")
    assert isinstance(screen_for(replace(PLAYING, enrollment=PENDING)), NowPlayingScreen)
    no_code = replace(PENDING, claim_code=None)
    assert isinstance(screen_for(replace(IDLE, enrollment=no_code)), AttractScreen)


def test_a_revoked_kiosk_says_so_even_while_a_track_is_on() -> None:
    assert screen_for(replace(PLAYING, enrollment=REVOKED)) == RevokedScreen("Lyon libraries")


def test_an_overlay_covers_the_music_and_the_tenant_state() -> None:
    bar = VolumeScreen(50, 20, 60)
    assert screen_for(replace(PLAYING, overlay=bar, enrollment=REVOKED)) == bar


def test_identify_covers_an_overlay_and_the_technician_screen_covers_everything() -> None:
    bar = VolumeScreen(50, 20, 60)
    identify = replace(PLAYING, overlay=bar, identify=True)
    assert screen_for(identify) == IdentifyScreen("Salle 2", "jk-aaaa")
    rows = (("Device", "jk-aaaa"),)
    assert screen_for(replace(identify, technician=rows)) == TechnicianScreen(rows)


BASIC = TechnicianState(
    device_id="jk-aaaa",
    firmware_version="1.2.3",
    addresses=[],
    library=LIBRARY,
    journal=JournalStats(open=1, finished=4, total=5, oldest_finished_seq=2, last_seq=6),
    volume=40,
    rules=VolumeRules(40, 20, 60, 10),
    enrollment=None,
    sync=None,
    desired=None,
    calendar=Calendar(),
    audio_output=OutputChoice("auto", "built-in (auto)"),
    problems=[],
    last_error=None,
)


def test_technician_rows_without_a_tenant_list_the_basics() -> None:
    assert technician_rows(BASIC) == (
        ("Device", "jk-aaaa"),
        ("Firmware", "1.2.3"),
        ("IP", "no network"),
        ("Content", "2 lists, 5/5 tracks"),
        ("Journal", "1 open, 4 done"),
        ("Volume", "40 (20-60)"),
        ("Audio", "built-in (auto)"),
    )


def test_technician_rows_add_the_tenant_sync_remote_problems_and_last_error() -> None:
    state = replace(
        BASIC,
        addresses=["192.0.2.7", "fe80::1"],
        library=EMPTY_LIBRARY,
        enrollment=EnrollmentChanged("active", "Lyon", detail="since 10:02"),
        sync=SyncProgress("downloading", 3, 8, 250, 1000),
        desired=DesiredState(version=4, playlists=(PlaylistId("festival"),)),
        calendar=Calendar(is_open=False),
        problems=["disk almost full"],
        last_error="'x' failed: no such file",
    )
    rows = technician_rows(state)
    assert rows[2] == ("IP", "192.0.2.7, fe80::1")
    assert rows[3] == ("Content", "0 lists, 0/0 tracks")
    assert rows[6:] == (
        ("Tenant", "active since 10:02"),
        ("Sync", "3/8 files, 25%"),
        ("Remote", "v4, closed"),
        ("Audio", "built-in (auto)"),
        ("Problem", "disk almost full"),
        ("Last error", "'x' failed: no such file"),
    )


def test_technician_rows_say_their_values_in_french_too() -> None:
    """Labels and the values made of words; names, numbers and raw messages stay as they are."""
    usb = SoundCard(1, "Device", "USB Audio Device", usb=True)
    state = replace(
        BASIC,
        enrollment=EnrollmentChanged("pending", "Lyon", detail="code KQ7M"),
        sync=SyncProgress("failed", detail="HTTP 503"),
        desired=DesiredState(version=4, playlists=(PlaylistId("festival"),)),
        calendar=Calendar(scheduled=PlaylistId("local")),
        language="fr",
    )
    assert technician_rows(state)[3:] == (
        ("Contenu", "2 listes, 5/5 titres"),
        ("Journal", "1 en cours, 4 finies"),
        ("Volume", "40 (20-60)"),
        ("Réseau", "en attente code KQ7M"),
        ("Synchro", "échec HTTP 503"),
        ("À distance", "v4, ouvert, programme local"),
        ("Son", "intégré (auto)"),
    )
    elsewhere = replace(
        state,
        enrollment=EnrollmentChanged("unreachable"),
        sync=SyncProgress("downloading", 3, 8, 250, 1000),
        calendar=Calendar(clock_unsynced=True),
        audio_output=OutputChoice("alsa/plughw:CARD=Device,DEV=0", "USB Audio Device", usb),
    )
    assert technician_rows(elsewhere)[6:] == (
        ("Réseau", "injoignable"),
        ("Synchro", "3/8 fichiers, 25 %"),
        ("À distance", "v4, horloge non réglée : horaires et programme ignorés"),
        ("Son", "USB Audio Device"),  # a card's own name
    )
    english = replace(elsewhere, language="en")
    assert technician_rows(english)[6:8] == (("Tenant", "unreachable"), ("Sync", "3/8 files, 25%"))


def test_a_library_with_unavailable_tracks_counts_only_the_cached_ones() -> None:
    missing = replace(FESTIVAL.tracks[0], media=None, problem="not downloaded")
    festival = replace(FESTIVAL, tracks=(missing, *FESTIVAL.tracks[1:]))
    library = Library((festival, LIBRARY.playlists[1]), featured=festival.id)
    assert technician_rows(replace(BASIC, library=library))[3] == ("Content", "2 lists, 4/5 tracks")
