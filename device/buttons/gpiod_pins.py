"""A gpiozero pin factory over the kernel's GPIO character device (libgpiod v2, `gpiod`).

Why: Debian's kernel has no /dev/gpiomem, so gpiozero's own factories (lgpio is not installable
from PyPI, RPi.GPIO and native need /dev/gpiomem, pigpio needs root) cannot work for the
unprivileged kiosk user. /dev/gpiochipN is what every current kernel offers (Debian's and
Raspberry Pi OS's), and the image gives it to the `gpio` group. The PyPI `gpiod` wheels bundle
libgpiod, so nothing is compiled.

Pins keep BCM numbering: on the Pi's own GPIO chip (`pinctrl-bcm2835` on a Pi 3 and Zero 2 W,
`pinctrl-bcm2711` on a Pi 4 and 400) line N is GPION. Debouncing is the kernel's (gpiolib does
it in software where the chip cannot), and edge times are its CLOCK_MONOTONIC stamps, the clock
of time.monotonic(). One thread per factory waits on every watched line's file descriptor.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import selectors
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import gpiod
from gpiod.line import Bias, Direction, Edge, Value
from gpiozero.exc import (
    BadPinFactory,
    PinFixedPull,
    PinInvalidBounce,
    PinInvalidEdges,
    PinInvalidFunction,
    PinInvalidPin,
    PinInvalidPull,
    PinSetInput,
    PinSPIUnsupported,
    PinUnknownPi,
)
from gpiozero.pins.local import get_pi_revision
from gpiozero.pins.pi import PiBoardInfo, PiFactory, PiPin

from device.platform.priority import make_realtime

log = logging.getLogger(__name__)

CONSUMER = "jukebox"
# The Raspberry Pi's own GPIO controller, by the label its kernel driver gives the chip.
PI_CHIP_LABELS = ("pinctrl-bcm2835", "pinctrl-bcm2711", "pinctrl-rp1")
# Without a Pi revision (Debian's device trees may lack it; QEMU has none) pin names still
# follow the 40-pin header, which is the same on every supported board: a Pi 3 B's layout.
HEADER_40_PIN_REVISION = 0xA02082
PULLS = {"up": Bias.PULL_UP, "down": Bias.PULL_DOWN, "floating": Bias.DISABLED}
EDGES = {"both": Edge.BOTH, "rising": Edge.RISING, "falling": Edge.FALLING, "none": Edge.NONE}
_said: set[str] = set()  # what was logged already: the panel retries, the log stays short


def _once(level: int, message: str) -> None:
    if message not in _said:
        _said.add(message)
        log.log(level, "%s", message)


class GpioChipError(BadPinFactory):  # type: ignore[misc]
    """No usable GPIO chip: missing, not a GPIO device, or not ours to open; says which."""


def find_chip(setting: str = "auto", dev: Path = Path("/dev")) -> Path:
    """The chip to use: `setting` as a path, or with "auto" the Pi's GPIO controller.

    "auto" takes the chip labelled as the Pi's controller, else the first chip (and says so).
    """
    if setting != "auto":
        path = Path(setting)
        if not path.exists():
            raise GpioChipError(f"{path}: not found (the GPIO chip set in [gpio] chip)")
        if not gpiod.is_gpiochip_device(str(path)):
            raise GpioChipError(f"{path}: not a GPIO character device")
        return path
    chips = sorted(
        (p for p in dev.glob("gpiochip*") if re.fullmatch(r"gpiochip\d+", p.name)),
        key=lambda p: int(p.name.removeprefix("gpiochip")),
    )
    chips = [p for p in chips if gpiod.is_gpiochip_device(str(p))]
    if not chips:
        raise GpioChipError(
            f"no GPIO chip: no {dev}/gpiochip* on this machine (no GPIO controller, "
            "or its driver is not loaded)"
        )
    labels = {path: _open_chip(path, _info_label) for path in chips}
    for path, label in labels.items():
        if label in PI_CHIP_LABELS:
            return path
    first = chips[0]
    found = ", ".join(f"{p} ({labels[p]})" for p in chips)
    _once(logging.WARNING, f"no Raspberry Pi GPIO chip among {found}; using {first}")
    return first


def _info_label(chip: gpiod.Chip) -> str:
    return str(chip.get_info().label)


def _open_chip(path: Path, use: Any) -> Any:
    """Open `path` just to look at it; a refusal names the group the kiosk user needs."""
    try:
        with gpiod.Chip(str(path)) as chip:
            return use(chip)
    except PermissionError:
        raise GpioChipError(_permission(path)) from None
    except OSError as exc:
        raise GpioChipError(f"{path}: cannot be opened ({exc.strerror or exc})") from None


def _permission(path: Path) -> str:
    return (
        f"{path}: permission denied; the kiosk's user needs the 'gpio' group, which the "
        "image's udev rule (60-jukebox-hardware.rules) gives the GPIO chips"
    )


class GpiodFactory(PiFactory):  # type: ignore[misc]
    """gpiozero pins on one GPIO chip, BCM number = line offset. Inputs and outputs, no PWM."""

    def __init__(self, chip: str = "auto", *, dev: Path = Path("/dev")) -> None:
        super().__init__()
        self.pin_class = GpiodPin
        self.path = find_chip(chip, dev)
        try:
            self.chip = gpiod.Chip(str(self.path))
        except PermissionError:
            raise GpioChipError(_permission(self.path)) from None
        except OSError as exc:
            raise GpioChipError(f"{self.path}: cannot be opened ({exc.strerror})") from None
        info = self.chip.get_info()
        self.label: str = info.label
        self.num_lines: int = info.num_lines
        self.watcher = _EdgeWatcher(f"gpio-edges {self.path.name}")
        _once(logging.INFO, f"GPIO: {self.describe()}, {self.num_lines} lines, through gpiod")

    def close(self) -> None:
        for pin in list(self.pins.values()):  # a pin leaves self.pins as it closes
            pin.close()
        self.pins.clear()
        self.watcher.close()
        self.chip.close()

    def ticks(self) -> float:
        return time.monotonic()

    def ticks_diff(self, later: float, earlier: float) -> float:
        return later - earlier

    def _get_revision(self) -> int:
        try:
            return int(get_pi_revision())
        except (PinUnknownPi, OSError, ValueError):
            return HEADER_40_PIN_REVISION

    def _get_board_info(self) -> Any:
        if self._info is None:  # type: ignore[has-type]
            revision = self._get_revision()
            info = PiBoardInfo.from_revision(revision)
            if revision == HEADER_40_PIN_REVISION:
                info = info._replace(revision="unknown", model="40-pin header")
            self._info = info
        return self._info

    def _get_spi_class(self, shared: bool, hardware: bool) -> Any:
        raise PinSPIUnsupported("SPI is not offered by the gpiod pin factory")

    def describe(self) -> str:
        return f"{self.path} ({self.label})"


class GpiodPin(PiPin):  # type: ignore[misc]
    """One line of the factory's chip, requested for as long as the pin is open."""

    factory: GpiodFactory

    def __init__(self, factory: GpiodFactory, info: Any) -> None:
        super().__init__(factory, info)
        self._lock = threading.RLock()
        self._function = "input"
        self._pull = info.pull or "floating"
        self._bounce: float | None = None
        self._edges = "both"
        self._output = False
        self._watching = False
        if self._number >= factory.num_lines:
            raise PinInvalidPin(
                f"{info.name}: {factory.describe()} has {factory.num_lines} lines "
                f"(0 to {factory.num_lines - 1}), so no line {self._number}"
            )
        try:
            self._request: gpiod.LineRequest | None = factory.chip.request_lines(
                {self._number: self._settings()}, consumer=CONSUMER
            )
        except OSError as exc:
            raise self._refusal(exc) from None

    def _refusal(self, exc: OSError) -> PinInvalidPin:
        where = f"{self.info.name} (line {self._number} of {self.factory.describe()})"
        if exc.errno == errno.EBUSY:
            consumer = self.factory.chip.get_line_info(self._number).consumer or "the kernel"
            return PinInvalidPin(f"{where} is in use by {consumer!r}")
        return PinInvalidPin(f"{where} cannot be requested: {exc.strerror or exc}")

    def _settings(self) -> gpiod.LineSettings:
        if self._function == "output":
            return gpiod.LineSettings(
                direction=Direction.OUTPUT,
                output_value=Value.ACTIVE if self._output else Value.INACTIVE,
            )
        return gpiod.LineSettings(
            direction=Direction.INPUT,
            bias=PULLS[self._pull],
            edge_detection=EDGES[self._edges] if self._watching else Edge.NONE,
            debounce_period=timedelta(seconds=self._bounce or 0),
        )

    def _apply(self) -> None:
        with self._lock:
            if self._request is None:
                raise PinInvalidPin(f"{self.info.name} is closed")
            try:
                self._request.reconfigure_lines({self._number: self._settings()})
            except OSError as exc:
                raise self._refusal(exc) from None

    def close(self) -> None:
        with self._lock:
            if self._request is None:
                return
            self.factory.watcher.forget(self._request.fd)
            self._request.release()
            self._request = None
            self._watching = False
            # The factory keeps pins by name; a closed one is made anew when asked for again.
            if self.factory.pins.get(self.info) is self:
                del self.factory.pins[self.info]

    # ---------------------------------------------------------------- gpiozero's Pin API

    def _get_function(self) -> str:
        return self._function

    def _set_function(self, value: str) -> None:
        if value not in ("input", "output"):
            raise PinInvalidFunction(f'invalid function "{value}" for pin {self!r}')
        self._function = value
        self._apply()

    def output_with_state(self, state: Any) -> None:
        """Output at `state` from the start, without a glitch to low first."""
        self._output = bool(state)
        self._set_function("output")

    def _get_state(self) -> int:
        with self._lock:
            if self._request is None:
                raise PinInvalidPin(f"{self.info.name} is closed")
            return 1 if self._request.get_value(self._number) == Value.ACTIVE else 0

    def _set_state(self, value: Any) -> None:
        if self._function != "output":
            raise PinSetInput(f"cannot set state of pin {self!r}")
        self._output = bool(value)
        with self._lock:
            if self._request is None:
                raise PinInvalidPin(f"{self.info.name} is closed")
            self._request.set_value(self._number, Value.ACTIVE if value else Value.INACTIVE)

    def _get_pull(self) -> str:
        return self._pull

    def _set_pull(self, value: str) -> None:
        if self._function != "input":
            raise PinFixedPull(f"cannot set pull on non-input pin {self!r}")
        if value not in PULLS:
            raise PinInvalidPull(f'invalid pull "{value}" for pin {self!r}')
        if self.info.pull not in (value, ""):
            raise PinFixedPull(f"{self!r} has a physical pull-{self.info.pull} resistor")
        self._pull = value
        self._apply()

    def _get_bounce(self) -> float | None:
        return self._bounce

    def _set_bounce(self, value: float | None) -> None:
        if value is not None and value < 0:
            raise PinInvalidBounce("bounce must be 0 or greater")
        self._bounce = value or None
        self._apply()

    def _get_edges(self) -> str:
        return self._edges

    def _set_edges(self, value: str) -> None:
        if value not in EDGES:
            raise PinInvalidEdges(f'invalid edge specification "{value}" for pin {self!r}')
        self._edges = value
        self._apply()

    def _enable_event_detect(self) -> None:
        with self._lock:
            self._watching = True
            self._apply()
            assert self._request is not None
            self.factory.watcher.watch(self._request.fd, self._read_edges)

    def _disable_event_detect(self) -> None:
        with self._lock:
            if self._request is not None:
                self.factory.watcher.forget(self._request.fd)
            self._watching = False
            if self._request is not None:
                self._apply()

    def _read_edges(self) -> None:
        """On the watcher's thread: the kernel's edges, in order, with its monotonic stamps."""
        with self._lock:
            if self._request is None or not self._watching:
                return
            events = self._request.read_edge_events()
        for event in events:
            level = 1 if event.event_type == event.Type.RISING_EDGE else 0
            self._call_when_changed(event.timestamp_ns / 1e9, level)


