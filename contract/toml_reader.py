"""One reader for the project's TOML files (jukebox.toml, playlists.toml, site.toml).

Every problem names the file, the key and what was expected, because the person reading it is
a technician in front of a kiosk, not the developer who wrote the schema.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(Exception):
    """A configuration problem, already phrased for the technician."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        self.source = source
        self.key = key
        self.problem = problem
        super().__init__(f"{source}: {key}: {problem}" if key else f"{source}: {problem}")


class Section:
    """Typed access to one table of the TOML document, remembering where it came from."""

    def __init__(self, source: str, prefix: str, table: Mapping[str, Any], allowed: set[str]):
        self.source = source
        self.prefix = prefix
        self.table = table
        unknown = sorted(set(table) - allowed)
        if unknown:
            key = unknown[0]
            hint = difflib.get_close_matches(key, allowed, n=1)
            expected = f"did you mean '{hint[0]}'?" if hint else "expected one of: "
            if not hint:
                expected += ", ".join(sorted(allowed))
            raise ConfigError(source, self.key(key), f"unknown key, {expected}")

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def fail(self, name: str, problem: str) -> ConfigError:
        return ConfigError(self.source, self.key(name), problem)

    def get(self, name: str, default: T, check: Callable[[Any], T]) -> T:
        if name not in self.table:
            return default
        return check_value(self, name, self.table[name], check)

    def require(self, name: str, check: Callable[[Any], T]) -> T:
        if name not in self.table:
            raise self.fail(name, "missing, this key is required")
        return check_value(self, name, self.table[name], check)


def check_value(section: Section, name: str, value: Any, check: Callable[[Any], T]) -> T:
    try:
        return check(value)
    except ValueError as exc:
        raise section.fail(name, f"{exc}, got {value!r}") from None


def text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a string")
    return value


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("expected true or false")
    return value


def int_in(lo: int, hi: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise ValueError(f"expected a whole number from {lo} to {hi}")
        return value

    return check


def seconds(lo: float, hi: float) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
            raise ValueError(f"expected a number of seconds from {lo:g} to {hi:g}")
        return float(value)

    return check


def choice(*options: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if value not in options:
            raise ValueError("expected one of " + ", ".join(f"'{o}'" for o in options))
        return value

    return check


def file_path(value: Any) -> Path:
    if not isinstance(value, str) or not value:
        raise ValueError("expected a path")
    return Path(value)


def table(section: Section, name: str) -> Mapping[str, Any]:
    value = section.table.get(name, {})
    if not isinstance(value, dict):
        raise section.fail(name, f"expected a table [{name}], got {value!r}")
    return value


def tenant_url(value: Any) -> str:
    from urllib.parse import urlsplit

    if not isinstance(value, str):
        raise ValueError("expected the tenant's base URL, like 'https://tenant.example/t/slug'")
    parts = urlsplit(value)
    segments = [p for p in parts.path.split("/") if p]
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or len(segments) != 2
        or segments[0] != "t"
        or parts.query
        or parts.fragment
    ):
        raise ValueError("expected the tenant's base URL, like 'https://tenant.example/t/slug'")
    return value.rstrip("/")
