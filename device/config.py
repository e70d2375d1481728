"""Kiosk configuration: one TOML file, validated entirely at start.

Every problem names the file, the key and what was expected, because the person reading it is
a technician in front of a kiosk, not the developer who wrote the schema. Layers (built-in
defaults < /etc/jukebox < the technician's boot-partition file < tenant settings) all go
through `load_config`, which takes them in order.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from contract.toml_reader import (
    ConfigError,
    Section,
    boolean,
    choice,
    file_path,
    int_in,
    seconds,
    tenant_url,
    text,
)
from contract.toml_reader import (
    table as subtable,
)
from device.domain import Action

DEFAULT_CONFIG_PATH = Path("/etc/jukebox/jukebox.toml")
BCM_PINS = range(0, 28)
# gpiozero's own pin factories, by their entry-point names; "gpiod" is the kiosk's
# (device/buttons/gpiod_pins.py) and "auto" means GPIOZERO_PIN_FACTORY, else gpiod.
GPIOZERO_PIN_FACTORIES = ("lgpio", "rpigpio", "pigpio", "native", "mock")

DisplayDriver = Literal["ssd1306", "sh1106", "emulated", "none"]
DisplayInterface = Literal["i2c", "spi"]
EmulatorKind = Literal["gif", "png", "window"]
ReplayGainMode = Literal["track", "album", "no"]
PlaylistEnd = Literal["loop", "stop"]


@dataclass(frozen=True)
class DeviceConfig:
    name: str = "jukebox"
    tenant: str = ""
    site: str = ""
    state_dir: Path = Path("/var/lib/jukebox")
    content_dir: Path | None = None  # default: <state_dir>/content

    @property
    def content_folder(self) -> Path:
        return self.content_dir or self.state_dir / "content"

    @property
    def cache_dir(self) -> Path:
        return self.state_dir / "cache"

    @property
    def journal_path(self) -> Path:
        return self.state_dir / "journal.sqlite3"


@dataclass(frozen=True)
class AudioConfig:
    default_volume: int = 40
    min_volume: int = 10
    max_volume: int = 80
    volume_step: int = 5
    backend: str = "auto"  # mpv's ao: "auto", "alsa", "pipewire", "pulse", "null" (silent)
    output: str = "auto"  # mpv's audio-device, e.g. "alsa/plughw:CARD=Headphones"
    replaygain: ReplayGainMode = "track"
    # Sound cards that take over from `output` when plugged in, best first, matched against
    # the card's ALSA id or name (case-insensitive substring), e.g. ("USB Audio",).
    preferred_outputs: tuple[str, ...] = ()


@dataclass(frozen=True)
class VisitorConfig:
    """Public-space rules: what happens when nobody touches the kiosk for a while."""

    idle_timeout_s: float = 300.0
    volume_display_s: float = 1.5


@dataclass(frozen=True)
class PlaybackConfig:
    autoplay: bool = False
    at_playlist_end: PlaylistEnd = "stop"
    progress_checkpoint_s: float = 1.0


@dataclass(frozen=True)
class DisplayConfig:
    driver: DisplayDriver = "ssd1306"
    interface: DisplayInterface = "i2c"
    i2c_port: int = 1
    i2c_address: int = 0x3C
    spi_port: int = 0
    spi_device: int = 0
    gpio_dc: int = 24
    gpio_reset: int = 25
    rotation: int = 0
    contrast: int = 255
    dim_contrast: int = 32
    dim_after_s: float = 60.0
    move_every_s: float = 30.0
    sleep_after_s: float = 900.0
    emulator: EmulatorKind = "gif"
    emulator_output: Path | None = None
    emulator_fps: float = 10.0


@dataclass(frozen=True)
class ButtonConfig:
    name: str
    pin: int
    press: Action | None = None
    hold: Action | None = None
    hold_time_s: float = 1.0
    pull_up: bool = True
    bounce_ms: int = 20


@dataclass(frozen=True)
class ComboConfig:
    """Buttons held together; their own press actions are then not fired."""

    buttons: tuple[str, ...]
    action: Action
    hold_time_s: float = 1.5


@dataclass(frozen=True)
class RotaryConfig:
    pin_a: int
    pin_b: int
    clockwise: Action = Action.VOLUME_UP
    counter_clockwise: Action = Action.VOLUME_DOWN


@dataclass(frozen=True)
class GpioConfig:
    """How the buttons reach the pins: the pin factory, and for gpiod the chip."""

    pin_factory: str = "auto"  # "auto", "gpiod" or one of GPIOZERO_PIN_FACTORIES
    chip: str = "auto"  # "auto" (the Pi's GPIO controller) or a path like /dev/gpiochip0


@dataclass(frozen=True)
class TenantConfig:
    """The kiosk's tenant; without it the kiosk plays its local content folder."""

    url: str
    verify_tls: bool = True
    ca_file: Path | None = None
    enrollment_token: str | None = None
    sync_interval_s: float = 300.0
    cache_quota_mb: int = 4096
    request_timeout_s: float = 15.0
    heartbeat_s: float = 60.0  # MQTT heartbeat interval


