"""Choosing and opening the buttons' pin factory, and what the panel does when it cannot.

What can be checked without a GPIO chip runs here against gpiozero, gpiod and the file system
themselves. The gpiod factory on a real kernel's chip is checked in QEMU by
`image-build/boot-test --gpio-check` (image-build/gpio_check.py), and on the chips this
machine has, if any, by the last test.
"""

from __future__ import annotations

import threading
import time
import warnings
from pathlib import Path
from typing import Any

import gpiod
import pytest
from gpiozero.exc import BadPinFactory
from gpiozero.pins.mock import MockFactory

from contract.toml_reader import ConfigError
from device.buttons.gpio_panel import GpioPanel
from device.buttons.gpiod_pins import GpioChipError, GpiodFactory, find_chip
from device.buttons.pin_factory import factory_name, open_pin_factory
from device.config import ButtonConfig, GpioConfig, parse_config
from device.events import ButtonDown, Event
from device.sim.panel import SimulatedPanel

BUTTONS = (ButtonConfig("play", 17, bounce_ms=0),)


def test_auto_means_the_environments_choice_else_gpiod() -> None:
    assert factory_name("auto", {}) == "gpiod"
    assert factory_name("auto", {"GPIOZERO_PIN_FACTORY": " LGPIO "}) == "lgpio"
    assert factory_name("mock", {"GPIOZERO_PIN_FACTORY": "lgpio"}) == "mock"


def test_a_gpiozero_factory_is_opened_by_its_own_name() -> None:
    factory = open_pin_factory(GpioConfig(pin_factory="mock"), {})
    assert isinstance(factory, MockFactory)
    factory.close()
    from_env = open_pin_factory(GpioConfig(), {"GPIOZERO_PIN_FACTORY": "mock"})
    assert isinstance(from_env, MockFactory)
    from_env.close()


def test_an_unknown_factory_in_the_environment_is_named_with_the_choices() -> None:
    with pytest.raises(BadPinFactory, match=r"GPIOZERO_PIN_FACTORY=bogus: unknown pin factory, "
                       r"expected one of gpiod, lgpio, rpigpio, pigpio, native, mock"):  # fmt: skip
        open_pin_factory(GpioConfig(), {"GPIOZERO_PIN_FACTORY": "bogus"})


def test_a_factory_whose_library_is_missing_says_so() -> None:
    try:
        import pigpio  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("pigpio is installed here")
    with pytest.raises(BadPinFactory, match=r"\[gpio\] pin_factory 'pigpio': its library is "
                       r"not installed \(No module named 'pigpio'\)"):  # fmt: skip
        open_pin_factory(GpioConfig(pin_factory="pigpio"), {})


def test_no_gpio_chip_is_named_with_the_folder_looked_in(tmp_path: Path) -> None:
    (tmp_path / "gpiochip0").write_text("a plain file, not a character device")
    with pytest.raises(GpioChipError, match=f"no GPIO chip: no {tmp_path}/gpiochip\\* on this"):
        GpiodFactory("auto", dev=tmp_path)


def test_a_configured_chip_that_is_missing_or_no_chip_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "gpiochip4"
    with pytest.raises(GpioChipError, match=f"{missing}: not found"):
        find_chip(str(missing))
    plain = tmp_path / "gpiochip0"
    plain.write_text("")
    with pytest.raises(GpioChipError, match=f"{plain}: not a GPIO character device"):
        find_chip(str(plain))


def test_the_gpio_section_is_checked_key_by_key() -> None:
    assert parse_config({}, "k.toml").gpio == GpioConfig("auto", "auto")
    config = parse_config({"gpio": {"pin_factory": "gpiod", "chip": "/dev/gpiochip4"}}, "k.toml")
    assert config.gpio == GpioConfig("gpiod", "/dev/gpiochip4")
    with pytest.raises(ConfigError, match=r"k.toml: gpio.pin_factory: expected one of 'auto', "
                       r"'gpiod', 'lgpio'.*got 'gpiodd'"):  # fmt: skip
        parse_config({"gpio": {"pin_factory": "gpiodd"}}, "k.toml")
    with pytest.raises(ConfigError, match=r"gpio.chip: expected 'auto' or a GPIO chip's path"):
        parse_config({"gpio": {"chip": "gpiochip0"}}, "k.toml")
    with pytest.raises(ConfigError, match=r"gpio.pins: unknown key"):
        parse_config({"gpio": {"pins": 3}}, "k.toml")


def test_without_a_chip_the_panel_says_which_and_gpiozero_warns_of_nothing(
    tmp_path: Path,
) -> None:
    """The daemon's path on a board without GPIO: a problem for the technician, no crash,
    and none of gpiozero's PinFactoryFallback warnings (the factory is chosen, not guessed)."""
    panel = GpioPanel(BUTTONS, None, open_pin_factory=lambda: GpiodFactory(dev=tmp_path))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        panel.start(lambda e: None, retry_base_s=3600)
    panel.close()
    assert panel.problem == (
        f"buttons unavailable: no GPIO chip: no {tmp_path}/gpiochip* on this machine "
        "(no GPIO controller, or its driver is not loaded)"
    )
    assert [str(w.message) for w in caught] == []


def test_a_kiosk_without_buttons_opens_no_gpio_chip() -> None:
    opened: list[str] = []

    def open_factory() -> Any:
        opened.append("open")
        raise GpioChipError("no GPIO chip: no /dev/gpiochip* on this machine")

    panel = GpioPanel((), None, open_pin_factory=open_factory)
    panel.start(lambda e: None, retry_base_s=3600)
    panel.close()
    assert panel.problem is None and opened == []


def test_a_chip_that_appears_later_is_opened_by_the_retry() -> None:
    attempts: list[str] = []
    chip_appeared = threading.Event()

    def open_factory() -> Any:
        attempts.append("open")
        if not chip_appeared.is_set():
            raise GpioChipError("no GPIO chip: no /dev/gpiochip* on this machine")
        return MockFactory()

    events: list[Event] = []
    panel = GpioPanel(BUTTONS, None, open_pin_factory=open_factory)
    panel.start(events.append, retry_base_s=0.01, retry_cap_s=0.02)
    assert panel.problem is not None and "no GPIO chip" in panel.problem
    chip_appeared.set()
    deadline = time.monotonic() + 30
    while panel.problem is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert panel.problem is None and len(attempts) >= 2
    factory = panel.pin_factory
    assert isinstance(factory, MockFactory)
    SimulatedPanel(factory, BUTTONS, None).press("play")
    assert [type(e) for e in events] == [ButtonDown]
    panel.close()
    assert panel.pin_factory is None  # the factory it opened is closed with it
    assert factory.pins == {}


def _chips() -> list[Path]:
    return [p for p in sorted(Path("/dev").glob("gpiochip*")) if gpiod.is_gpiochip_device(str(p))]


@pytest.mark.skipif(not _chips(), reason="no /dev/gpiochip* here (see image-build/gpio_check.py)")
def test_the_gpiod_factory_opens_this_machines_chip() -> None:
    factory = GpiodFactory()
    try:
        assert factory.num_lines > 0 and factory.path in _chips()
        assert factory.board_info.headers["J8"].pins[11].function == "GPIO17"
    finally:
        factory.close()
