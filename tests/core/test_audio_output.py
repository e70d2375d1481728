"""Audio output switching in the core: a preferred USB card takes over and gives back, and the
play that is going on keeps its journal entry and its listened time throughout."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract.toml_reader import ConfigError
from device.config import parse_config
from device.core.outputs import choose_output
from device.display.model import StickScreen
from device.display.texts import phrase, verbatim
from device.domain import EndReason
from device.events import PlaybackEnded, SoundCard, SoundCardsChanged, StickReport
from device.journal.outbox import PlayJournal
from device.ports import AudioOutput
from tests.conftest import make_library
from tests.core.test_kiosk import Rig
from tests.core.test_kiosk_remote import RemoteRig, desired

HEADPHONES = SoundCard(0, "Headphones", "bcm2835 Headphones")
USB_DAC = SoundCard(1, "Device", "USB Audio Device", usb=True)
AMP = SoundCard(2, "Amp", "Headphone amp FiiO", usb=True)
OUTPUTS = (
    AudioOutput("auto", "Autoselect device"),
    AudioOutput("alsa/default:CARD=Headphones", "bcm2835 Headphones, bcm2835 Headphones"),
    AudioOutput("alsa/hw:CARD=Device,DEV=0", "USB Audio Device, USB Audio/Direct hardware"),
    AudioOutput("alsa/plughw:CARD=Device,DEV=0", "USB Audio Device, USB Audio/Hardware"),
    AudioOutput("alsa/plughw:CARD=Amp,DEV=0", "Headphone amp FiiO, USB Audio"),
)


@pytest.fixture
def rig(tmp_path: Path, journal: PlayJournal) -> Rig:
    rig = Rig(
        tmp_path,
        journal,
        make_library(tmp_path / "x.flac", ("festival", 3)),
        audio={"preferred_outputs": ["FiiO", "USB Audio"]},
    )
    rig.player.available = OUTPUTS
    return rig


def test_the_best_preferred_card_present_is_chosen_else_the_configured_output() -> None:
    prefs = ("FiiO", "usb audio")
    assert choose_output(prefs, [HEADPHONES], OUTPUTS, "auto").device == "auto"
    usb = choose_output(prefs, [HEADPHONES, USB_DAC], OUTPUTS, "auto")
    assert (usb.device, usb.card) == ("alsa/plughw:CARD=Device,DEV=0", USB_DAC)
    both = choose_output(prefs, [HEADPHONES, USB_DAC, AMP], OUTPUTS, "auto")
    assert both.device == "alsa/plughw:CARD=Amp,DEV=0"
    # A card ALSA has not set up yet (mpv does not list it) is not chosen.
    assert choose_output(prefs, [USB_DAC], OUTPUTS[:2], "auto").device == "auto"
    assert choose_output((), [USB_DAC], OUTPUTS, "alsa/default:CARD=Headphones").label == (
        "built-in (alsa/default:CARD=Headphones)"
    )


def test_plugging_and_unplugging_a_usb_card_moves_the_sound_without_breaking_the_play(
    rig: Rig, journal: PlayJournal
) -> None:
    rig.tap("play")
    token = rig.start_audio(duration_ms=60_000)
    position = rig.listen(token, 4.0)
    [open_play] = journal.plays()
    calls = len(rig.player.calls)

    rig.kiosk.handle(SoundCardsChanged((HEADPHONES, USB_DAC)))
    assert rig.player.output == "alsa/plughw:CARD=Device,DEV=0"
    assert ("Audio", "USB Audio Device") in rig.kiosk.technician_rows()
    position = rig.listen(token, 3.0, start_ms=position)

    rig.kiosk.handle(SoundCardsChanged((HEADPHONES,)))  # unplugged
    assert rig.player.output == "auto"
    assert ("Audio", "built-in (auto)") in rig.kiosk.technician_rows()
    rig.listen(token, 3.0, start_ms=position)

    # Only the output changed: nothing was stopped, restarted or played again.
    assert [c for c, _ in rig.player.calls[calls:]] == ["output", "output"]
    assert rig.player.playing is not None and rig.player.playing.token == token
    rig.kiosk.handle(PlaybackEnded(token, "stopped"))
    [play] = journal.plays()
    assert play.event_id == open_play.event_id
    assert play.listened_ms == 10_000
    assert play.end_reason == EndReason.STOPPED


def test_the_same_cards_again_change_nothing(rig: Rig) -> None:
    rig.kiosk.handle(SoundCardsChanged((HEADPHONES,)))
    rig.kiosk.handle(SoundCardsChanged((HEADPHONES, USB_DAC)))
    rig.kiosk.handle(SoundCardsChanged((USB_DAC, HEADPHONES)))
    assert [c for c in rig.player.calls if c[0] == "output"] == [
        ("output", "alsa/plughw:CARD=Device,DEV=0")
    ]


def test_a_stick_report_shows_on_screen_and_a_refusal_is_noted_for_the_technician(
    rig: Rig,
) -> None:
    rig.kiosk.handle(REFUSED)
    assert rig.display.screens[-1] == StickScreen(
        False, "Stick refused", ("site.toml: bad", "Nothing changed")
    )
    assert "stick: Stick refused: site.toml: bad; Nothing changed" in rig.kiosk.status.errors
    rig.advance(11.0)
    assert not isinstance(rig.display.screens[-1], StickScreen)


REFUSED = StickReport(
    False, phrase("stick_refused"), (verbatim("site.toml: bad"), phrase("nothing_changed"))
)


def test_a_stick_report_is_shown_in_the_language_the_kiosk_speaks_when_it_arrives(
    tmp_path: Path, journal: PlayJournal
) -> None:
    rig = RemoteRig(tmp_path, journal, make_library(tmp_path / "x.flac", ("festival", 1)))
    rig.push(desired(language="fr"))  # the tenant makes the kiosk French at run time
    rig.kiosk.handle(REFUSED)
    assert rig.display.last() == StickScreen(
        False, "Clé refusée", ("site.toml: bad", "Rien n'a été modifié")
    )
    # The status and the logs stay in English, for whoever reads them far from the kiosk.
    assert "stick: Stick refused: site.toml: bad; Nothing changed" in rig.kiosk.status.errors
    done = StickReport(True, phrase("remove_stick"), (phrase("pack_imported", playlists=2,
                                                             files=14),), done=True)  # fmt: skip
    rig.push(desired(2))  # no language said any more: the configured English again
    rig.kiosk.handle(done)
    assert rig.display.last() == StickScreen(
        True, "Remove the stick", ("Pack: 2 playlist(s), 14 file(s)",)
    )


@pytest.mark.parametrize("value", [["USB Audio", 3], "USB Audio", ["  "]])
def test_a_preference_list_that_is_not_card_names_names_the_key(
    tmp_path: Path, value: object
) -> None:
    with pytest.raises(ConfigError, match=r"test\.toml: audio\.preferred_outputs: expected a list"):
        parse_config({"audio": {"preferred_outputs": value}}, "test.toml", tmp_path)
