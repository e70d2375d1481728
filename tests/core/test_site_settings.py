"""Site settings the core takes from its configuration and, over it, from the tenant's desired
state: the screens' language, autoplay and the idle timeout. Driven by events and a fake clock
over a real journal; the words are the catalogue's, drawn by the real renderer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import ImageChops

from device.core.kiosk import Mode
from device.display.model import (
    AttractScreen,
    ErrorScreen,
    NowPlayingScreen,
    TechnicianScreen,
    VolumeScreen,
)
from device.display.render import render
from device.display.texts import EN, FR
from device.domain import Library
from device.events import EnrollmentChanged
from device.journal.outbox import PlayJournal
from tests.conftest import make_library
from tests.core.test_kiosk_remote import RemoteRig, desired, mode

FRENCH: dict[str, Any] = {"display": {"driver": "none", "language": "fr"}}


@pytest.fixture
def library(tmp_path: Path) -> Library:
    return make_library(tmp_path / "x.flac", ("festival", 2), ("local", 2))


def test_a_kiosk_configured_in_french_speaks_french_on_every_screen(
    tmp_path: Path, journal: PlayJournal, library: Library
) -> None:
    rig = RemoteRig(tmp_path, journal, library, **FRENCH)
    attract = rig.display.last()
    assert isinstance(attract, AttractScreen) and attract.language == "fr"
    rig.tap("up")
    volume = rig.display.last()
    assert isinstance(volume, VolumeScreen) and volume.language == "fr"
    rig.advance(2)  # the volume bar goes
    rig.tap("play")
    rig.start_audio()
    playing = rig.display.last()
    assert isinstance(playing, NowPlayingScreen) and playing.language == "fr"
    rig.tap("play", 1.5)  # hold: the technician screen
    technician = rig.display.last()
    assert isinstance(technician, TechnicianScreen) and technician.language == "fr"
    labels = [label for label, _ in technician.rows]
    assert labels[:3] == [FR.row_device, FR.row_firmware, FR.row_ip]


def test_a_withdrawn_kiosk_answers_a_press_in_its_language(
    tmp_path: Path, journal: PlayJournal, library: Library
) -> None:
    rig = RemoteRig(tmp_path, journal, library, **FRENCH)
    rig.kiosk.handle(EnrollmentChanged("revoked", "Médiathèques du Sud", None, ""))
    rig.tap("next")
    assert rig.display.last() == ErrorScreen(FR.withdrawn, FR.ask_staff)


def test_an_empty_library_says_so_in_the_configured_language(
    tmp_path: Path, journal: PlayJournal
) -> None:
    rig = RemoteRig(tmp_path, journal, Library(playlists=()), **FRENCH)
    rig.kiosk.content_loaded = True
    rig.tap("next")  # "nothing to play" toast, then the no-music screen once it expires
    assert rig.display.last() == ErrorScreen(FR.nothing_to_play, FR.no_playlist)
    rig.advance(5)
    assert rig.display.last() == ErrorScreen(FR.no_music, FR.no_music_detail)


def test_the_tenant_switches_the_language_at_once_and_back_when_it_stops_saying(
    tmp_path: Path, journal: PlayJournal, library: Library
) -> None:
    rig = RemoteRig(tmp_path, journal, library)  # configured: English (the default)
    english = rig.display.last()
    assert isinstance(english, AttractScreen) and english.language == "en"
    rig.push(desired(language="fr"))
    french = rig.display.last()
    assert isinstance(french, AttractScreen) and french.language == "fr"
    assert ImageChops.difference(render(english), render(french)).getbbox() is not None
    rig.push(desired(2))
    assert rig.kiosk.language == "en" and rig.kiosk.texts is EN


def test_pushed_autoplay_starts_the_default_at_once_and_can_turn_the_configured_one_off(
    tmp_path: Path, journal: PlayJournal, library: Library
) -> None:
    rig = RemoteRig(tmp_path, journal, library)  # configured: no autoplay
    assert mode(rig) is Mode.IDLE
    rig.push(desired(autoplay=True))
    assert mode(rig) is Mode.PLAYING and rig.player.playing is not None

    configured_on = RemoteRig(tmp_path / "b", journal, library, playback={"autoplay": True})
    assert mode(configured_on) is Mode.PLAYING
    configured_on.push(desired(autoplay=False))  # nobody listening: autoplay stops now
    assert mode(configured_on) is Mode.IDLE


def test_a_pushed_idle_timeout_replaces_the_configured_one(
    tmp_path: Path, journal: PlayJournal, library: Library
) -> None:
    rig = RemoteRig(tmp_path, journal, library)  # configured: 120 s
    rig.push(desired(idle_timeout_s=30.0))
    rig.tap("up")
    assert rig.player.volume == 50
    rig.advance(29)
    assert rig.player.volume == 50  # the visitor may still be there
    rig.advance(2)
    assert rig.player.volume == 40  # gone after 30 s, not 120: volume back to the default
