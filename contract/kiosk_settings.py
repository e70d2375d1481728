"""The kiosk settings a technician may set per site: display, buttons, rotary, audio, playback
and visitor sections, shared by /etc/jukebox/jukebox.toml and the `kiosk.toml` that sits
beside `site.toml` on a card's boot partition or on a technician stick.

Here in the contract because three readers must agree on them: the kiosk's configuration
(device/config.py, which adds the device, tenant and gpio sections), the kiosk's first boot
and stick helper (which copy a card's or stick's kiosk.toml into the state directory), and
`jukebox provision image` / `provision inspect`, which refuse a card whose kiosk.toml the
kiosk would refuse. One reader (contract/toml_reader.py), so a problem reads the same
everywhere: `file: key: problem`, all of a file's problems at once.

Layers (docs/configuration.md): /etc/jukebox/jukebox.toml < the card's or stick's kiosk.toml
< the tenant's desired state. `merge_documents` lays a kiosk.toml over jukebox.toml: tables
key by key, the arrays of tables (`buttons`, `combos`) replaced as a whole.
Over 400 lines on purpose: the schema of six sections, one dataclass and one reader each,
side by side (moved here whole from device/config.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
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
    text,
)

KIOSK_FILE = "kiosk.toml"
BCM_PINS = range(0, 28)


class Action(StrEnum):
    """What a button, a hold or a combination can be bound to."""

    PLAY_PAUSE = "play_pause"
    NEXT = "next"
    PREVIOUS = "previous"
    NEXT_PLAYLIST = "next_playlist"
    VOLUME_UP = "volume_up"
    VOLUME_DOWN = "volume_down"
    TECHNICIAN = "technician"


DisplayDriver = Literal["ssd1306", "sh1106", "emulated", "none"]
DisplayInterface = Literal["i2c", "spi"]
EmulatorKind = Literal["gif", "png", "window"]
ReplayGainMode = Literal["track", "album", "no"]
PlaylistEnd = Literal["loop", "stop"]


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


# Every key each section accepts: the readers refuse others, and the published schema
# (docs/jukebox.toml.schema.json) is checked against these by tests/config.
KIOSK_KEYS: dict[str, set[str]] = {
    "audio": set(AudioConfig.__dataclass_fields__),
    "visitor": set(VisitorConfig.__dataclass_fields__),
    "playback": set(PlaybackConfig.__dataclass_fields__),
    "display": set(DisplayConfig.__dataclass_fields__),
    "buttons": set(ButtonConfig.__dataclass_fields__),
    "combos": set(ComboConfig.__dataclass_fields__),
    "rotary": set(RotaryConfig.__dataclass_fields__),
}
KIOSK_SECTIONS = frozenset(KIOSK_KEYS)
REPLACED_WHOLE = frozenset({"buttons", "combos"})  # arrays of tables: a layer gives them all


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


def read_audio(root: Section) -> AudioConfig:
    s = root.section("audio", KIOSK_KEYS["audio"])
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


def read_visitor(root: Section) -> VisitorConfig:
    s = root.section("visitor", KIOSK_KEYS["visitor"])
    d = VisitorConfig()
    return VisitorConfig(
        idle_timeout_s=s.get("idle_timeout_s", d.idle_timeout_s, seconds(1, 86400)),
        volume_display_s=s.get("volume_display_s", d.volume_display_s, seconds(0.2, 30)),
    )


def read_playback(root: Section) -> PlaybackConfig:
    s = root.section("playback", KIOSK_KEYS["playback"])
    d = PlaybackConfig()
    return PlaybackConfig(
        autoplay=s.get("autoplay", d.autoplay, boolean),
        at_playlist_end=s.get("at_playlist_end", d.at_playlist_end, choice("loop", "stop")),
        progress_checkpoint_s=s.get(
            "progress_checkpoint_s", d.progress_checkpoint_s, seconds(0.2, 60)
        ),
    )


def read_display(root: Section, base: Path) -> DisplayConfig:
    s = root.section("display", KIOSK_KEYS["display"])
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


def read_buttons(root: Section) -> tuple[ButtonConfig, ...]:
    buttons: list[ButtonConfig] = []
    for i, table in enumerate(root.tables("buttons")):
        s = Section(root.problems, root.source, f"buttons[{i}]", table, KIOSK_KEYS["buttons"])
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


def read_combos(root: Section, buttons: tuple[ButtonConfig, ...]) -> tuple[ComboConfig, ...]:
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
        s = Section(root.problems, root.source, f"combos[{i}]", table, KIOSK_KEYS["combos"])
        members_of = s.require("buttons", members)
        action = s.require("action", _action)
        hold_time_s = s.get("hold_time_s", 1.5, seconds(0.2, 30))
        if members_of is not None and action is not None:
            combos.append(ComboConfig(members_of, action, hold_time_s))
    return tuple(combos)


def read_rotary(root: Section) -> RotaryConfig | None:
    if "rotary" not in root.table:
        return None
    s = root.section("rotary", KIOSK_KEYS["rotary"])
    pin_a = s.require("pin_a", _pin)
    pin_b = s.require("pin_b", _pin)
    clockwise = s.get("clockwise", Action.VOLUME_UP, _action)
    counter_clockwise = s.get("counter_clockwise", Action.VOLUME_DOWN, _action)
    if pin_a is None or pin_b is None:
        return None
    if pin_a == pin_b:
        s.fail("pin_b", f"must differ from pin_a ({pin_a})")
    return RotaryConfig(pin_a, pin_b, clockwise, counter_clockwise)


def check_pins(root: Section, config: KioskSettings) -> None:
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


@dataclass(frozen=True)
class KioskSettings:
    """A kiosk.toml's sections, read with the defaults for what it leaves out."""

    audio: AudioConfig
    visitor: VisitorConfig
    playback: PlaybackConfig
    display: DisplayConfig
    buttons: tuple[ButtonConfig, ...]
    combos: tuple[ComboConfig, ...]
    rotary: RotaryConfig | None


