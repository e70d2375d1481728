"""Button gestures: press, hold and combinations, from timed edges."""

from __future__ import annotations

from device.config import ButtonConfig, ComboConfig
from device.core.gestures import GestureDecoder
from device.domain import Action

PLAY = ButtonConfig("play", 17, press=Action.PLAY_PAUSE, hold=Action.TECHNICIAN, hold_time_s=1.0)
NEXT = ButtonConfig("next", 27, press=Action.NEXT)
PREV = ButtonConfig("prev", 22, press=Action.PREVIOUS)
COMBO = ComboConfig(("next", "prev"), Action.NEXT_PLAYLIST, hold_time_s=1.5)


def test_plain_button_fires_on_press_edge() -> None:
    decoder = GestureDecoder((NEXT,))
    assert decoder.down("next", 0.0) == [Action.NEXT]
    assert decoder.up("next", 0.1) == []


def test_button_with_hold_fires_press_on_release_when_short() -> None:
    decoder = GestureDecoder((PLAY,))
    assert decoder.down("play", 0.0) == []
    assert decoder.next_deadline() == 1.0
    assert decoder.up("play", 0.5) == [Action.PLAY_PAUSE]


def test_hold_fires_once_and_suppresses_press() -> None:
    decoder = GestureDecoder((PLAY,))
    decoder.down("play", 0.0)
    assert decoder.poll(0.99) == []
    assert decoder.poll(1.0) == [Action.TECHNICIAN]
    assert decoder.poll(3.0) == []
    assert decoder.up("play", 3.1) == []


def test_release_after_hold_time_without_poll_still_counts_as_hold() -> None:
    decoder = GestureDecoder((PLAY,))
    decoder.down("play", 0.0)
    assert decoder.up("play", 1.2) == [Action.TECHNICIAN]


def test_combo_fires_and_suppresses_member_presses() -> None:
    decoder = GestureDecoder((NEXT, PREV), (COMBO,))
    assert decoder.down("next", 0.0) == []  # deferred: it is part of a combination
    assert decoder.down("prev", 0.2) == []
    assert decoder.next_deadline() == 1.7
    assert decoder.poll(1.7) == [Action.NEXT_PLAYLIST]
    assert decoder.up("next", 2.0) == []
    assert decoder.up("prev", 2.1) == []


def test_combo_member_alone_still_presses_on_release() -> None:
    decoder = GestureDecoder((NEXT, PREV), (COMBO,))
    decoder.down("next", 0.0)
    assert decoder.up("next", 0.1) == [Action.NEXT]


def test_aborted_combo_fires_nothing() -> None:
    decoder = GestureDecoder((NEXT, PREV), (COMBO,))
    decoder.down("next", 0.0)
    decoder.down("prev", 0.1)
    assert decoder.up("prev", 0.5) == []
    assert decoder.up("next", 0.6) == []
    assert decoder.poll(5.0) == []


def test_unknown_button_and_repeated_edges_are_ignored() -> None:
    decoder = GestureDecoder((NEXT,))
    assert decoder.down("ghost", 0.0) == []
    assert decoder.down("next", 0.0) == [Action.NEXT]
    assert decoder.down("next", 0.01) == []
