"""The Display port over a luma device (OLED, emulator or dummy), plus the factory that picks one.

The device is handed in (luma's own dependency injection), so tests pass `luma.core.device.dummy`
and the kiosk passes an ssd1306/sh1106 or an emulator. One worker thread owns the device: the
core's `show()` only records the latest screen and returns, because an I2C frame takes tens of
milliseconds and a loose cable must never stall or crash the kiosk.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from device.display.model import AttractScreen, Screen

if TYPE_CHECKING:  # Pillow and the drawing load with the first panel or picture (no screen: never)
    from PIL import Image

    from device.config import DisplayConfig

log = logging.getLogger(__name__)

# A loose cable fails every frame: say so once a minute, not eight times a second.
ERROR_LOG_EVERY_S = 60.0
DEFAULT_GIF = Path("jukebox-screen.gif")
DEFAULT_PNG_DIR = Path("jukebox-screen")

Renderer = Callable[[Screen, tuple[int, int], float], "Image.Image"]


class LumaDisplay:
    """Draws screens on a luma device from a worker thread; implements `device.ports.Display`.

    `fps` is how often a moving screen (a scrolling title) is redrawn; a static one is drawn
    once, and a paged one when its page turns (`render.next_change_s`), so an idle kiosk costs
    no CPU. `steady=True` pushes a frame at every tick even when nothing changed, so that a
    recorded GIF plays back in real time. Frames that did not change are not sent to the panel.

    >>> from luma.core.device import dummy
    >>> from device.display.model import BootScreen
    >>> display = LumaDisplay(dummy(width=128, height=64, mode="1"))
    >>> display.show(BootScreen(version="1.0"))  # returns at once
    >>> display.close()
    """

    def __init__(
        self,
        device: Any,
        *,
        contrast: int = 255,
        dim_contrast: int = 32,
        fps: float = 8.0,
        steady: bool = False,
        renderer: Renderer | None = None,
    ) -> None:
        from device.display.render import SIZE, animation_key, next_change_s, render

        self._animation_key = animation_key
        self._next_change_s = next_change_s
        self._device = device
        self._contrast = _clamp_contrast(contrast)
        self._dim_contrast = _clamp_contrast(dim_contrast)
        self._tick_s = 1.0 / fps if fps > 0 else 0.125
        self._steady = steady
        self._render = renderer or render
        width, height = getattr(device, "size", SIZE)
        self._size = (int(width), int(height))
        self._mode: str = getattr(device, "mode", "1")

        self._cond = threading.Condition()
        self._screen: Screen | None = None
        self._shown_at = 0.0
        self._awake = True
        self._dirty = False
        self._closing = False
        self._last_image: Image.Image | None = None
        self._problem: str | None = None

        self._errors = 0
        self._last_error_log = -ERROR_LOG_EVERY_S
        self._worker = threading.Thread(target=self._run, name="display", daemon=True)
        self._worker.start()

    # ------------------------------------------------------------------ the Display port

    def show(self, screen: Screen) -> None:
        """Ask for `screen`; returns at once.

        The animation clock restarts only when `render.animation_key` changes: an equal screen,
        or a now-playing screen whose progress moved, keeps its title scrolling.
        """
        with self._cond:
            if self._closing:
                return
            key = self._animation_key
            if self._screen is None or key(screen) != key(self._screen):
                self._shown_at = time.monotonic()
            self._screen = screen
            self._awake = True
            self._dirty = True
            self._cond.notify()

    def sleep(self) -> None:
        """Switch the panel off (burn-in protection); the next `show` or `wake` switches it on."""
        with self._cond:
            self._awake = False
            self._dirty = True
            self._cond.notify()

    def wake(self) -> None:
        with self._cond:
            self._awake = True
            self._dirty = True
            self._cond.notify()

    def close(self) -> None:
        """Stop drawing, then let luma release the device (and emulators write their files)."""
        with self._cond:
            if self._closing:
                return
            self._closing = True
            self._cond.notify()
        self._worker.join(timeout=5.0)
        if self._worker.is_alive():
            log.error("display worker did not stop within 5 s; closing the device anyway")
        self._release()

    # ------------------------------------------------------------------ for tests, control socket

    @property
    def last_image(self) -> Image.Image | None:
        """A copy of the last frame drawn (whether or not the panel accepted it)."""
        with self._cond:
            return self._last_image.copy() if self._last_image is not None else None

    @property
    def problem(self) -> str | None:
        """Why the panel is not being updated right now, for the technician screen; else None."""
        with self._cond:
            return self._problem

    # ------------------------------------------------------------------ worker

    def _run(self) -> None:
        sent: bytes | None = None  # the frame the panel holds
        contrast: int | None = None  # the contrast the panel has
        panel_on = True
        next_tick = time.monotonic()  # frame cadence, so animations move at an even pace
        wake_at = next_tick if self._steady else None  # draw again unasked then; None: never
        while True:
            with self._cond:
                while not self._closing:
                    # steady: frames only on ticks, so a recording keeps real time
                    if self._dirty and not self._steady:
                        break
                    if wake_at is None:
                        self._cond.wait()
                        continue
                    remaining = wake_at - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
                if self._closing:
                    return
                self._dirty = False
                screen, shown_at, awake = self._screen, self._shown_at, self._awake

            now = time.monotonic()
            on_time = now - next_tick < self._tick_s
            next_tick = next_tick + self._tick_s if on_time else now + self._tick_s
            wake_at = next_tick if self._steady else None
            try:
                if awake != panel_on:
                    self._device.show() if awake else self._device.hide()
                    panel_on = awake
                    contrast = None  # emulators reset their contrast on show()
                if screen is None or not (panel_on or self._steady):
                    self._recovered()
                    continue
                elapsed = max(0.0, now - shown_at)
                image = self._frame(screen, elapsed)
                change = self._next_change_s(screen, self._size, elapsed)
                if change is not None and not self._steady:
                    wake_at = max(next_tick, shown_at + change)
                frame = image.tobytes()
                if self._steady or frame != sent:
                    sent = None  # unknown until display() returns
                    self._device.display(image)
                    sent = frame
                # after the picture: emulators redraw their last frame at the new contrast
                wanted = self._dim_contrast if _is_dim(screen) else self._contrast
                if panel_on and wanted != contrast:
                    self._device.contrast(wanted)
                    contrast = wanted
                self._recovered()
            except Exception as exc:  # a driver error must never kill the worker
                wake_at = next_tick  # retry on the next frame
                self._failed(exc)
            except SystemExit:  # luma.emulator's window was closed by the user
                log.warning("display emulator window closed; no more frames")
                return

    def _frame(self, screen: Screen, elapsed_s: float) -> Image.Image:
        image = self._render(screen, self._size, elapsed_s)
        if image.mode != self._mode:
            image = image.convert(self._mode)
        with self._cond:
            self._last_image = image
        return image

    def _failed(self, exc: Exception) -> None:
        self._errors += 1
        with self._cond:
            self._problem = f"display not responding: {exc}"
        now = time.monotonic()
        if now - self._last_error_log >= ERROR_LOG_EVERY_S:
            self._last_error_log = now
            log.error(
                "display update failed (%d failure(s) so far, retrying every frame): %r",
                self._errors,
                exc,
            )

    def _recovered(self) -> None:
        if self._errors:
            log.warning("display works again after %d failed update(s)", self._errors)
            self._errors = 0
            self._last_error_log = -ERROR_LOG_EVERY_S
            with self._cond:
                self._problem = None

    def _release(self) -> None:
        device = self._device
        write = getattr(device, "write_animation", None)
        try:
            if callable(write):  # luma.emulator's gifanim only writes its file at exit
                write()
                atexit.unregister(write)
            device.cleanup()
        except Exception as exc:
            log.error("closing the display failed: %r", exc)


def _is_dim(screen: Screen) -> bool:
    return isinstance(screen, AttractScreen) and screen.dim


def _clamp_contrast(level: int) -> int:
    return min(255, max(0, int(level)))


class NullDisplay:
    """No panel: remembers the last screen (for the control socket) and why there is no panel."""

    def __init__(self, problem: str | None = None, size: tuple[int, int] | None = None) -> None:
        self.problem = problem
        self._size = size
        self._lock = threading.Lock()
        self._screen: Screen | None = None

    def show(self, screen: Screen) -> None:
        with self._lock:
            self._screen = screen

    def sleep(self) -> None:
        pass

    def wake(self) -> None:
        pass

    def close(self) -> None:
        pass

    @property
    def last_screen(self) -> Screen | None:
        with self._lock:
            return self._screen

    @property
    def last_image(self) -> Image.Image | None:
        """What a panel would show, drawn on demand."""
        screen = self.last_screen
        if screen is None:
            return None
        from device.display.render import SIZE, render

        return render(screen, self._size or SIZE)


def open_display(cfg: DisplayConfig) -> LumaDisplay | NullDisplay:
    """Build the display the configuration describes; missing hardware gives a NullDisplay.

    Never raises for absent or silent hardware: the kiosk still plays music without a screen,
    and `problem` tells the technician screen what is missing.
    """
    if cfg.driver == "none":
        return NullDisplay()
    if cfg.driver == "emulated":
        return _open_emulator(cfg)
    where = _hardware_location(cfg)
    try:
        device = _open_oled(cfg)
    except Exception as exc:
        problem = f"no {cfg.driver} display on {where}: {exc}"
        log.error("%s; running without a screen", problem)
        return NullDisplay(problem=problem)
    log.info("%s display on %s", cfg.driver, where)
    return LumaDisplay(device, contrast=cfg.contrast, dim_contrast=cfg.dim_contrast)


def _hardware_location(cfg: DisplayConfig) -> str:
    if cfg.interface == "spi":
        return (
            f"SPI /dev/spidev{cfg.spi_port}.{cfg.spi_device} "
            f"(DC GPIO{cfg.gpio_dc}, RST GPIO{cfg.gpio_reset})"
        )
    return f"I2C bus /dev/i2c-{cfg.i2c_port} address 0x{cfg.i2c_address:02X}"


def _open_oled(cfg: DisplayConfig) -> Any:
    from luma.core.interface.serial import i2c, spi
    from luma.oled.device import sh1106, ssd1306

    if cfg.interface == "spi":
        serial = spi(
            port=cfg.spi_port, device=cfg.spi_device, gpio_DC=cfg.gpio_dc, gpio_RST=cfg.gpio_reset
        )
    else:
        serial = i2c(port=cfg.i2c_port, address=cfg.i2c_address)
    driver = sh1106 if cfg.driver == "sh1106" else ssd1306
    return driver(serial, rotate=cfg.rotation)


def _open_emulator(cfg: DisplayConfig) -> LumaDisplay | NullDisplay:
    from device.display.render import SIZE

    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    fps = cfg.emulator_fps if cfg.emulator_fps > 0 else 8.0
    common: dict[str, Any] = {
        "width": SIZE[0],
        "height": SIZE[1],
        "rotate": cfg.rotation,
        "mode": "1",
    }
    kind = cfg.emulator
    if kind == "window" and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        log.warning("no DISPLAY or WAYLAND_DISPLAY for an emulator window; recording a GIF instead")
        kind = "gif"
    try:
        from luma.emulator import device as emulator

        if kind == "window":
            # steady: pygame only handles window events when drawing, so keep drawing
            device = emulator.pygame(transform="identity", scale=3, frame_rate=fps, **common)
            return LumaDisplay(
                device, contrast=cfg.contrast, dim_contrast=cfg.dim_contrast, fps=fps, steady=True
            )
        if kind == "png":
            folder = cfg.emulator_output or DEFAULT_PNG_DIR
            folder.mkdir(parents=True, exist_ok=True)
            template = str(folder / "frame_{0:06}.png")
            device = emulator.capture(
                transform="identity", scale=2, file_template=template, **common
            )
            log.info("emulated display: one PNG per frame in %s", folder)
            return LumaDisplay(
                device, contrast=cfg.contrast, dim_contrast=cfg.dim_contrast, fps=fps
            )
        path = cfg.emulator_output or DEFAULT_GIF
        path.parent.mkdir(parents=True, exist_ok=True)
        device = emulator.gifanim(
            transform="identity", scale=2, filename=str(path), duration=1.0 / fps, **common
        )
        log.info("emulated display: recording %s (written on close)", path)
        return LumaDisplay(
            device, contrast=cfg.contrast, dim_contrast=cfg.dim_contrast, fps=fps, steady=True
        )
    except Exception as exc:
        problem = f"display emulator ({kind}) unavailable: {exc}"
        log.error("%s; running without a screen", problem)
        return NullDisplay(problem=problem)
