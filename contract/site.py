"""The technician's site configuration: which tenant, which site, which name, which Wi-Fi.

It arrives in layers (a `site.toml` file, command-line options, a row of a devices.csv) that
are merged key by key, the later layer winning, then validated as a whole. Every problem names
where the value came from, the key and what was expected, like the kiosk's own configuration
(`device.config`), and all the problems of the merged result are reported at once. A secret
(`wifi.psk`, `tenant.enrollment_token`) is never repeated in a message: messages end up on
kiosk screens, in logs and in support tickets.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from string import hexdigits
from typing import Any, TypeVar

from contract.countries import COMMON_MISTAKES, COUNTRY_CODES
from contract.toml_reader import ConfigError, Problems, Section, tenant_url
from contract.toml_reader import parse_toml as _parse_toml

TENANT_URL = "tenant.url"
ENROLLMENT_TOKEN = "tenant.enrollment_token"
DEVICE_NAME = "device.name"
SITE = "device.site"
WIFI_SSID = "wifi.ssid"
WIFI_PSK = "wifi.psk"
WIFI_COUNTRY = "wifi.country"

KEYS = (TENANT_URL, ENROLLMENT_TOKEN, DEVICE_NAME, SITE, WIFI_SSID, WIFI_PSK, WIFI_COUNTRY)
SECRET_KEYS = frozenset({ENROLLMENT_TOKEN, WIFI_PSK})
_VERBATIM = frozenset({WIFI_SSID, WIFI_PSK})  # spaces count in these; the rest are stripped
_TABLES = {
    "tenant": {"url", "enrollment_token"},
    "device": {"name", "site"},
    "wifi": {"ssid", "psk", "country"},
}

NAME_MAX = 300  # the tenant's limit for device names and sites
TOKEN_MAX = 512  # the tenant's limit for enrollment tokens

T = TypeVar("T")


class SiteConfigError(ConfigError):
    """A site configuration problem: `source: key: expectation`, phrased for the technician."""


@dataclass(frozen=True)
class WifiConfig:
    ssid: str
    country: str
    psk: str | None = field(default=None, repr=False)
    """8 to 63 characters, or 64 lowercase hex digits (a raw key); None once on the device."""


@dataclass(frozen=True)
class SiteConfig:
    tenant_url: str
    device_name: str
    site: str
    enrollment_token: str | None = field(default=None, repr=False)
    wifi: WifiConfig | None = None

    @property
    def secret_keys(self) -> tuple[str, ...]:
        """The secrets this configuration still holds, by key."""
        keys = [ENROLLMENT_TOKEN] if self.enrollment_token else []
        if self.wifi and self.wifi.psk:
            keys.append(WIFI_PSK)
        return tuple(keys)

    def without_secrets(self) -> SiteConfig:
        wifi = replace(self.wifi, psk=None) if self.wifi else None
        return replace(self, enrollment_token=None, wifi=wifi)


@dataclass(frozen=True)
class Layer:
    """Some of the keys, and where they came from: a file, a CSV row, the command line.

    `labels` renames keys in messages (`wifi.psk` given as `--wifi-psk`). Keys missing from
    the merged result are blamed on the last layer that is not `options`: the file or the row
    the technician must complete, not the command line that merely added to it.
    """

    source: str
    values: Mapping[str, object]
    labels: Mapping[str, str] = field(default_factory=dict)
    options: bool = False

    def fail(self, key: str, problem: str) -> SiteConfigError:
        return SiteConfigError(self.source, self.labels.get(key, key), problem)


# --------------------------------------------------------------------------- values


def _has_control(text: str) -> bool:
    return any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in text)


def _text(what: str) -> Callable[[object], str]:
    def check(value: object) -> str:
        if not isinstance(value, str):
            raise ValueError(f"expected {what} (a string in quotes), got {value!r}")
        text = value.strip()
        if len(text) > NAME_MAX:
            raise ValueError(f"expected {what} of at most {NAME_MAX} characters, got {len(text)}")
        if _has_control(text):
            raise ValueError(f"expected {what} without line breaks or control characters")
        return text

    return check


def _url(value: object) -> str:
    try:
        return tenant_url(value.strip() if isinstance(value, str) else value)
    except ValueError as exc:
        raise ValueError(f"{exc}, got {value!r}") from None


def _token(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("expected the token the tenant gave, as a string in quotes")
    token = value.strip()
    if len(token) > TOKEN_MAX:
        raise ValueError(f"expected at most {TOKEN_MAX} characters, got {len(token)}")
    if not all("!" <= c <= "~" for c in token):
        raise ValueError("expected printable ASCII characters without spaces, as the tenant gives")
    return token


def _ssid(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected the Wi-Fi network name as a string in quotes, got {value!r}")
    size = len(value.encode("utf-8"))
    if size > 32:
        raise ValueError(f"expected a network name of 1 to 32 bytes, got {size} bytes: {value!r}")
    if _has_control(value):
        raise ValueError(f"expected a network name without control characters, got {value!r}")
    return value


def _psk(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("expected the Wi-Fi passphrase as a string in quotes")
    if len(value) == 64 and all(c in hexdigits for c in value):
        return value.lower()  # a raw 256-bit key, as wpa_passphrase prints it
    if not 8 <= len(value) <= 63:
        also = ", not all hex digits" if len(value) == 64 else ""
        raise ValueError(
            f"expected 8 to 63 characters, or 64 hex digits, got {len(value)} characters{also}"
        )
    if not all(" " <= c <= "~" for c in value):
        raise ValueError("expected printable ASCII characters only (no accents), as WPA2 requires")
    return value


def _country(value: object) -> str:
    code = value.strip().upper() if isinstance(value, str) else ""
    if code in COMMON_MISTAKES:
        hint = COMMON_MISTAKES[code]
        raise ValueError(f"'{value}' is not an ISO 3166 code, did you mean '{hint}'?")
    if code not in COUNTRY_CODES:
        raise ValueError(f"expected a two-letter ISO 3166 country code like 'FR', got {value!r}")
    return code


# --------------------------------------------------------------------------- merging


def _given(key: str, value: object) -> bool:
    """An empty cell or an empty string means "not given", so templates can leave blanks."""
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value if key in _VERBATIM else value.strip())
    return True


def site_config_from_layers(
    layers: Sequence[Layer], *, allow_moved_psk: bool = False
) -> SiteConfig:
    """Merge and validate. `allow_moved_psk`: a [wifi] without its psk is fine (first boot
    moved it to the device); otherwise a network without its passphrase is refused."""
    if not layers:
        raise ValueError("no layers to merge")
    merged: dict[str, tuple[object, Layer]] = {}
    for layer in layers:
        given = {k: v for k, v in layer.values.items() if _given(k, v)}
        if WIFI_SSID in given:  # another network: an earlier layer's passphrase is not its own
            merged.pop(WIFI_PSK, None)
        merged.update((k, (v, layer)) for k, v in given.items())
    primary = next((la for la in reversed(layers) if not la.options), layers[-1])
    problems = Problems(SiteConfigError)

    def fail(layer: Layer, key: str, problem: str) -> None:
        problems.add(layer.source, layer.labels.get(key, key), problem)

    def optional(key: str, check: Callable[[object], T]) -> T | None:
        if key not in merged:
            return None
        value, layer = merged[key]
        try:
            return check(value)
        except ValueError as exc:
            fail(layer, key, str(exc))
            return None

    def required(key: str, check: Callable[[object], T]) -> T | None:
        if key not in merged:
            fail(primary, key, "missing, this key is required")
        return optional(key, check)

    tenant_url = required(TENANT_URL, _url)
    device_name = required(DEVICE_NAME, _text("a name"))
    site = required(SITE, _text("a site name"))
    token = optional(ENROLLMENT_TOKEN, _token)
    ssid = optional(WIFI_SSID, _ssid)
    psk = optional(WIFI_PSK, _psk)
    country = optional(WIFI_COUNTRY, _country)
    wifi = None
    if WIFI_SSID not in merged:
        if WIFI_PSK in merged:
            fail(merged[WIFI_PSK][1], WIFI_SSID, f"missing, required with {WIFI_PSK}")
    else:
        ssid_layer = merged[WIFI_SSID][1]
        if WIFI_COUNTRY not in merged:
            fail(
                ssid_layer,
                WIFI_COUNTRY,
                f"missing, required with {WIFI_SSID}: the two-letter code of the kiosk's "
                "country, like 'FR' (it sets the radio's legal channels)",
            )
        if WIFI_PSK not in merged and not allow_moved_psk:
            fail(ssid_layer, WIFI_PSK, f"missing, the Wi-Fi network {ssid!r} needs it")
        if ssid is not None and country is not None:
            wifi = WifiConfig(ssid=ssid, country=country, psk=psk)
    problems.check()
    assert tenant_url is not None and device_name is not None and site is not None
    return SiteConfig(tenant_url, device_name, site, token, wifi)


# --------------------------------------------------------------------------- site.toml


def toml_layer(document: Mapping[str, Any], source: str) -> Layer:
    """The keys of a parsed site.toml; unknown tables and keys are refused with a hint."""
    problems = Problems(SiteConfigError)
    root = Section(problems, source, "", document, set(_TABLES))
    values: dict[str, object] = {}
    for name, allowed in _TABLES.items():
        table = root.section(name, allowed)
        values.update((f"{name}.{key}", value) for key, value in table.table.items())
    problems.check()
    return Layer(source, values)


def parse_toml(text: str, source: str) -> Mapping[str, Any]:
    return _parse_toml(text, source, SiteConfigError)


def parse_site_config(text: str, source: str, *, allow_moved_psk: bool = False) -> SiteConfig:
    """Validate the text of a site.toml; `source` names it in errors."""
    return site_config_from_layers(
        [toml_layer(parse_toml(text, source), source)], allow_moved_psk=allow_moved_psk
    )


def read_text(path: Path, source: str | None = None) -> str:
    """A site file's text, or a SiteConfigError saying why it cannot be had."""
    source = source or str(path)
    try:  # Windows editors may start the file with a byte-order mark; TOML does not allow one
        return path.read_text(encoding="utf-8").removeprefix("\ufeff")
    except FileNotFoundError:
        raise SiteConfigError(source, "", "file not found") from None
    except UnicodeDecodeError:
        raise SiteConfigError(source, "", "not UTF-8 text; save it as UTF-8") from None
    except OSError as exc:
        raise SiteConfigError(source, "", f"cannot be read ({exc.strerror})") from None


