"""The visitor controller: presses and the knob, presence and the idle reset, and the screen
saver, driven through the real core with a fake clock over a real journal."""

from __future__ import annotations

from pathlib import Path

import pytest

from device.config import parse_config
from device.core.kiosk import Kiosk
from device.core.status import Mode
from device.display.model import VolumeScreen
from device.domain import Action
from device.journal.outbox import PlayJournal
from tests.conftest import make_library
from tests.core.test_kiosk import CONFIG, Rig
from tests.fakes import FakeClock, FakeDisplay, FakePlayer

IDLE_TIMEOUT_S = CONFIG["visitor"]["idle_timeout_s"]


@pytest.fixture
def rig(tmp_path: Path, journal: PlayJournal) -> Rig:
    return Rig(tmp_path, journal, make_library(tmp_path / "x.flac", ("festival", 3), ("local", 2)))


def test_the_knob_gives_one_action_per_detent_in_its_direction(rig: Rig) -> None:
    assert rig.kiosk.visitor.rotated(3) == [Action.VOLUME_UP] * 3
    assert rig.kiosk.visitor.rotated(-2) == [Action.VOLUME_DOWN] * 2


def test_without_a_knob_turns_do_nothing(tmp_path: Path, journal: PlayJournal) -> None:
    document = {key: value for key, value in CONFIG.items() if key != "rotary"}
    config = parse_config(document, "test.toml", tmp_path)
    library = make_library(tmp_path / "x.flac", ("festival", 1))
    kiosk = Kiosk(config, FakePlayer(), FakeDisplay(), journal, FakeClock(), library)
    assert kiosk.visitor.rotated(2) == []


def test_a_press_on_a_sleeping_kiosk_only_wakes_it_down_to_its_release(rig: Rig) -> None:
    visitor = rig.kiosk.visitor
    rig.advance(301)
    assert visitor.asleep
    assert visitor.button_down("prev", rig.clock.now) is None
    assert not visitor.asleep and not rig.display.asleep
    assert visitor.button_down("prev", rig.clock.now) is None  # still the same press (bounce)
    assert visitor.button_up("prev", rig.clock.now) is None
    assert visitor.button_down("prev", rig.clock.now) == [Action.PREVIOUS]


def test_turning_the_knob_of_a_sleeping_kiosk_only_wakes_it(rig: Rig) -> None:
    rig.advance(301)
    assert rig.kiosk.visitor.rotated(1) is None
    assert not rig.kiosk.visitor.asleep and rig.player.volume == 40


def test_presence_has_a_deadline_only_after_an_action(rig: Rig) -> None:
    visitor = rig.kiosk.visitor
    assert visitor.presence_deadline() is None
    pressed_at = rig.clock.now
    rig.tap("up")  # acts on the press: the button has no hold action
    assert visitor.visitor_present
    assert visitor.presence_deadline() == pressed_at + IDLE_TIMEOUT_S


def test_the_visitor_is_gone_at_the_idle_timeout_and_not_before(rig: Rig) -> None:
    left_at = rig.clock.now
    rig.tap("up")
    visitor = rig.kiosk.visitor
    visitor.check_presence(left_at + IDLE_TIMEOUT_S - 0.1)
    assert visitor.visitor_present and rig.player.volume == 50
    visitor.check_presence(left_at + IDLE_TIMEOUT_S)
    assert not visitor.visitor_present and rig.player.volume == 40


def test_the_idle_reset_closes_the_technician_screen(rig: Rig) -> None:
    rig.tap("play", seconds=1.5)  # hold: technician screen
    assert rig.kiosk.visitor.technician
    rig.advance(IDLE_TIMEOUT_S + 1)
    assert not rig.kiosk.visitor.technician
    assert rig.kiosk.status.screen == "AttractScreen"


def test_the_volume_bar_shows_the_new_volume_within_the_rules_for_a_moment(rig: Rig) -> None:
    rig.kiosk.visitor.change_volume(-1)
    assert rig.player.volume == 30
    assert rig.kiosk.notices.overlay == VolumeScreen(30, 20, 60)
    rig.advance(rig.config.visitor.volume_display_s)
    assert rig.kiosk.notices.overlay is None


def test_an_idle_screen_asks_to_wake_the_core_to_dim_move_and_sleep(rig: Rig) -> None:
    visitor = rig.kiosk.visitor
    start = visitor.idle_since
    assert sorted(visitor.screen_deadlines(Mode.IDLE)) == [start + 20, start + 30, start + 300]
    rig.advance(31)  # dimmed and moved once: the next move and the sleep are left
    assert sorted(visitor.screen_deadlines(Mode.IDLE)) == [start + 40, start + 300]
    assert visitor.screen_deadlines(Mode.PLAYING) == []


def test_a_playing_kiosk_never_sleeps(rig: Rig) -> None:
    rig.tap("play")
    rig.kiosk.visitor.check_sleep(rig.clock.now + 1000, rig.kiosk.mode)
    assert not rig.display.asleep and not rig.kiosk.visitor.asleep


def test_playback_stopping_restarts_the_screen_saver_timers(rig: Rig) -> None:
    rig.advance(100)
    rig.tap("play")
    rig.tap("play")  # pause
    rig.kiosk.playback.go_idle()
    assert rig.kiosk.visitor.idle_since == rig.clock.now
