"""The button panel against gpiozero itself, on MockFactory pins (callbacks fire synchronously)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from gpiozero.pins.mock import MockFactory

from device.buttons.gpio_panel import GpioPanel
from device.config import ButtonConfig, RotaryConfig
from device.domain import Action
from device.events import ButtonDown, ButtonUp, Event, Rotated
from device.sim.panel import SimulatedPanel, UnknownButton

BUTTONS = (
    ButtonConfig("play", 17, press=Action.PLAY_PAUSE, bounce_ms=0),
    ButtonConfig("next", 27, press=Action.NEXT, pull_up=False, bounce_ms=0),
)
ROTARY = RotaryConfig(5, 6)


@pytest.fixture
def rig() -> Iterator[tuple[SimulatedPanel, list[Event]]]:
    factory = MockFactory()
    events: list[Event] = []
    panel = GpioPanel(BUTTONS, ROTARY, factory)
    panel.start(events.append)
    assert panel.problem is None
    yield SimulatedPanel(factory, BUTTONS, ROTARY), events
    panel.close()


def test_pin_edges_become_button_events_with_monotonic_times(
    rig: tuple[SimulatedPanel, list[Event]],
) -> None:
    sim, events = rig
    sim.press("play")
    sim.release("play")
    sim.press("next")  # wired to 3.3 V: active high
    sim.release("next")
    assert [type(e).__name__ + ":" + e.button for e in events] == [  # type: ignore[union-attr]
        "ButtonDown:play",
        "ButtonUp:play",
        "ButtonDown:next",
        "ButtonUp:next",
    ]
    times = [e.at for e in events]  # type: ignore[union-attr]
    assert times == sorted(times)


def test_the_encoder_reports_detents_in_both_directions(
    rig: tuple[SimulatedPanel, list[Event]],
) -> None:
    sim, events = rig
    sim.rotate(+2, pause=0)
    sim.rotate(-1, pause=0)
    assert [e.steps for e in events if isinstance(e, Rotated)] == [1, 1, -1]


def test_an_unknown_button_is_refused_by_name(rig: tuple[SimulatedPanel, list[Event]]) -> None:
    sim, _ = rig
    with pytest.raises(UnknownButton, match="no button named 'stop' \\(buttons: play, next\\)"):
        sim.tap("stop")


def test_debounce_time_reaches_the_pin_driver() -> None:
    """Debouncing is the pin driver's job (lgpio does it in the kernel on a Pi)."""
    factory = MockFactory()
    panel = GpioPanel((ButtonConfig("play", 17, bounce_ms=35),), None, factory)
    panel.start(lambda e: None)
    assert factory.pin(17).bounce == pytest.approx(0.035)
    panel.close()


def test_a_busy_pin_is_reported_then_retried_until_it_is_free() -> None:
    factory = MockFactory()
    first = GpioPanel((ButtonConfig("a", 17),), None, factory)
    first.start(lambda e: None)
    events: list[Event] = []
    second = GpioPanel((ButtonConfig("b", 17, bounce_ms=0),), None, factory)
    second.start(events.append, retry_base_s=0.05, retry_cap_s=0.1)
    assert second.problem is not None and "buttons unavailable" in second.problem
    first.close()  # the pin frees up, as a GPIO chip would appear
    deadline = time.monotonic() + 5
    while second.problem is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert second.problem is None
    factory.pin(17).drive_low()
    assert events and isinstance(events[0], ButtonDown) and events[0].button == "b"
    second.close()


def test_button_up_is_reported_for_every_down(rig: tuple[SimulatedPanel, list[Event]]) -> None:
    sim, events = rig
    sim.tap("play", seconds=0.01)
    assert [type(e) for e in events] == [ButtonDown, ButtonUp]
