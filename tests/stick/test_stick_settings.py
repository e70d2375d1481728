"""Kiosk settings from a technician stick take effect without a restart: the helper checks
and keeps the stick's kiosk.toml, the daemon's watcher reads the configuration again with it
and posts SettingsChanged, and a running core takes it at once. Real mounts (loop devices),
the real helper and watcher, the real core over a real journal."""

from __future__ import annotations

from pathlib import Path

import pytest

from device.config import load_config
from device.core.kiosk import Kiosk, Mode
from device.display.model import AttractScreen, StickScreen, VolumeScreen
from device.domain import Library
from device.events import ButtonDown, ButtonUp, Event, SettingsChanged, StickReport
from device.firstboot.site_settings import with_site_settings
from device.journal.outbox import PlayJournal
from tests.conftest import make_library
from tests.fakes import FakeClock, FakeDisplay, FakePlayer
from tests.stick.conftest import needs_loop
from tests.stick.test_stick import Stick, _tree, said

pytestmark = [needs_loop, pytest.mark.timeout(60)]

ETC = """\
[device]
state_dir = "{state}"

[audio]
min_volume = 10
max_volume = 70
default_volume = 40
volume_step = 5

[display]
driver = "none"

[[buttons]]
name = "play"
pin = 17
press = "play_pause"

[[buttons]]
name = "next"
pin = 27
press = "next"
"""

KIOSK = """\
[display]
language = "fr"

[audio]
max_volume = 50

[playback]
autoplay = true

[[buttons]]
name = "play"
pin = 17
press = "play_pause"

[[buttons]]
name = "next"
pin = 22
press = "volume_up"
"""


@pytest.fixture
def stick(tmp_path: Path, state_dir: Path, loop: list[str]) -> Stick:
    return Stick(tmp_path, state_dir, loop)


class RunningKiosk:
    """The core as the daemon runs it, fed the watcher's events on the test's thread."""

    def __init__(self, tmp_path: Path, stick: Stick, journal: PlayJournal, library: Library):
        etc = tmp_path / "jukebox.toml"
        etc.write_text(ETC.format(state=stick.state_dir))
        base = load_config(etc)
        config, problems = with_site_settings(base)
        assert problems == []
        stick.settings = lambda: with_site_settings(base)
        stick.config = config
        self.clock = FakeClock()
        self.player = FakePlayer()
        self.display = FakeDisplay()
        self.kiosk = Kiosk(config, self.player, self.display, journal, self.clock, library)
        self.kiosk.start()

    def deliver(self, events: list[Event]) -> None:
        for event in events:
            self.kiosk.handle(event)

    def tap(self, button: str) -> None:
        self.kiosk.handle(ButtonDown(button, self.clock.now))
        self.clock.advance(0.1)
        self.kiosk.handle(ButtonUp(button, self.clock.now))


def test_a_sticks_kiosk_settings_apply_at_once_without_a_restart(
    stick: Stick, tmp_path: Path, journal: PlayJournal
) -> None:
    library = make_library(tmp_path / "x.flac", ("festival", 2))
    running = RunningKiosk(tmp_path, stick, journal, library)
    assert running.kiosk.mode is Mode.IDLE and running.kiosk.language == "en"
    tree = _tree(tmp_path)
    (tree / "jukebox" / "kiosk.toml").write_text(KIOSK)

    verdict = stick.run(tree)

    assert verdict is not None and verdict.state == "done"
    assert (stick.state_dir / "kiosk.toml").read_text() == KIOSK
    changed = [e for e in stick.events if isinstance(e, SettingsChanged)]
    assert len(changed) == 1
    [report, *_] = stick.reports
    _title, lines = said(report)
    assert "display: language = 'fr'" in lines
    assert "Applied now" in lines
    assert "Restart the kiosk for: buttons (pins)" in lines  # "next" moved to GPIO22

    running.deliver(stick.events)
    kiosk = running.kiosk
    assert kiosk.language == "fr"
    # The stick's own settings made the kiosk French: its report is shown in French.
    shown = [s for s in running.display.screens if isinstance(s, StickScreen)]
    assert [s.title for s in shown] == ["Clé lue", "Retirez la clé"]
    assert "display : language = 'fr'" in shown[0].lines
    assert "Appliqués tout de suite" in shown[0].lines
    assert "Redémarrez le kiosque pour : buttons (pins)" in shown[0].lines
    assert kiosk.mode is Mode.PLAYING  # autoplay, now on: the default starts by itself
    assert kiosk.rules.maximum == 50 and running.player.volume == 40
    running.tap("next")  # the same button, bound anew: volume up, under the new ceiling
    assert running.player.volume == 45
    bar = running.display.last()
    assert isinstance(bar, VolumeScreen) and bar.language == "fr" and bar.maximum == 50


def test_a_stick_whose_kiosk_settings_are_broken_changes_nothing(
    stick: Stick, tmp_path: Path, journal: PlayJournal
) -> None:
    running = RunningKiosk(tmp_path, stick, journal, make_library(tmp_path / "x.flac", ("a", 1)))
    tree = _tree(tmp_path)
    (tree / "jukebox" / "kiosk.toml").write_text('[display]\nlanguage = "de"\nsleep_after = 1\n')

    verdict = stick.run(tree)

    assert verdict is not None and verdict.state == "refused"
    assert verdict.problems == (
        "jukebox/kiosk.toml: display.sleep_after: unknown key, did you mean 'sleep_after_s'?",
        "jukebox/kiosk.toml: display.language: expected one of 'en', 'fr', got 'de'",
    )
    assert not (stick.state_dir / "kiosk.toml").exists()
    assert not [e for e in stick.events if isinstance(e, SettingsChanged)]
    running.deliver(stick.events)
    assert running.kiosk.language == "en"
    screen = running.display.last()
    assert isinstance(screen, StickScreen) and not screen.ok
    assert isinstance(stick.reports[0], StickReport)


def test_settings_valid_alone_but_not_over_the_configuration_are_not_applied(
    stick: Stick, tmp_path: Path, journal: PlayJournal
) -> None:
    running = RunningKiosk(tmp_path, stick, journal, make_library(tmp_path / "x.flac", ("a", 1)))
    tree = _tree(tmp_path)
    (tree / "jukebox" / "kiosk.toml").write_text("[audio]\ndefault_volume = 75\n")  # /etc: max 70

    stick.run(tree)

    assert not [e for e in stick.events if isinstance(e, SettingsChanged)]
    _title, lines = said(stick.reports[0])
    assert any("kiosk settings ignored" in line and "got 75" in line for line in lines)
    running.deliver(stick.events)
    assert running.kiosk.rules.minimum == 10
    assert isinstance(running.display.last(), StickScreen)
    assert not isinstance(running.display.last(), AttractScreen)
