"""Kiosk configuration: one TOML file, validated entirely at start.

Every problem names the file, the key and what was expected, because the person reading it is
a technician in front of a kiosk, not the developer who wrote the schema. Layers (built-in
defaults < /etc/jukebox < the technician's boot-partition file < tenant settings) all go
through `load_config`, which takes them in order. A broken file reports all its problems at
once (`ConfigError.problems`), so a technician fixes it in one visit, not one error per boot.
The sections a site may also set in a kiosk.toml (display, buttons, combos, rotary, audio,
playback, visitor) are read by contract/kiosk_settings.py, shared with provisioning; the
device, tenant and gpio sections are read here. docs/jukebox.toml.schema.json mirrors both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from contract.kiosk_settings import KIOSK_KEYS, check_pins, merge_documents, read_kiosk_sections

# The kiosk sections' types, where the kiosk has always found them.
from contract.kiosk_settings import AudioConfig as AudioConfig
from contract.kiosk_settings import ButtonConfig as ButtonConfig
from contract.kiosk_settings import ComboConfig as ComboConfig
from contract.kiosk_settings import DisplayConfig as DisplayConfig
from contract.kiosk_settings import PlaybackConfig as PlaybackConfig
from contract.kiosk_settings import RotaryConfig as RotaryConfig
from contract.kiosk_settings import VisitorConfig as VisitorConfig
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

DEFAULT_CONFIG_PATH = Path("/etc/jukebox/jukebox.toml")
# gpiozero's own pin factories, by their entry-point names; "gpiod" is the kiosk's
# (device/buttons/gpiod_pins.py) and "auto" means GPIOZERO_PIN_FACTORY, else gpiod.
GPIOZERO_PIN_FACTORIES = ("lgpio", "rpigpio", "pigpio", "native", "mock")


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
    # The document below the kiosk.toml layer (/etc's), and the folder its relative paths are
    # taken from, so a kiosk.toml can be laid over it, or laid again, and the whole read again.
    document: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    base: Path = field(default=Path("/"), compare=False, repr=False)


# --------------------------------------------------------------------------- reading


def _chip(value: Any) -> str:
    if value != "auto" and not (isinstance(value, str) and value.startswith("/dev/")):
        raise ValueError("expected 'auto' or a GPIO chip's path like '/dev/gpiochip0'")
    return str(value)


# Every key each section accepts: the reader refuses others, and the published schema
# (docs/jukebox.toml.schema.json) is checked against these by tests/config.
KEYS: dict[str, set[str]] = {
    "device": {"name", "tenant", "site", "state_dir", "content_dir"},
    **KIOSK_KEYS,
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


def parse_config(document: Mapping[str, Any], source: str, base: Path = Path("/")) -> KioskConfig:
    """Validate a parsed TOML document; relative paths are taken from `base`.

    Raises one ConfigError holding every problem found in the document.
    """
    problems = Problems()
    root = Section(problems, source, "", document, SECTIONS)
    kiosk = read_kiosk_sections(root, base)
    config = KioskConfig(
        source=source,
        device=_device(root, base),
        audio=kiosk.audio,
        visitor=kiosk.visitor,
        playback=kiosk.playback,
        display=kiosk.display,
        buttons=kiosk.buttons,
        combos=kiosk.combos,
        rotary=kiosk.rotary,
        tenant=_tenant(root, base),
        gpio=_gpio(root),
        document=dict(document),
        base=base,
    )
    if not problems.found:
        check_pins(root, kiosk)
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


def layer_kiosk_settings(
    config: KioskConfig, document: Mapping[str, Any], source: str
) -> KioskConfig:
    """`config` with a kiosk.toml's sections laid over it (contract.kiosk_settings has the
    rules), read again as a whole: a value only wrong with the layers together (a minimum
    volume above the maximum of the other file) is named in both files."""
    merged = merge_documents(config.document, document)
    layered = parse_config(merged, f"{config.source} < {source}", config.base)
    # Still the document below: laying a newer kiosk.toml later starts again from /etc.
    return replace(layered, document=config.document)


# What only the adapters read when the kiosk starts (pins, panel, sound backend): a change to
# these from a technician stick is kept, and takes effect at the next start.
_AT_START = {
    "display": (
        "driver", "interface", "i2c_port", "i2c_address", "spi_port", "spi_device", "gpio_dc",
        "gpio_reset", "rotation", "contrast", "dim_contrast", "emulator", "emulator_output",
        "emulator_fps",
    ),
    "audio": ("backend", "output"),
}  # fmt: skip


def restart_needed(old: KioskConfig, new: KioskConfig) -> list[str]:
    """The changed settings that take effect only at the next start, as `section.key`."""
    changed = [
        f"{section}.{key}"
        for section, keys in _AT_START.items()
        for key in keys
        if getattr(getattr(old, section), key) != getattr(getattr(new, section), key)
    ]

    def wiring(config: KioskConfig) -> object:
        return [(b.name, b.pin, b.pull_up, b.bounce_ms) for b in config.buttons]

    if wiring(old) != wiring(new):
        changed.append("buttons (pins)")
    pins = [(c.pin_a, c.pin_b) if c else None for c in (old.rotary, new.rotary)]
    if pins[0] != pins[1]:
        changed.append("rotary (pins)")
    return changed