def read_kiosk_sections(root: Section, base: Path) -> KioskSettings:
    """Read the kiosk sections of `root`'s document, recording problems in `root.problems`."""
    buttons = read_buttons(root)
    return KioskSettings(
        audio=read_audio(root),
        visitor=read_visitor(root),
        playback=read_playback(root),
        display=read_display(root, base),
        buttons=buttons,
        combos=read_combos(root, buttons),
        rotary=read_rotary(root),
    )


def parse_kiosk_settings(
    document: Mapping[str, Any], source: str, base: Path = Path("/")
) -> KioskSettings:
    """Validate a kiosk.toml document alone (only the kiosk sections are allowed in it).

    Raises one ConfigError holding every problem, each naming `source` and the key.
    """
    problems = Problems()
    root = Section(problems, source, "", document, set(KIOSK_SECTIONS))
    settings = read_kiosk_sections(root, base)
    if not problems.found:
        check_pins(root, settings)
    problems.check()
    return settings


def parse_kiosk_text(
    text: str, source: str, error: type[ConfigError] = ConfigError
) -> tuple[dict[str, Any], KioskSettings]:
    """A kiosk.toml's text read and validated: its document and its settings, or one `error`
    holding every problem (the same checks wherever the file is read: a technician's
    computer, first boot, a stick)."""
    document = dict(parse_toml(text.removeprefix("\ufeff"), source, error))
    try:
        return document, parse_kiosk_settings(document, source)
    except ConfigError as exc:
        if isinstance(exc, error):
            raise
        raise error.of(exc.problems) from None


def describe_kiosk_document(document: Mapping[str, Any]) -> list[str]:
    """What a kiosk.toml sets, one line per section, for a technician's screen or terminal."""
    lines = []
    for name in sorted(document):
        value = document[name]
        if isinstance(value, list):
            lines.append(f"{name}: {len(value)} defined")
        elif isinstance(value, dict):
            given = ", ".join(f"{key} = {value[key]!r}" for key in sorted(value))
            lines.append(f"{name}: {given or 'defaults'}")
    return lines


def read_document(path: Path, error: type[ConfigError] = ConfigError) -> dict[str, Any]:
    """A TOML file's document; every way it cannot be read is one `error` naming the file."""
    source = str(path)
    try:
        content = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(source, "", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(source, "", f"cannot be read ({exc})") from None
    return dict(parse_toml(content, source, error))


def load_kiosk_settings(path: Path) -> tuple[dict[str, Any], KioskSettings]:
    """Read and validate a kiosk.toml: its document (for layering) and its settings."""
    document = read_document(path)
    return document, parse_kiosk_settings(document, str(path), path.resolve().parent)


def merge_documents(lower: Mapping[str, Any], upper: Mapping[str, Any]) -> dict[str, Any]:
    """`upper` laid over `lower`: tables key by key, arrays of tables and values replaced."""
    merged = dict(lower)
    for name, value in upper.items():
        below = merged.get(name)
        if name not in REPLACED_WHOLE and isinstance(value, dict) and isinstance(below, dict):
            merged[name] = {**below, **value}
        else:
            merged[name] = value
    return merged
