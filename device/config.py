"""Kiosk configuration: one TOML file, validated entirely at start.

Every problem names the file, the key and what was expected, because the person reading it is
a technician in front of a kiosk, not the developer who wrote the schema. Layers (built-in
defaults < /etc/jukebox < the technician's boot-partition file < tenant settings) all go
through `load_config`, which takes them in order. A broken file reports all its problems at
once (`ConfigError.problems`), so a technician fixes it in one visit, not one error per boot.
Over 400 lines on purpose: it is the whole file's schema, one dataclass and one reader per
section side by side, which docs/jukebox.toml.schema.json mirrors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from contract.languages import DEFAULT_LANGUAGE, LANGUAGES, Language
from contract.toml_reader import (
    ConfigError,
    Problems,
    Section,
    boolean,
    choice,
    file_path,
    int_in,
    parse_toml,
    seconds,
    tenant_url,
    text,
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
    language: Language = DEFAULT_LANGUAGE  # of the screens


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


def _chip(value: Any) -> str:
    if value != "auto" and not (isinstance(value, str) and value.startswith("/dev/")):
        raise ValueError("expected 'auto' or a GPIO chip's path like '/dev/gpiochip0'")
    return str(value)


# Every key each section accepts: the reader refuses others, and the published schema
# (docs/jukebox.toml.schema.json) is checked against these by tests/config.
KEYS: dict[str, set[str]] = {
    "device": {"name", "tenant", "site", "state_dir", "content_dir"},
    "audio": set(AudioConfig.__dataclass_fields__),
    "visitor": set(VisitorConfig.__dataclass_fields__),
    "playback": set(PlaybackConfig.__dataclass_fields__),
    "display": set(DisplayConfig.__dataclass_fields__),
    "buttons": set(ButtonConfig.__dataclass_fields__),
    "combos": set(ComboConfig.__dataclass_fields__),
    "rotary": set(RotaryConfig.__dataclass_fields__),
    "tenant": set(TenantConfig.__dataclass_fields__),
    "gpio": set(GpioConfig.__dataclass_fields__),
}
SECTIONS = set(KEYS)


def _device(root: Section, base: Path) -> DeviceConfig:
    s = root.section("device", KEYS["device"])
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


def _audio(root: Section) -> AudioConfig:
    s = root.section("audio", KEYS["audio"])
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
    if not s.clean:
        return audio
    if audio.min_volume > audio.max_volume:
        s.fail("min_volume", f"must not exceed max_volume ({audio.max_volume})")
    elif not audio.min_volume <= audio.default_volume <= audio.max_volume:
        s.fail(
            "default_volume",
            f"expected a value between min_volume ({audio.min_volume}) and max_volume "
            f"({audio.max_volume}), got {audio.default_volume}",
        )
    return audio


def _visitor(root: Section) -> VisitorConfig:
    s = root.section("visitor", KEYS["visitor"])
    d = VisitorConfig()
    return VisitorConfig(
        idle_timeout_s=s.get("idle_timeout_s", d.idle_timeout_s, seconds(1, 86400)),
        volume_display_s=s.get("volume_display_s", d.volume_display_s, seconds(0.2, 30)),
    )


def _playback(root: Section) -> PlaybackConfig:
    s = root.section("playback", KEYS["playback"])
    d = PlaybackConfig()
    return PlaybackConfig(
        autoplay=s.get("autoplay", d.autoplay, boolean),
        at_playlist_end=s.get("at_playlist_end", d.at_playlist_end, choice("loop", "stop")),
        progress_checkpoint_s=s.get(
            "progress_checkpoint_s", d.progress_checkpoint_s, seconds(0.2, 60)
        ),
    )


def _display(root: Section, base: Path) -> DisplayConfig:
    s = root.section("display", KEYS["display"])
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
        language=s.get("language", d.language, choice(*LANGUAGES)),
    )
    emulated = display.driver == "emulated" and display.emulator != "window"
    if emulated and output is None and "emulator_output" not in s.table:
        s.fail("emulator_output", f"required when the {display.emulator} emulator is used")
    return display


def _buttons(root: Section) -> tuple[ButtonConfig, ...]:
    buttons: list[ButtonConfig] = []
    for i, table in enumerate(root.tables("buttons")):
        s = Section(root.problems, root.source, f"buttons[{i}]", table, KEYS["buttons"])
        name = s.require("name", text)
        pin = s.require("pin", _pin)
        press = s.get("press", None, _action)
        hold = s.get("hold", None, _action)
        hold_time_s = s.get("hold_time_s", 1.0, seconds(0.2, 30))
        pull_up = s.get("pull_up", True, boolean)
        bounce_ms = s.get("bounce_ms", 20, int_in(0, 500))
        if name is not None and not name.replace("_", "").replace("-", "").isalnum():
            s.fail("name", f"expected letters, digits, '-' or '_', got {name!r}")
        elif any(b.name == name for b in buttons):
            s.fail("name", f"'{name}' names two buttons")
        if s.clean and name is not None and pin is not None:
            buttons.append(ButtonConfig(name, pin, press, hold, hold_time_s, pull_up, bounce_ms))
    return tuple(buttons)


def _combos(root: Section, buttons: tuple[ButtonConfig, ...]) -> tuple[ComboConfig, ...]:
    names = {b.name for b in buttons}

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

    combos: list[ComboConfig] = []
    for i, table in enumerate(root.tables("combos")):
        s = Section(root.problems, root.source, f"combos[{i}]", table, KEYS["combos"])
        members_of = s.require("buttons", members)
        action = s.require("action", _action)
        hold_time_s = s.get("hold_time_s", 1.5, seconds(0.2, 30))
        if members_of is not None and action is not None:
            combos.append(ComboConfig(members_of, action, hold_time_s))
    return tuple(combos)


def _rotary(root: Section) -> RotaryConfig | None:
    if "rotary" not in root.table:
        return None
    s = root.section("rotary", KEYS["rotary"])
    pin_a = s.require("pin_a", _pin)
    pin_b = s.require("pin_b", _pin)
    clockwise = s.get("clockwise", Action.VOLUME_UP, _action)
    counter_clockwise = s.get("counter_clockwise", Action.VOLUME_DOWN, _action)
    if pin_a is None or pin_b is None:
        return None
    if pin_a == pin_b:
        s.fail("pin_b", f"must differ from pin_a ({pin_a})")
    return RotaryConfig(pin_a, pin_b, clockwise, counter_clockwise)


def _gpio(root: Section) -> GpioConfig:
    s = root.section("gpio", KEYS["gpio"])
    factories = choice("auto", "gpiod", *GPIOZERO_PIN_FACTORIES)
    return GpioConfig(
        pin_factory=s.get("pin_factory", "auto", factories), chip=s.get("chip", "auto", _chip)
    )


def _tenant(root: Section, base: Path) -> TenantConfig | None:
    if "tenant" not in root.table:
        return None
    s = root.section("tenant", KEYS["tenant"])
    url = s.require("url", tenant_url)
    ca_file = s.get("ca_file", None, file_path)
    token = s.get("enrollment_token", None, text)
    tenant = TenantConfig(
        url=url or "",
        verify_tls=s.get("verify_tls", True, boolean),
        ca_file=base / ca_file if ca_file else None,
        enrollment_token=token or None,
        sync_interval_s=s.get("sync_interval_s", 300.0, seconds(5, 86400)),
        cache_quota_mb=s.get("cache_quota_mb", 4096, int_in(16, 1_048_576)),
        request_timeout_s=s.get("request_timeout_s", 15.0, seconds(1, 300)),
        heartbeat_s=s.get("heartbeat_s", 60.0, seconds(5, 3600)),
    )
    return tenant if url is not None else None


def _check_pins(root: Section, config: KioskConfig) -> None:
    """Two devices on one pin would fight silently on real hardware: refuse it up front."""
    used: dict[int, str] = {}

    def claim(pin: int, key: str) -> None:
        if pin in used:
            root.problems.add(root.source, key, f"GPIO{pin} is already used by {used[pin]}")
        else:
            used[pin] = key

    for i, b in enumerate(config.buttons):
        claim(b.pin, f"buttons[{i}].pin")
    if config.rotary:
        claim(config.rotary.pin_a, "rotary.pin_a")
        claim(config.rotary.pin_b, "rotary.pin_b")
    if config.display.driver in ("ssd1306", "sh1106") and config.display.interface == "spi":
        claim(config.display.gpio_dc, "display.gpio_dc")
        claim(config.display.gpio_reset, "display.gpio_reset")


def parse_config(document: Mapping[str, Any], source: str, base: Path = Path("/")) -> KioskConfig:
    """Validate a parsed TOML document; relative paths are taken from `base`.

    Raises one ConfigError holding every problem found in the document.
    """
    problems = Problems()
    root = Section(problems, source, "", document, SECTIONS)
    buttons = _buttons(root)
    config = KioskConfig(
        source=source,
        device=_device(root, base),
        audio=_audio(root),
        visitor=_visitor(root),
        playback=_playback(root),
        display=_display(root, base),
        buttons=buttons,
        combos=_combos(root, buttons),
        rotary=_rotary(root),
        tenant=_tenant(root, base),
        gpio=_gpio(root),
    )
    if not problems.found:
        _check_pins(root, config)
    problems.check()
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
    document = parse_toml(text, source, ConfigError)
    return parse_config(document, source, base=path.resolve().parent)