@dataclass(frozen=True)
class KioskConfig:
    source: str = "<defaults>"
    device: DeviceConfig = field(default_factory=DeviceConfig)
    audio: AudioConfig = field(default_factory=AudioConfig)
    visitor: VisitorConfig = field(default_factory=VisitorConfig)
    playback: PlaybackConfig = field(default_factory=PlaybackConfig)
    display: DisplayConfig = field(default_factory=DisplayConfig)
    buttons: tuple[ButtonConfig, ...] = ()
    combos: tuple[ComboConfig, ...] = ()
    rotary: RotaryConfig | None = None
    tenant: TenantConfig | None = None
    gpio: GpioConfig = field(default_factory=GpioConfig)


# --------------------------------------------------------------------------- reading


def _card_names(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError('expected a list of sound card names like ["USB Audio"]')
    return tuple(v.strip() for v in value)


def _action(value: Any) -> Action:
    try:
        return Action(value)
    except ValueError:
        names = ", ".join(f"'{a.value}'" for a in Action)
        raise ValueError(f"expected an action: {names}") from None


def _pin(value: Any) -> int:
    """BCM numbering, as a number (17) or a name ("GPIO17", "BCM17")."""
    if isinstance(value, str):
        upper = value.strip().upper()
        for prefix in ("GPIO", "BCM"):
            if upper.startswith(prefix) and upper[len(prefix) :].isdigit():
                value = int(upper[len(prefix) :])
                break
    if isinstance(value, bool) or not isinstance(value, int) or value not in BCM_PINS:
        raise ValueError("expected a BCM GPIO number from 0 to 27 or a name like 'GPIO17'")
    return value


def _device(source: str, table: Mapping[str, Any], base: Path) -> DeviceConfig:
    s = Section(source, "device", table, {"name", "tenant", "site", "state_dir", "content_dir"})
    d = DeviceConfig()
    state_dir = s.get("state_dir", d.state_dir, file_path)
    content_dir = s.get("content_dir", None, file_path)
    return DeviceConfig(
        name=s.get("name", d.name, text),
        tenant=s.get("tenant", d.tenant, text),
        site=s.get("site", d.site, text),
        state_dir=base / state_dir,
        content_dir=base / content_dir if content_dir else None,
    )


def _audio(source: str, table: Mapping[str, Any]) -> AudioConfig:
    keys = set(AudioConfig.__dataclass_fields__)
    s = Section(source, "audio", table, keys)
    d = AudioConfig()
    percent = int_in(0, 100)
    audio = AudioConfig(
        default_volume=s.get("default_volume", d.default_volume, percent),
        min_volume=s.get("min_volume", d.min_volume, percent),
        max_volume=s.get("max_volume", d.max_volume, percent),
        volume_step=s.get("volume_step", d.volume_step, int_in(1, 50)),
        backend=s.get("backend", d.backend, choice("auto", "alsa", "pipewire", "pulse", "null")),
        output=s.get("output", d.output, text),
        replaygain=s.get("replaygain", d.replaygain, choice("track", "album", "no")),
        preferred_outputs=s.get("preferred_outputs", d.preferred_outputs, _card_names),
    )
    if audio.min_volume > audio.max_volume:
        raise s.fail("min_volume", f"must not exceed max_volume ({audio.max_volume})")
    if not audio.min_volume <= audio.default_volume <= audio.max_volume:
        raise s.fail(
            "default_volume",
            f"expected a value between min_volume ({audio.min_volume}) and max_volume "
            f"({audio.max_volume}), got {audio.default_volume}",
        )
    return audio


def _visitor(source: str, table: Mapping[str, Any]) -> VisitorConfig:
    s = Section(source, "visitor", table, {"idle_timeout_s", "volume_display_s"})
    d = VisitorConfig()
    return VisitorConfig(
        idle_timeout_s=s.get("idle_timeout_s", d.idle_timeout_s, seconds(1, 86400)),
        volume_display_s=s.get("volume_display_s", d.volume_display_s, seconds(0.2, 30)),
    )


def _playback(source: str, table: Mapping[str, Any]) -> PlaybackConfig:
    s = Section(source, "playback", table, {"autoplay", "at_playlist_end", "progress_checkpoint_s"})
    d = PlaybackConfig()
    return PlaybackConfig(
        autoplay=s.get("autoplay", d.autoplay, boolean),
        at_playlist_end=s.get("at_playlist_end", d.at_playlist_end, choice("loop", "stop")),
        progress_checkpoint_s=s.get(
            "progress_checkpoint_s", d.progress_checkpoint_s, seconds(0.2, 60)
        ),
    )


def _display(source: str, table: Mapping[str, Any], base: Path) -> DisplayConfig:
    keys = set(DisplayConfig.__dataclass_fields__)
    s = Section(source, "display", table, keys)
    d = DisplayConfig()
    output = s.get("emulator_output", None, file_path)
    display = DisplayConfig(
        driver=s.get("driver", d.driver, choice("ssd1306", "sh1106", "emulated", "none")),
        interface=s.get("interface", d.interface, choice("i2c", "spi")),
        i2c_port=s.get("i2c_port", d.i2c_port, int_in(0, 20)),
        i2c_address=s.get("i2c_address", d.i2c_address, int_in(0x03, 0x77)),
        spi_port=s.get("spi_port", d.spi_port, int_in(0, 6)),
        spi_device=s.get("spi_device", d.spi_device, int_in(0, 3)),
        gpio_dc=s.get("gpio_dc", d.gpio_dc, _pin),
        gpio_reset=s.get("gpio_reset", d.gpio_reset, _pin),
        rotation=s.get("rotation", d.rotation, int_in(0, 3)),
        contrast=s.get("contrast", d.contrast, int_in(0, 255)),
        dim_contrast=s.get("dim_contrast", d.dim_contrast, int_in(0, 255)),
        dim_after_s=s.get("dim_after_s", d.dim_after_s, seconds(1, 86400)),
        move_every_s=s.get("move_every_s", d.move_every_s, seconds(1, 3600)),
        sleep_after_s=s.get("sleep_after_s", d.sleep_after_s, seconds(1, 604800)),
        emulator=s.get("emulator", d.emulator, choice("gif", "png", "window")),
        emulator_output=base / output if output else None,
        emulator_fps=s.get("emulator_fps", d.emulator_fps, seconds(1, 60)),
    )
    if display.driver == "emulated" and display.emulator != "window" and output is None:
        raise s.fail("emulator_output", f"required when the {display.emulator} emulator is used")
    return display


def _array(section: Section, name: str) -> list[Mapping[str, Any]]:
    value = section.table.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise section.fail(name, f"expected an array of tables [[{name}]]")
    return cast(list[Mapping[str, Any]], value)


def _buttons(source: str, root: Section) -> tuple[ButtonConfig, ...]:
    keys = {"name", "pin", "press", "hold", "hold_time_s", "pull_up", "bounce_ms"}
    buttons: list[ButtonConfig] = []
    for i, table in enumerate(_array(root, "buttons")):
        s = Section(source, f"buttons[{i}]", table, keys)
        name = s.require("name", text)
        button = ButtonConfig(
            name=name,
            pin=s.require("pin", _pin),
            press=s.get("press", None, _action),
            hold=s.get("hold", None, _action),
            hold_time_s=s.get("hold_time_s", 1.0, seconds(0.2, 30)),
            pull_up=s.get("pull_up", True, boolean),
            bounce_ms=s.get("bounce_ms", 20, int_in(0, 500)),
        )
        if not name or not name.replace("_", "").replace("-", "").isalnum():
            raise s.fail("name", f"expected letters, digits, '-' or '_', got {name!r}")
        if any(b.name == name for b in buttons):
            raise s.fail("name", f"'{name}' names two buttons")
        buttons.append(button)
    return tuple(buttons)


def _combos(
    source: str, root: Section, buttons: tuple[ButtonConfig, ...]
) -> tuple[ComboConfig, ...]:
    names = {b.name for b in buttons}
    combos: list[ComboConfig] = []
    for i, table in enumerate(_array(root, "combos")):
        s = Section(source, f"combos[{i}]", table, {"buttons", "action", "hold_time_s"})

        def members(value: Any) -> tuple[str, ...]:
            if not isinstance(value, list) or len(value) < 2:
                raise ValueError("expected a list of two or more button names")
            for member in value:
                if member not in names:
                    known = ", ".join(sorted(names)) or "none defined"
                    raise ValueError(f"'{member}' is not a button name (buttons: {known})")
            if len(set(value)) != len(value):
                raise ValueError("a button is listed twice")
            return tuple(value)

        combos.append(
            ComboConfig(
                buttons=s.require("buttons", members),
                action=s.require("action", _action),
                hold_time_s=s.get("hold_time_s", 1.5, seconds(0.2, 30)),
            )
        )
    return tuple(combos)


def _rotary(source: str, root: Section) -> RotaryConfig | None:
    if "rotary" not in root.table:
        return None
    s = Section(
        source,
        "rotary",
        subtable(root, "rotary"),
        {"pin_a", "pin_b", "clockwise", "counter_clockwise"},
    )
    rotary = RotaryConfig(
        pin_a=s.require("pin_a", _pin),
        pin_b=s.require("pin_b", _pin),
        clockwise=s.get("clockwise", Action.VOLUME_UP, _action),
        counter_clockwise=s.get("counter_clockwise", Action.VOLUME_DOWN, _action),
    )
    if rotary.pin_a == rotary.pin_b:
        raise s.fail("pin_b", f"must differ from pin_a ({rotary.pin_a})")
    return rotary


def _gpio(source: str, table: Mapping[str, Any]) -> GpioConfig:
    s = Section(source, "gpio", table, {"pin_factory", "chip"})

    def chip(value: Any) -> str:
        if value != "auto" and not (isinstance(value, str) and value.startswith("/dev/")):
            raise ValueError("expected 'auto' or a GPIO chip's path like '/dev/gpiochip0'")
        return str(value)

    return GpioConfig(
        pin_factory=s.get("pin_factory", "auto",
                          choice("auto", "gpiod", *GPIOZERO_PIN_FACTORIES)),
        chip=s.get("chip", "auto", chip),
    )  # fmt: skip


def _tenant(source: str, root: Section, base: Path) -> TenantConfig | None:
    if "tenant" not in root.table:
        return None
    s = Section(source, "tenant", subtable(root, "tenant"), set(TenantConfig.__dataclass_fields__))
    ca_file = s.get("ca_file", None, file_path)
    token = s.get("enrollment_token", None, text)
    return TenantConfig(
        url=s.require("url", tenant_url),
        verify_tls=s.get("verify_tls", True, boolean),
        ca_file=base / ca_file if ca_file else None,
        enrollment_token=token or None,
        sync_interval_s=s.get("sync_interval_s", 300.0, seconds(5, 86400)),
        cache_quota_mb=s.get("cache_quota_mb", 4096, int_in(16, 1_048_576)),
        request_timeout_s=s.get("request_timeout_s", 15.0, seconds(1, 300)),
        heartbeat_s=s.get("heartbeat_s", 60.0, seconds(5, 3600)),
    )


def _check_pins(source: str, config: KioskConfig) -> None:
    """Two devices on one pin would fight silently on real hardware: refuse it up front."""
    used: dict[int, str] = {}

    def claim(pin: int, key: str) -> None:
        if pin in used:
            raise ConfigError(source, key, f"GPIO{pin} is already used by {used[pin]}")
        used[pin] = key

    for i, b in enumerate(config.buttons):
        claim(b.pin, f"buttons[{i}].pin")
    if config.rotary:
        claim(config.rotary.pin_a, "rotary.pin_a")
        claim(config.rotary.pin_b, "rotary.pin_b")
    if config.display.driver in ("ssd1306", "sh1106") and config.display.interface == "spi":
        claim(config.display.gpio_dc, "display.gpio_dc")
        claim(config.display.gpio_reset, "display.gpio_reset")


SECTIONS = {
    "device", "audio", "visitor", "playback", "display", "buttons", "combos", "rotary", "tenant",
    "gpio",
}  # fmt: skip


def parse_config(document: Mapping[str, Any], source: str, base: Path = Path("/")) -> KioskConfig:
    """Validate a parsed TOML document; relative paths are taken from `base`."""
    root = Section(source, "", document, SECTIONS)
    buttons = _buttons(source, root)
    config = KioskConfig(
        source=source,
        device=_device(source, subtable(root, "device"), base),
        audio=_audio(source, subtable(root, "audio")),
        visitor=_visitor(source, subtable(root, "visitor")),
        playback=_playback(source, subtable(root, "playback")),
        display=_display(source, subtable(root, "display"), base),
        buttons=buttons,
        combos=_combos(source, root, buttons),
        rotary=_rotary(source, root),
        tenant=_tenant(source, root, base),
        gpio=_gpio(source, subtable(root, "gpio")),
    )
    _check_pins(source, config)
    return config


def load_config(path: Path) -> KioskConfig:
    """Read and validate the kiosk's TOML file; relative paths in it are relative to the file."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(source, "", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(source, "", f"cannot be read ({exc})") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, "", f"not valid TOML: {exc}") from None
    return parse_config(document, source, base=path.resolve().parent)
