"""Which gpiozero pin factory drives the buttons, chosen explicitly rather than by gpiozero.

Left to itself gpiozero tries lgpio, RPi.GPIO, pigpio and its native factory in turn, and
warns (PinFactoryFallback) for each one that fails: on Debian's kernel every one of them
does. The kiosk instead names one: `[gpio] pin_factory` in its configuration, "auto" meaning
the environment's GPIOZERO_PIN_FACTORY when set, else "gpiod" (the GPIO character device,
device/buttons/gpiod_pins.py). Opening it is retried by the panel, so every failure here is
an exception saying what is missing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

from device.config import GPIOZERO_PIN_FACTORIES, GpioConfig

ENV = "GPIOZERO_PIN_FACTORY"


def factory_name(setting: str, environ: Mapping[str, str] = os.environ) -> str:
    """The factory "auto" stands for: GPIOZERO_PIN_FACTORY when set, else gpiod."""
    if setting != "auto":
        return setting
    return environ.get(ENV, "").strip().lower() or "gpiod"


def open_pin_factory(config: GpioConfig, environ: Mapping[str, str] = os.environ) -> Any:
    """The configured pin factory, opened (raises gpiozero's BadPinFactory saying why not)."""
    from gpiozero.exc import BadPinFactory

    name = factory_name(config.pin_factory, environ)
    origin = f"{ENV}={name}" if config.pin_factory == "auto" else f"[gpio] pin_factory {name!r}"
    if name == "gpiod":
        try:
            from device.buttons.gpiod_pins import GpiodFactory
        except ImportError as exc:
            raise BadPinFactory(f"{origin}: the gpiod package is not installed ({exc})") from None
        return GpiodFactory(config.chip)
    if name not in GPIOZERO_PIN_FACTORIES:
        known = ", ".join(("gpiod", *GPIOZERO_PIN_FACTORIES))
        raise BadPinFactory(f"{origin}: unknown pin factory, expected one of {known}")
    for entry in entry_points(group="gpiozero_pin_factories"):
        if entry.name == name:
            try:
                return entry.load()()
            except ImportError as exc:
                raise BadPinFactory(f"{origin}: its library is not installed ({exc})") from None
    raise BadPinFactory(f"{origin}: this gpiozero has no such pin factory")