def load_site_config(path: Path, *, allow_moved_psk: bool = False) -> SiteConfig:
    return parse_site_config(read_text(path), str(path), allow_moved_psk=allow_moved_psk)


def toml_string(text: str) -> str:
    """A TOML basic string (tomllib reads, nobody writes: this is the small part we need)."""
    out = ['"']
    for c in text:
        if c in '"\\':
            out.append("\\" + c)
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def render_site_toml(config: SiteConfig, comments: Sequence[str] = ()) -> str:
    """The configuration as a site.toml, secrets included when it holds them."""
    lines = [f"# {line}" for c in comments for line in textwrap.wrap(c, 88) or [""]]
    lines += ["", "[tenant]", f"url = {toml_string(config.tenant_url)}"]
    if config.enrollment_token:
        lines.append(f"enrollment_token = {toml_string(config.enrollment_token)}")
    lines += ["", "[device]", f"name = {toml_string(config.device_name)}"]
    lines.append(f"site = {toml_string(config.site)}")
    if config.wifi:
        lines += ["", "[wifi]", f"ssid = {toml_string(config.wifi.ssid)}"]
        if config.wifi.psk:
            lines.append(f"psk = {toml_string(config.wifi.psk)}")
        lines.append(f"country = {toml_string(config.wifi.country)}")
    return "\n".join(lines).lstrip("\n") + "\n"


def describe(config: SiteConfig) -> list[tuple[str, str]]:
    """What a kiosk would do with this configuration, as (fact, value) pairs: no secret."""
    if config.wifi is None:
        wifi = "not set (wired network)"
    else:
        held = "passphrase set" if config.wifi.psk else "passphrase already on the device"
        wifi = f"network {config.wifi.ssid!r}, country {config.wifi.country}, {held}"
    token = "present (one-time)" if config.enrollment_token else "none"
    return [
        ("tenant", config.tenant_url),
        ("site", config.site),
        ("device name", config.device_name),
        ("Wi-Fi", wifi),
        ("enrollment token", token),
    ]


def stamp(now: datetime | None = None) -> str:
    """When a site file was written or applied, for the comment at its top."""
    return (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