class _EdgeWatcher:
    """One thread waiting on the watched lines' file descriptors (and a pipe to wake it)."""

    def __init__(self, name: str) -> None:
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)  # a full pipe already wakes the thread
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._lock = threading.Lock()
        self._closed = False
        self._name = name
        self._thread: threading.Thread | None = None

    def watch(self, fd: int, on_ready: Any) -> None:
        with self._lock:
            self._selector.register(fd, selectors.EVENT_READ, on_ready)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
        self._wake()

    def forget(self, fd: int) -> None:
        with self._lock:
            if fd in self._selector.get_map():
                self._selector.unregister(fd)
        self._wake()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            thread = self._thread
        self._wake()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2)
        self._selector.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    def _run(self) -> None:
        # The first step of a press's path: handed the CPU as soon as an edge wakes it.
        make_realtime([threading.get_native_id()], f"thread {self._name}", inherited=False)
        while True:
            ready = self._selector.select()
            with self._lock:
                if self._closed:
                    return
                watched = self._selector.get_map()
                callbacks = [key.data for key, _ in ready if key.fd in watched and key.data]
            if any(key.fd == self._wake_r for key, _ in ready):
                os.read(self._wake_r, 4096)
            for callback in callbacks:
                try:
                    callback()
                except Exception:  # a failing handler must not stop every other button
                    log.exception("GPIO edge handler failed")
